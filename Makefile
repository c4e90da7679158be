# Two commands: `make run` (set up, migrate, load demo data, then serve on http://127.0.0.1:5000
# with the delivery worker and a development mail catcher on http://127.0.0.1:1080) and
# `make test` (set up, run every test). Both are idempotent; the second run only re-does what
# changed. `make run PORT=5050` serves elsewhere, and the e-mails' links follow (HUB_BASE_URL).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ASSETS := hub/static/build
PORT ?= 5000
MAIL_SMTP_PORT ?= 1025
MAIL_HTTP_PORT ?= 1080
HUB_BASE_URL ?= http://127.0.0.1:$(PORT)

.PHONY: run test setup dev assets migrate demo bench clean

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

# The Procfile's web server, delivery worker and mail catcher, run by honcho; the worker sends
# to the catcher, never to a real server.
run: demo dev
	@echo "Serving the hub at $(HUB_BASE_URL) and its e-mails at http://127.0.0.1:$(MAIL_HTTP_PORT)" \
		"(Ctrl+C stops all three). Demo sign-ins are listed above."
	PORT=$(PORT) HUB_BASE_URL=$(HUB_BASE_URL) MAIL_SMTP_PORT=$(MAIL_SMTP_PORT) MAIL_HTTP_PORT=$(MAIL_HTTP_PORT) \
		$(BIN)/honcho start -f Procfile

# `make test` runs the suite in parallel on every core with pytest-xdist (XDIST); each worker has
# its own template and per-test databases, browser and loopback servers. For one file without
# the workers' start-up, add -n0: `make test PYTEST_ARGS="tests/test_auth.py -n0"` (or XDIST=).
XDIST ?= -n auto --dist worksteal

test: setup
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) node_modules $(ASSETS)
