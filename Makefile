# Portico's two commands: `make run` and `make test`. Everything else here is what they stand on.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.8
# Tests run in parallel on every core; set PYTEST_WORKERS=0 to run them in one process.
PYTEST_WORKERS ?= auto

.PHONY: run test lint format migrations-check bench install clean

run: $(VENV)/.installed
	$(PY) manage.py serve

test: $(VENV)/.installed
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrations-check: $(VENV)/.installed
	$(PY) manage.py makemigrations --check --dry-run

bench: $(VENV)/.installed
	@for script in bench/[!_]*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

install: $(VENV)/.installed

# The virtual environment, with exactly the versions in requirements.lock (made from pyproject.toml with
# `uv pip compile pyproject.toml --extra dev -o requirements.lock`).
$(VENV)/.installed: requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip sync --quiet --python $(PY) requirements.lock
	touch $@

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache test-results
