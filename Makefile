# Two commands: `make run` (set up, migrate, load demo data, then serve on http://127.0.0.1:5000
# with the delivery worker, two audit log witnesses (the police's and the council's, on 5101 and
# 5102) and a development mail catcher on http://127.0.0.1:1080) and
# `make test` (set up, lint with ruff, run every test, then check the branch coverage of the service
# and permission modules). Both are idempotent; the second run only
# re-does what changed. `make run PORT=5050` serves elsewhere, and the e-mails' links follow
# (HUB_BASE_URL).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ASSETS := hub/static/build
PORT ?= 5000
MAIL_SMTP_PORT ?= 1025
MAIL_HTTP_PORT ?= 1080
HUB_BASE_URL ?= http://127.0.0.1:$(PORT)
WITNESS_POLICE_PORT ?= 5101
WITNESS_COUNCIL_PORT ?= 5102
WITNESS_DIRS := instance/witness-police instance/witness-council

.PHONY: run test lint security setup dev assets migrate demo witnesses bench proof proof-mutation proof-audit proof-permissions clean

setup: $(VENV)/.installed $(ASSETS)/.built

$(VENV)/.installed: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

# The `dev` extra (honcho, the mail catcher's aiosmtpd): for `make run` only.
$(VENV)/.dev-installed: $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[test,dev]"
	touch $@

dev: $(VENV)/.dev-installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# GOV.UK Frontend from the npm registry, compiled with the system font stack; never committed.
$(ASSETS)/.built: node_modules/.installed hub/static/src/hub.scss
	mkdir -p $(ASSETS)
	rm -rf $(ASSETS)/assets
	cp -R node_modules/govuk-frontend/dist/govuk/assets $(ASSETS)/assets
	cp node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.js $(ASSETS)/
	node_modules/.bin/sass --no-source-map --style=compressed --load-path=node_modules --quiet-deps \
		hub/static/src/hub.scss $(ASSETS)/hub.css
	touch $@

assets: $(ASSETS)/.built

migrate: setup
	$(BIN)/flask --app hub db upgrade

demo: migrate
	HUB_BASE_URL=$(HUB_BASE_URL) $(BIN)/flask --app hub demo-data

# Two partners' witnesses of the audit log for the demo, each with its own Ed25519 key and SQLite
# storage under instance/ (made once, never committed). Delete them with instance/hub.sqlite3:
# a witness rightly refuses a log that starts again from nothing.
witnesses: setup
	$(BIN)/python -m hub.witness init --dir instance/witness-police --name police.example.test/witness >/dev/null
	$(BIN)/python -m hub.witness init --dir instance/witness-council --name council.example.test/witness >/dev/null

# The Procfile's web server, delivery worker, the two witnesses and the mail catcher, run by
# honcho; the worker sends to the catcher, never to a real server. The hub submits each
# checkpoint to both witnesses and counts it published when both cosigned (quorum 2).
run: demo dev witnesses
	@echo "Serving the hub at $(HUB_BASE_URL) and its e-mails at http://127.0.0.1:$(MAIL_HTTP_PORT)" \
		"(Ctrl+C stops them all). Demo sign-ins are listed above."
	PORT=$(PORT) HUB_BASE_URL=$(HUB_BASE_URL) MAIL_SMTP_PORT=$(MAIL_SMTP_PORT) MAIL_HTTP_PORT=$(MAIL_HTTP_PORT) \
		WITNESS_POLICE_PORT=$(WITNESS_POLICE_PORT) WITNESS_COUNCIL_PORT=$(WITNESS_COUNCIL_PORT) \
		AUDIT_LOG_VKEY="$$($(BIN)/flask --app hub audit verifier-key)" \
		HUB_AUDIT_WITNESSES="http://127.0.0.1:$(WITNESS_POLICE_PORT) $$($(BIN)/python -m hub.witness vkey --dir instance/witness-police),http://127.0.0.1:$(WITNESS_COUNCIL_PORT) $$($(BIN)/python -m hub.witness vkey --dir instance/witness-council)" \
		HUB_AUDIT_WITNESS_QUORUM=2 \
		$(BIN)/honcho start -f Procfile

# Ruff over the Python code ([tool.ruff.lint] in pyproject.toml: the rules, and why each exception is
# allowed). `make test` runs it first; it checks, never rewrites.
LINT_PATHS := hub tests bench tools proof

lint: $(VENV)/.installed
	$(BIN)/ruff check $(LINT_PATHS)

# Static security checks (also in `make test`: tests/test_static_checks.py; and in .ci/run): bandit
# over the hub's code, every finding fixed or justified inline (`# nosec <id>` beside a comment
# saying why), then pip-audit against the registry's advisory data, which says plainly when the
# registry here cannot answer rather than passing.
security: $(VENV)/.installed
	$(BIN)/bandit -q -r hub
	$(BIN)/python -m tools.dependency_audit

# `make test` runs the suite in parallel on every core with pytest-xdist (XDIST); each worker has
# its own template and per-test databases, browser and loopback servers. For one file without
# the workers' start-up, add -n0: `make test PYTEST_ARGS="tests/test_auth.py -n0"` (or XDIST=).
XDIST ?= -n auto --dist worksteal
# Branch coverage (pytest-cov, coverage's C tracer, combined over the workers into .coverage), then
# tools/coverage_gate.py prints each service and permission module's figure and fails the run on
# one under 95% (or a known gap under its floor). The gate judges a whole run only: with
# PYTEST_ARGS it is left out. Off by default, so that `make test` stays within 15 minutes on 2
# cores (the tracer costs the tests' own Python about half as much again: bench/README.md);
# `.ci/run` turns it on: `make test COVERAGE="--cov --cov-report="` measures and gates.
COVERAGE ?=

test: setup lint
	$(BIN)/python -m pytest $(XDIST) --durations=15 $(COVERAGE) $(PYTEST_ARGS)
	$(if $(and $(COVERAGE),$(if $(PYTEST_ARGS),,whole)),$(BIN)/python -m tools.coverage_gate)

bench: setup
	$(BIN)/python -m bench

# The long runs (proof/README.md). `make proof`: every fault of issue 24 injected under load on a
# PostgreSQL cluster of the proof's own (PROOF_PHASE seconds of load each, at least), then the
# soak (PROOF_SOAK seconds: the load with an import and the faults interleaved, memory sampled),
# then a point-in-time recovery from a WAL archive on a second cluster (proof/pitr.py, about 2 min);
# one table, and a non-zero exit on any failed check. `.ci/run` runs it with a shorter soak.
PROOF_PHASE ?= 45
PROOF_SOAK ?= 600

proof: setup
	$(BIN)/python -m proof.faults --phase $(PROOF_PHASE) --soak $(PROOF_SOAK)

# Mutation testing (mutmut, the `proof` extra, tools/mutation.py): every surviving mutant must be
# an equivalent one, listed with its reason in bench/README.md. Hours on two cores: outside CI.
# `make proof-mutation` runs both targets.
proof-audit: setup
	$(BIN)/pip install --quiet -e ".[test,proof]"
	$(BIN)/python -m tools.mutation audit

# The access rules (hub/permissions/) against tests/permissions and the holes found from outside.
proof-permissions: setup
	$(BIN)/pip install --quiet -e ".[test,proof]"
	$(BIN)/python -m tools.mutation permissions

proof-mutation: proof-permissions proof-audit

clean:
	rm -rf $(VENV) node_modules $(ASSETS)
