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
    assert pip_sections and "-e ." in pip_sections[0], "environment.yml must pip-install `-e .`"


# ---------------------------------------------------------------- CI and README


def test_ci_runs_make_test():
    script = (ROOT / ".ci" / "run").read_text()
    lines = [ln.split("#", 1)[0].strip() for ln in script.splitlines()]
    assert script.startswith("#!"), ".ci/run needs a shebang"
    assert "set -euo pipefail" in lines
    assert any(re.fullmatch(r"(exec\s+)?make\s+test", ln) for ln in lines), (
        ".ci/run must call `make test`"
    )


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
    ), "no cell is marked `# NBVAL_CHECK_OUTPUT`"


@pytest.mark.parametrize("path", notebook_params)
def test_notebook_slideshow_metadata(path):
    cells = load(path)["cells"]
    types = [c.get("metadata", {}).get("slideshow", {}).get("slide_type") for c in cells]
    missing = [i for i, t in enumerate(types) if t is None]
    assert not missing, f"cells without metadata.slideshow.slide_type: {missing}"
    unknown = {t for t in types if t not in SLIDE_TYPES}
    assert not unknown, f"unknown slide types {unknown}"
    assert types[0] == "slide", "the first cell must start a slide"
