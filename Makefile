# The two commands a newcomer needs: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install lint schema schema-check bench serve demo migrate clean \
	web-install web-build web-test web-e2e debian-packages python-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

migrate: install
	$(BIN)/recommender db upgrade

demo: migrate
	$(BIN)/recommender demo

run: demo web-build
	$(BIN)/recommender serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

schema: install
	$(BIN)/recommender export-schema > schema.graphql

schema-check: install
	@$(BIN)/recommender export-schema | diff -u schema.graphql - \
		|| (echo "schema.graphql drifted: run 'make schema' and commit it" && exit 1)

test: python-test web-test web-e2e

# web-build: tests/test_graphiql.py checks the GraphiQL page of the real build (it skips without one).
python-test: install lint schema-check debian-packages web-build
	$(BIN)/pytest -q

web/node_modules/.installed: web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

web-install: web/node_modules/.installed

web-build: web-install
	cd web && npm run build

web-test: web-install
	cd web && npm test

web-e2e: install web-build debian-packages
	cd web && npm run e2e

# Debian packages the tests use: Chromium for the end-to-end tests (browser downloads are not
# possible here) and wrk for the load benchmark's short mode.
DEBIAN_PACKAGES := chromium fonts-dejavu-core wrk
debian-packages:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
		else echo "please install: sudo apt-get install $$missing"; exit 1; fi; \
	fi

bench: install
	@for script in bench/*.py; do \
		name=$$(basename $$script .py); \
		case $$name in synthetic|minimal_app|_*) continue;; esac; \
		echo "# bench.$$name" >&2; $(BIN)/python -m bench.$$name || exit 1; \
	done

clean:
	rm -rf $(VENV) data web/dist web/node_modules
