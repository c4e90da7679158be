# Two commands: `make run` (set up, migrate, load demo data, serve on http://127.0.0.1:5000)
# and `make test` (set up, run every test). Both are idempotent; the second run only re-does
# what changed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ASSETS := hub/static/build

.PHONY: run test setup assets migrate demo bench clean

setup: $(VENV)/.installed $(ASSETS)/.built

$(VENV)/.installed: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

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
	$(BIN)/flask --app hub demo-data

run: demo
	@echo "Serving the hub at http://127.0.0.1:5000 (Ctrl+C to stop). Demo sign-ins are listed above."
	$(BIN)/flask --app hub run --host 127.0.0.1 --port 5000

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) node_modules $(ASSETS)
