# The two commands of the README: `make dev` runs the platform, `make test` tests it.
# Both build the same virtualenv first, from the project's own files only.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test install check clean

dev: install
	$(BIN)/lambent up

test: install check
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Architecture and migrations: the import contracts hold, no model change lacks its migration.
check: install
	$(BIN)/lint-imports
	$(BIN)/python manage.py makemigrations --check --dry-run

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt tools/system-packages
	./tools/system-packages
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed" or 0)'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .lambent
