"""faultlab.figures: the lecture figures regenerate at slide size, byte for byte
the same each time, and the same as the files in figures/."""
from __future__ import annotations

import io
import re
import struct
from contextlib import redirect_stderr
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import pytest

from faultlab import figures

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "figures"
NAMES = list(figures.FIGURES)


def generate(tmp_path_factory, label):
    out = tmp_path_factory.mktemp(label)
    before = {k: repr(v) for k, v in matplotlib.rcParams.items()}
    err = io.StringIO()
    with redirect_stderr(err):
        paths = figures.make_figures(out)
    after = {k: repr(v) for k, v in matplotlib.rcParams.items()}
    return {"dir": out, "paths": paths, "stderr": err.getvalue(), "rc_changed": before != after,
            "open_figures": plt.get_fignums()}


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    return generate(tmp_path_factory, "figures-1")


@pytest.fixture(scope="module")
def second(tmp_path_factory, first):
    return generate(tmp_path_factory, "figures-2")


def committed_version():
    readme = COMMITTED / "README.md"
    if not readme.exists():
        return None
    m = re.search(r"Made with matplotlib (\S+?)\.?$", readme.read_text(), re.M)
    return m.group(1) if m else None


def png_size(path: Path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


# ------------------------------------------------------------------------------------------

def test_make_figures_leaves_no_trace(first):
    assert not first["rc_changed"]
    assert first["open_figures"] == []
    assert (first["dir"] / "README.md") in first["paths"]


@pytest.mark.parametrize("name", NAMES)
def test_figure_is_a_slide(first, name):
    svg, png = first["dir"] / f"{name}.svg", first["dir"] / f"{name}.png"
    assert svg in first["paths"] and png in first["paths"]
    assert png_size(png) == (2000, 1125)
    text = svg.read_text()
    assert 'width="960pt" height="540pt"' in text
    assert "<dc:date>" not in text and "Matplotlib v" not in text
    assert b"Software" not in png.read_bytes()[:4096]


@pytest.mark.parametrize("name", NAMES)
def test_same_bytes_every_time(first, second, name):
    for ext in ("svg", "png"):
        a = (first["dir"] / f"{name}.{ext}").read_bytes()
        b = (second["dir"] / f"{name}.{ext}").read_bytes()
        assert a == b, f"{name}.{ext} differs between two runs"


@pytest.mark.parametrize("name", NAMES)
def test_same_bytes_as_the_committed_figures(first, name):
    version = committed_version()
    if version != matplotlib.__version__:
        pytest.skip(f"figures/ was made with matplotlib {version}, this is {matplotlib.__version__}: "
                    "the bytes may differ; run `make figures` to refresh them")
    for ext in ("svg", "png"):
        path = COMMITTED / f"{name}.{ext}"
        assert path.exists(), f"figures/{name}.{ext} is missing: run `make figures`"
        assert path.read_bytes() == (first["dir"] / f"{name}.{ext}").read_bytes(), \
            f"figures/{name}.{ext} is stale: run `make figures`"


def test_readme_lists_every_figure_and_its_notebook(first):
    generated = (first["dir"] / "README.md").read_text()
    assert generated == figures.readme_text()
    for spec in figures.FIGURES.values():
        assert f"`{spec.name}.svg`" in generated and f"notebooks/{spec.notebook}.ipynb" in generated
    if committed_version() == matplotlib.__version__:
        assert (COMMITTED / "README.md").read_text() == generated


def test_slide_type_is_large():
    fig = figures.build("convoy_timeline")
    try:
        ax = fig.axes[0]
        assert ax.title.get_fontsize() >= 18
        assert ax.xaxis.label.get_fontsize() >= 14
        assert min(t.get_fontsize() for t in ax.get_xticklabels() + ax.get_yticklabels()) >= 14
        assert tuple(fig.get_size_inches()) == pytest.approx(figures.SLIDE_INCHES)
    finally:
        plt.close(fig)


def test_unknown_figure_name(tmp_path):
    with pytest.raises(ValueError, match="convoy_timeline"):
        figures.make_figures(tmp_path, names=["nope"])
