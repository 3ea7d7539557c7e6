# faultlab: common tasks.  `make lab` to explore, `make test` to check everything.

PYTHON  ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.stamp

# nbval on the committed notebooks: only cells marked `# NBVAL_CHECK_OUTPUT`
# are compared, in this environment's kernel, after the regex sanitizers.
NOTEBOOKS  := $(wildcard notebooks/*.ipynb)
NBVAL_ARGS := --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: venv lab test figures slides bench clean distclean

venv: $(STAMP)

# Reinstall whenever pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -e '.[test,lab]'
	touch $@

# Jupyter refuses to run as root unless told; containers and CI machines often are root.
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: venv
	$(BIN)/jupyter lab $(LAB_ROOT) notebooks/00_start_here.ipynb

# One pytest run (notebooks + unit, project and browser tests), so the
# summary is a single "N passed" line.  tests/ always holds tests, so
# pytest never exits 5 ("no tests collected").
test: venv
	$(BIN)/python -m pytest $(NBVAL_ARGS) $(NOTEBOOKS) tests/

figures: venv
	$(BIN)/python -m faultlab figures --out figures

slides: venv
	$(BIN)/jupyter nbconvert --to slides --output-dir build/slides notebooks/*.ipynb

bench: venv
	$(BIN)/python -m faultlab bench

# Build and test leftovers (the venv stays; `make distclean` removes it too).
clean:
	rm -rf build test-output .pytest_cache .hypothesis *.egg-info
	find . -path ./$(VENV) -prune -o \( -name __pycache__ -o -name .ipynb_checkpoints \) \
		-type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
