# Every target creates .venv when it is missing, so each works alone on a fresh clone.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test lint bench fuzz format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

## run: start the bot (Slack when tokens are set in .env, otherwise the local console with a demo team)
run: $(STAMP)
	@$(BIN)/chatops run

## test: the whole suite (PostgreSQL tests run when 127.0.0.1:5432 is reachable, and must when CI=true)
test: $(STAMP)
	$(BIN)/pytest -n 2 -q

## lint: ruff, formatting, mypy and the import contracts (lint-imports)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## fuzz: 10,000 fuzzed /ts lines and 2,000 signed payloads; prints how each was answered
fuzz: $(STAMP)
	CHATOPS_FUZZ_LINES=10000 CHATOPS_FUZZ_PAYLOADS=2000 $(BIN)/pytest -q -s -p no:cacheprovider tests/test_fuzz.py

## bench: benchmarks; figures printed and written to bench/RESULTS.md (a few minutes; smaller: CHATOPS_BENCH_* sizes, see bench/*.py)
bench: $(STAMP)
	$(BIN)/python -m bench

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
