# The two commands a newcomer needs: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install lint schema schema-check bench serve demo migrate clean

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

run: demo
	$(BIN)/recommender serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .

schema: install
	$(BIN)/recommender export-schema > schema.graphql

schema-check: install
	@$(BIN)/recommender export-schema | diff -u schema.graphql - \
		|| (echo "schema.graphql drifted: run 'make schema' and commit it" && exit 1)

test: install lint schema-check
	$(BIN)/pytest -q

bench: install
	@for script in bench/*.py; do \
		name=$$(basename $$script .py); \
		case $$name in synthetic|_*) continue;; esac; \
		echo "# bench.$$name" >&2; $(BIN)/python -m bench.$$name || exit 1; \
	done

clean:
	rm -rf $(VENV) data web/dist web/node_modules
