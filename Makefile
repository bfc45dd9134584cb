# The two set-up commands of README.md. Both install whatever is missing first (scripts/setup.sh).
SHELL := /bin/bash
VENV := .venv/bin

.PHONY: run test setup lint lock web

run: setup web  ## run the whole product on this machine and print its URLs and login
	$(VENV)/skycam up

test: setup lint web  ## the whole test suite, slow end-to-end tests included (what CI runs)
	$(VENV)/pytest

setup:
	@bash scripts/setup.sh

web: setup  ## build the PWA into web/dist (skipped when up to date)
	@bash scripts/build-web.sh

lint:
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy

lock:  ## refresh requirements/constraints.txt from the current venv
	$(VENV)/pip freeze --exclude-editable | grep -v '^skycam' > requirements/constraints.txt
