# The two commands of the README: `make dev` runs the platform, `make test` tests it.
# Both build the same virtualenv first, from the project's own files only.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The web console's browser libraries (package.json), which the api serves as static files.
NODE_STAMP := node_modules/.installed

.PHONY: dev test bench bench-kubernetes install check constraints clean k8s-testbed images

dev: install
	$(BIN)/lambent up

test: install check k8s-testbed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Benchmarks against floors measured in the same run; writes bench/results.json.
bench: install
	$(BIN)/python -m bench.run

# The Kubernetes backend's cold start and warm invoke beside the local backend's, on the test bed.
bench-kubernetes: install k8s-testbed
	$(BIN)/python -m bench.kubernetes

# Static checks: lint, types, the import contracts, no model change without its migration.
check: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python manage.py makemigrations --check --dry-run

# The Kubernetes test bed's binaries (tests/k8s), built once per machine and cached outside the
# checkout: about 10 minutes the first time, a second after. Status 3: this machine cannot host it
# (not root, not Debian), and its tests say so when they skip.
k8s-testbed:
	./tools/k8s-testbed/build >/dev/null || [ $$? -eq 3 ]

# The container images (tools/images/build): the platform's and one per Python runtime, made from
# Debian's archive with whichever of docker, podman or buildah the machine has; their names and sizes.
images:
	./tools/system-packages images
	./tools/images/build

install: $(STAMP) $(NODE_STAMP)

$(STAMP): pyproject.toml constraints.txt tools/system-packages
	./tools/system-packages
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed" or 0)'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json tools/system-packages
	./tools/system-packages
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

# Re-pin the whole dependency tree after a change to pyproject.toml.
constraints: install
	{ sed -n '1,2p' constraints.txt; $(BIN)/pip freeze --exclude-editable; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

clean:
	rm -rf $(VENV) .lambent node_modules
