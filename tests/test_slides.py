"""Each notebook becomes a reveal.js deck through slides/build.py's exporter.

Which cells reach a deck is checked on a copy of the notebook in which every
cell carries a unique marker: markers of kept text cells must be in the HTML,
those of skipped cells not, and a code cell's marker (in its source) only if
the cell is tagged to show its code.  The deck must name no script or style
sheet outside lib/, and each one it names must be a file that the build copies
there from a pinned package (slides/assets.json).  Loading the decks in a
browser with the network blocked is tests/browser/test_decks.py.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

params = [pytest.param(p, id=p.stem) for p in NOTEBOOKS] or [
    pytest.param(None, id="no-notebooks", marks=pytest.mark.skip(reason="no notebooks/*.ipynb yet"))
]


def load_build():
    spec = importlib.util.spec_from_file_location("slides_build", ROOT / "slides" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = load_build()


def mark(cell: dict, marker: str) -> None:
    """Append a marker that survives rendering: a comment in code, a word in text."""
    src = cell.get("source", "")
    src = "".join(src) if isinstance(src, list) else src
    tail = f"\n# {marker}\n" if cell["cell_type"] == "code" else f"\n\n{marker}\n"
    cell["source"] = src + tail


def shipped_files() -> list[str]:
    """Glob patterns, relative to the deck, of every file the build puts in lib/."""
    pins = json.loads((ROOT / "slides" / "assets.json").read_text())["packages"]
    return [f"lib/{p['into']}/{f}" for p in pins for f in p["files"]]


def referenced_urls(html: str) -> list[str]:
    """Scripts, style sheets and AMD modules the deck asks the browser for."""
    urls = re.findall(r"<script\b[^>]*\bsrc=\"([^\"]*)\"", html)
    urls += re.findall(r"<link\b[^>]*\bhref=\"([^\"]*)\"", html)
    urls += re.findall(r"@import\s+(?:url\()?['\"]?([^'\")\s;]+)", html)
    urls += re.findall(r"\bwidgetRendererSrc\s*=\s*'([^']*)'", html)
    for modules in re.findall(r"require\(\s*\{[^}]*\}\s*,\s*\[([^\]]*)\]", html):
        urls += re.findall(r"\"([^\"]+)\"", modules)
    return urls


@pytest.fixture(scope="module")
def exporter():
    return build.exporter()


@pytest.mark.parametrize("path", params)
def test_deck_cells_and_assets(path, exporter):
    nb = json.loads(path.read_text(encoding="utf-8"))
    text_kept, text_skipped, code_shown, code_hidden = [], [], [], []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "raw":
            continue  # raw cells are not rendered into HTML at all
        slide_type = cell.get("metadata", {}).get("slideshow", {}).get("slide_type")
        marker = f"CELLMARK{i:04d}X"
        mark(cell, marker)
        if slide_type == "skip":
            text_skipped.append(marker)
        elif cell["cell_type"] != "code":
            text_kept.append(marker)
        elif build.SHOW_INPUT_TAG in cell.get("metadata", {}).get("tags", []):
            code_shown.append(marker)
        else:
            code_hidden.append(marker)
    node = nbformat.reads(json.dumps(nb), as_version=4)
    html, _ = exporter.from_notebook_node(node, resources={"metadata": {"name": path.stem}})

    sections = re.findall(r"<section\b", html)
    assert len(sections) >= 3, f"only {len(sections)} reveal.js <section> elements"
    assert not [m for m in text_kept if m not in html], "kept text cells missing from the deck"
    leaked = [m for m in text_skipped if m in html]
    assert not leaked, f"cells with slide_type 'skip' appear in the deck: {leaked}"
    shown = [m for m in code_hidden if m in html]
    assert not shown, f"code shown on slides without the {build.SHOW_INPUT_TAG!r} tag: {shown}"
    assert not [m for m in code_shown if m not in html], "tagged code missing from the deck"
    assert "NBVAL_" not in html, "nbval's markers reach the slides"

    urls = referenced_urls(html)
    assert any(u.endswith("reveal.js/dist/reveal.js") for u in urls), urls
    outside = [u for u in urls if re.match(r"[a-z]+:|//|/", u) or not u.startswith("lib/")]
    assert not outside, f"the deck loads from outside lib/: {outside}"
    patterns = shipped_files()
    unshipped = [u for u in urls if not any(fnmatch.fnmatchcase(u, p) for p in patterns)]
    assert not unshipped, f"the deck loads files the build does not copy: {unshipped}"


def test_assets_are_pinned():
    """Exact versions with the registry's sha512 integrity, nothing floating."""
    for pkg in json.loads((ROOT / "slides" / "assets.json").read_text())["packages"]:
        assert re.fullmatch(r"\d+\.\d+\.\d+", pkg["version"]), pkg
        assert re.fullmatch(r"sha512-[A-Za-z0-9+/]{86}==", pkg["integrity"]), pkg
        assert pkg["files"], pkg


def test_notebook_links_point_at_decks(exporter):
    """A link to another notebook leads to that notebook's deck."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("See [01](01_baseline.ipynb#The-convoy) and [x](https://x.org/a.ipynb).")]
    nb.cells[0].metadata["slideshow"] = {"slide_type": "slide"}
    html, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": "t"}})
    assert 'href="01_baseline.slides.html#The-convoy"' in html
    assert 'href="https://x.org/a.ipynb"' in html
