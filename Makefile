# Every target runs scripts/setup first: it creates or reuses .venv and node_modules (and, for
# the tests, the system packages they use), installing only what is missing.
BIN := .venv/bin

.PHONY: setup test lint bench demo clean

setup:
	@scripts/setup test

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: setup
	$(BIN)/python -m bench

demo:
	@scripts/setup demo
	$(BIN)/python -m bms_local demo $(ARGS)

clean:
	rm -rf .venv node_modules .azurite .pytest_cache .mypy_cache .ruff_cache
