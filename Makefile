# Herald developer commands. Every target bootstraps what it needs (scripts/bootstrap.sh).
#   make run    the demo on embedded Kafka + Redis (no Docker needed)
#   make test   lint, format check, type check, then the whole test suite

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

BIN := .venv/bin
ARGS ?=

.PHONY: help bootstrap run test lint format typecheck pytest bench clean distclean

help:
	@echo "make run        run the demo on embedded Kafka and Redis (ARGS='...' passed on)"
	@echo "make test       ruff check, ruff format --check, mypy, pytest"
	@echo "make lint       ruff check + ruff format --check"
	@echo "make format     ruff format + ruff check --fix"
	@echo "make typecheck  mypy (strict)"
	@echo "make pytest     the test suite only (ARGS='-k ...' passed on)"
	@echo "make bench      python -m bench (ARGS='...' passed on)"
	@echo "make clean      remove caches; make distclean also removes .venv"

bootstrap:
	@scripts/bootstrap.sh

run: bootstrap
	$(BIN)/herald demo $(ARGS)

test: bootstrap
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	@status=0; $(BIN)/pytest -q --durations=25 $(ARGS) || status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest: no tests collected: that is a failure" >&2; fi; \
	exit $$status

lint: bootstrap
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: bootstrap
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: bootstrap
	$(BIN)/mypy

pytest: bootstrap
	$(BIN)/pytest -q $(ARGS)

bench: bootstrap
	@if [ -f bench/__main__.py ]; then $(BIN)/python -m bench $(ARGS); \
	else echo "bench/__main__.py does not exist yet" >&2; exit 1; fi

clean:
	rm -rf .mypy_cache .ruff_cache .pytest_cache .hypothesis build dist
	find . -path ./.venv -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf .venv *.egg-info
