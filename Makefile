# Segment Workbench — the two front-door commands: `make run` and `make test`.
# Needs only Python 3.11+ and make; everything else goes into .venv.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum < requirements.txt | cut -d' ' -f1)
DB     ?= data/workbench.duckdb
PORT   ?= 8501

# numba (used by umap-learn and hdbscan) compiles on first use; keep its cache in the project.
export NUMBA_CACHE_DIR := $(CURDIR)/.cache/numba
export SEGMENTATION_DB ?= $(DB)
export PYTHONDONTWRITEBYTECODE :=

.PHONY: run test setup demo clean-venv audit deps-check

setup: $(STAMP)

$(STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed (found %s); set PYTHON=..." % sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

demo: $(STAMP)
	$(BIN)/python -m segmentation first-run

run: demo
	$(BIN)/python -m streamlit run app.py --server.port $(PORT) --server.headless true

# The suite runs on TEST_WORKERS processes (pytest-xdist), a test file per worker at a time, in
# the order tests/conftest.py gives (slowest files first); pytest.ini adds --durations=15.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

clean-venv:
	rm -rf $(VENV)

# Known vulnerabilities in the pinned requirements (pip-audit queries the PyPI/OSV advisories,
# so it needs the network); runs only where pip-audit is installed.
audit: $(STAMP)
	@if $(BIN)/python -m pip_audit --version >/dev/null 2>&1; then \
		$(BIN)/python -m pip_audit --strict -r requirements.txt; \
	elif command -v pip-audit >/dev/null 2>&1; then \
		pip-audit --strict -r requirements.txt; \
	else \
		echo "pip-audit is not installed: run '$(BIN)/python -m pip install pip-audit' (needs the network), then 'make audit'"; \
	fi

# The requirements install from scratch into a throw-away venv, and pip finds no conflicts there.
DEPS_CHECK_VENV := .cache/deps-check
deps-check:
	rm -rf $(DEPS_CHECK_VENV)
	$(PYTHON) -m venv $(DEPS_CHECK_VENV)
	$(DEPS_CHECK_VENV)/bin/python -m pip install --disable-pip-version-check -q -r requirements.txt
	$(DEPS_CHECK_VENV)/bin/python -m pip check
	rm -rf $(DEPS_CHECK_VENV)
