"""Each notebook builds a reveal.js deck with `jupyter nbconvert --to slides`.

Skipped cells must not reach the deck.  To check that without depending on
how nbconvert renders text, the test works on a copy of the notebook in
which every cell carries a unique marker; the markers of kept cells must
be in the HTML (so the check can see them) and those of skipped cells not.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

params = [pytest.param(p, id=p.stem) for p in NOTEBOOKS] or [
    pytest.param(None, id="no-notebooks", marks=pytest.mark.skip(reason="no notebooks/*.ipynb yet"))
]


def mark(cell: dict, marker: str) -> None:
    """Append a marker that survives rendering: a comment in code, a word in text."""
    src = cell.get("source", "")
    src = "".join(src) if isinstance(src, list) else src
    tail = f"\n# {marker}\n" if cell["cell_type"] == "code" else f"\n\n{marker}\n"
    cell["source"] = src + tail


@pytest.mark.parametrize("path", params)
def test_slides_build(path, tmp_path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    kept, skipped = [], []
    for i, cell in enumerate(nb["cells"]):
        slide_type = cell.get("metadata", {}).get("slideshow", {}).get("slide_type")
        if cell["cell_type"] == "raw":
            continue  # raw cells are not rendered into HTML at all
        marker = f"CELLMARK{i:04d}X"
        mark(cell, marker)
        (skipped if slide_type == "skip" else kept).append(marker)
    copy = tmp_path / path.name
    copy.write_text(json.dumps(nb), encoding="utf-8")

    out = tmp_path / "slides"
    subprocess.run(
        [sys.executable, "-m", "nbconvert", "--to", "slides", "--output-dir", str(out), str(copy)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    html = (out / f"{path.stem}.slides.html").read_text(encoding="utf-8")

    sections = re.findall(r"<section\b", html)
    assert len(sections) >= 3, f"only {len(sections)} reveal.js <section> elements"
    assert not [m for m in kept if m not in html], "kept cells missing from the deck"
    leaked = [m for m in skipped if m in html]
    assert not leaked, f"cells with slide_type 'skip' appear in the deck: {leaked}"
