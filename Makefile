# faultlab: common tasks.  `make lab` to explore, `make test` to check everything.

PYTHON  ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
# One venv, two stamps: `make lab` installs the model and the lab extra
# (JupyterLab, ipywidgets, jupyterlab-slideshow, RISE, mfusepy); `make test` adds the test extra.
LAB_STAMP  := $(VENV)/.stamp-lab
TEST_STAMP := $(VENV)/.stamp-test

# nbval on the committed notebooks: only cells tagged `nbval-check-output`
# (or tagged nbval-check-output) are compared, in this environment's kernel,
# after the regex sanitizers.
NOTEBOOKS  := $(wildcard notebooks/*.ipynb)
NBVAL_ARGS := --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: venv lab-venv lab test figures slides bench clean distclean

venv: $(TEST_STAMP)
lab-venv: $(LAB_STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall whenever pyproject.toml changes.
$(LAB_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[lab]'
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[lab,test]'
	touch $@ $(LAB_STAMP)

# Jupyter refuses to run as root unless told; containers and CI machines often are root.
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)
# The file browser at the repository root (faultlab/fault.py is one click
# away), the first notebook open in the main area.
LAB_ARGS := --ServerApp.root_dir=$(CURDIR) --LabApp.default_url=/lab/tree/notebooks/00_start_here.ipynb

lab: $(LAB_STAMP)
	$(BIN)/jupyter lab $(LAB_ROOT) $(LAB_ARGS)

# One pytest run (notebooks + unit, project and browser tests), so the
# summary is a single "N passed" line.  tests/ always holds tests, so
# pytest never exits 5 ("no tests collected").
test: $(TEST_STAMP)
	$(BIN)/python -m pytest $(NBVAL_ARGS) $(NOTEBOOKS) tests/

figures: $(LAB_STAMP)
	$(BIN)/python -m faultlab figures --out figures

# Decks that present offline: reveal.js and the rest pinned in slides/assets.json,
# fetched with npm into build/npm/ once, copied into build/slides/lib/.
slides: $(LAB_STAMP)
	$(BIN)/python slides/build.py --out build/slides

bench: $(LAB_STAMP)
	$(BIN)/python -m faultlab bench

# Build and test leftovers (the venv stays; `make distclean` removes it too).
clean:
	rm -rf build test-output .pytest_cache .hypothesis *.egg-info
	find . -path ./$(VENV) -prune -o \( -name __pycache__ -o -name .ipynb_checkpoints \) \
		-type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
