# The two commands of the README, and helpers. Works with only Python 3.11+ and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test sandbox worker bench env-example clean help

help:
	@echo "make run      set up .venv and start the dashboard (sandbox gateway unless .env says otherwise)"
	@echo "make test     set up .venv with the dev tools and run the whole test suite"
	@echo "make sandbox  run the sandbox gateway alone on port 8600"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files: reinstall only when the requirements change.
$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime-installed

run: $(VENV)/.runtime-installed
	$(BIN)/python -m streamlit run app.py

test: $(VENV)/.dev-installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

sandbox: $(VENV)/.runtime-installed
	$(BIN)/python -m smslib.sandbox --port 8600

worker: $(VENV)/.runtime-installed
	$(BIN)/python -m smslib worker

# Benchmarks (not tests): each prints ours vs a baseline and writes bench/results.json.
# QUICK=1 runs smaller inputs in about a minute; RECORD=1 also rewrites bench/RESULTS.md.
bench: $(VENV)/.dev-installed
	$(BIN)/python -m bench.run $(if $(QUICK),--quick) $(if $(RECORD),--record)

env-example: $(VENV)/.runtime-installed
	$(BIN)/python -m smslib env-example > .env.example

clean:
	rm -rf $(VENV) .pytest_cache
