"""Project-level checks: packaging files agree, CI runs the suite, notebooks are committed sane."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SLIDE_TYPES = {"slide", "subslide", "fragment", "skip", "notes", "-"}


def pyproject_deps() -> dict[str, SpecifierSet]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    reqs = [Requirement(r) for r in data["project"]["dependencies"]]
    return {canonicalize_name(r.name): r.specifier for r in reqs}


def environment() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def conda_deps() -> dict[str, str]:
    """Conda specs from environment.yml as {name: version part}, e.g. {"simpy": ">=4.1,<5"}."""
    deps = {}
    for item in environment()["dependencies"]:
        if isinstance(item, str):
            m = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*", item)
            deps[canonicalize_name(m.group(1))] = m.group(2).replace(" ", "")
    return deps


# ---------------------------------------------------------------- environment.yml


def test_environment_yml_matches_pyproject():
    runtime = pyproject_deps()
    conda = {k: v for k, v in conda_deps().items() if k not in ("python", "pip")}
    assert set(conda) == set(runtime), (
        f"only in pyproject: {sorted(set(runtime) - set(conda))}; "
        f"only in environment.yml: {sorted(set(conda) - set(runtime))}"
    )
    for name, spec in runtime.items():
        assert SpecifierSet(conda[name]) == spec, (
            f"{name}: environment.yml has {conda[name]!r}, pyproject.toml has {str(spec)!r}"
        )


def test_environment_yml_python_and_pip():
    env = environment()
    assert env["name"] == "faultlab"
    assert "conda-forge" in env["channels"]
    deps = conda_deps()
    assert deps.get("python") in ("=3.11", "3.11", "==3.11"), deps.get("python")
    assert "pip" in deps
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert pip_sections and "-e .[lab]" in pip_sections[0], (
        "environment.yml must pip-install `-e .[lab]` (the package with its lab extra)"
    )


# ---------------------------------------------------------------- packaging


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def extra(name: str) -> set[str]:
    reqs = pyproject()["project"]["optional-dependencies"][name]
    return {canonicalize_name(Requirement(r).name) for r in reqs}


def test_runtime_dependencies_are_the_models():
    """`pip install faultlab` gives the model and its CLI, not a Jupyter stack."""
    assert set(pyproject_deps()) == {"simpy", "numpy", "matplotlib"}
    assert {"jupyterlab", "ipywidgets", "jupyterlab-slideshow", "jupyterlab-rise", "mfusepy"} <= extra("lab")
    assert not extra("lab") & extra("test"), "an extra repeats a package of the other"
    assert "jupyterlab" not in extra("test") and "pytest" not in extra("lab")


def test_license_is_a_pep639_expression_with_its_text():
    project = pyproject()["project"]
    assert project["license"] == "GPL-2.0-only"
    assert project["license-files"] == ["LICENSE"]
    requires = [Requirement(r) for r in pyproject()["build-system"]["requires"]]
    setuptools = next(r for r in requires if r.name == "setuptools")
    assert not setuptools.specifier.contains("76.9"), "license expressions need setuptools >= 77"
    text = (ROOT / "LICENSE").read_text()
    assert "GNU GENERAL PUBLIC LICENSE" in text and "Version 2, June 1991" in text
    assert "END OF TERMS AND CONDITIONS" in text, "LICENSE must hold the whole GPL v2 text"


def make_rule(target: str) -> str:
    """The recipe lines of a Makefile target (with its prerequisites line)."""
    text = (ROOT / "Makefile").read_text()
    m = re.search(rf"^{re.escape(target)}:.*?(?=^\S|\Z)", text, re.M | re.S)
    assert m, f"Makefile has no {target!r} target"
    return m.group(0)


def makefile_var(name: str) -> str:
    m = re.search(rf"^{name}\s*:?=\s*(.*)$", (ROOT / "Makefile").read_text(), re.M)
    assert m, f"Makefile has no {name}"
    return m.group(1)


def test_make_lab_installs_no_test_extra_and_opens_00_at_the_root():
    lab = make_rule("lab")
    stamp = re.match(r"lab:\s*(\S+)", lab).group(1)
    install = make_rule(stamp)
    assert "'.[lab]'" in install and "test" not in install, install
    assert "'.[lab,test]'" in make_rule("$(TEST_STAMP)")
    assert "$(TEST_STAMP)" in make_rule("test"), "make test installs the test extra"
    args = makefile_var("LAB_ARGS")
    assert "--ServerApp.root_dir=$(CURDIR)" in args, "the file browser must start at the repository root"
    assert "--LabApp.default_url=/lab/tree/notebooks/00_start_here.ipynb" in args
    assert "$(LAB_ARGS)" in lab


# ---------------------------------------------------------------- CI and README


def test_ci_runs_make_test():
    script = (ROOT / ".ci" / "run").read_text()
    lines = [ln.split("#", 1)[0].strip() for ln in script.splitlines()]
    assert script.startswith("#!"), ".ci/run needs a shebang"
    assert "set -euo pipefail" in lines
    assert any(re.fullmatch(r"(exec\s+)?make\s+test", ln) for ln in lines), (
        ".ci/run must call `make test`"
    )
    start = next(i for i, ln in enumerate(lines) if "apt-get install" in ln)
    end = next(i for i in range(start, len(lines)) if not lines[i].endswith("\\"))
    apt = " ".join(ln.rstrip("\\") for ln in lines[start:end + 1])
    for pkg in ("chromium", "nodejs", "make"):
        assert re.search(rf"(^|\s){pkg}(\s|$)", apt), f".ci/run must apt-get install {pkg}"
    assert re.search(r"apt-get install .*\bnpm\s*$", script, re.M), ".ci/run must install npm if missing"


def test_readme_mentions_make_targets():
    readme = ROOT / "README.md"
    if not readme.exists():
        pytest.skip("README.md does not exist yet")
    text = readme.read_text()
    for cmd in ("make lab", "make test"):
        assert cmd in text, f"README.md should tell readers to run `{cmd}`"


# ---------------------------------------------------------------- notebook guard

notebook_params = [pytest.param(p, id=p.stem) for p in NOTEBOOKS] or [
    pytest.param(None, id="no-notebooks", marks=pytest.mark.skip(reason="no notebooks/*.ipynb yet"))
]


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


@pytest.mark.parametrize("path", notebook_params)
def test_notebook_executed_in_order(path):
    """Committed executed top to bottom: counts 1..n (nbval skips cells without one)."""
    code = [c for c in load(path)["cells"] if c["cell_type"] == "code" and source(c).strip()]
    counts = [c.get("execution_count") for c in code]
    assert counts == list(range(1, len(code) + 1)), (
        f"execution counts {counts}: restart the kernel, run all cells, then save"
    )


@pytest.mark.parametrize("path", notebook_params)
def test_notebook_has_no_error_outputs(path):
    errors = [
        f"cell {i}: {o.get('ename')}: {o.get('evalue')}"
        for i, c in enumerate(load(path)["cells"])
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors, errors


@pytest.mark.parametrize("path", notebook_params)
def test_notebook_checks_some_output(path):
    """With --nbval-lax only marked cells are compared: at least one must be."""
    cells = load(path)["cells"]
    assert any(
        "# NBVAL_CHECK_OUTPUT" in source(c)
        or "nbval-check-output" in c.get("metadata", {}).get("tags", [])
        for c in cells
    ), "no cell is tagged `nbval-check-output`"


@pytest.mark.parametrize("path", notebook_params)
def test_notebook_slideshow_metadata(path):
    cells = load(path)["cells"]
    types = [c.get("metadata", {}).get("slideshow", {}).get("slide_type") for c in cells]
    missing = [i for i, t in enumerate(types) if t is None]
    assert not missing, f"cells without metadata.slideshow.slide_type: {missing}"
    unknown = {t for t in types if t not in SLIDE_TYPES}
    assert not unknown, f"unknown slide types {unknown}"
    assert types[0] == "slide", "the first cell must start a slide"


WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.mark.parametrize("path", notebook_params)
def test_notebook_saves_widget_state(path):
    """Explorers and exercise buttons render before Run All, on GitHub and nbviewer,
    and in the slide decks: every widget an output shows is in the saved state,
    with every widget it refers to (children, layouts, styles)."""
    nb = load(path)
    views = [
        o["data"][WIDGET_VIEW]["model_id"]
        for c in nb["cells"] if c["cell_type"] == "code"
        for o in c.get("outputs", []) if WIDGET_VIEW in o.get("data", {})
    ]  # fmt: skip
    if not views:
        return  # no widget in this notebook's outputs
    saved = nb["metadata"].get("widgets", {}).get(WIDGET_STATE)
    assert saved, (
        "no saved widget state in the notebook's metadata: execute it with "
        "`jupyter nbconvert --to notebook --execute --inplace` (which stores it)"
    )
    assert saved.get("version_major") == 2, saved.get("version_major")
    state = saved["state"]
    missing = [m for m in views if m not in state]
    assert not missing, f"outputs show widgets whose state is not saved: {missing}"
    refs = set(re.findall(r"IPY_MODEL_([0-9a-f]{32})", json.dumps(state)))
    dangling = sorted(refs - set(state))
    assert not dangling, f"saved widgets refer to models that are not saved: {dangling[:5]}"
