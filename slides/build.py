"""Build the notebooks' reveal.js decks so that they present with no network.

    python slides/build.py [--out build/slides] [NOTEBOOK ...]

Every script and style sheet a deck loads comes from ``lib/`` beside it:
reveal.js, require.js, jQuery and the widget renderer
(@jupyter-widgets/html-manager, which draws the explorers and exercises from
the widget state saved in each notebook).  They are the versions pinned in
slides/assets.json, fetched once with ``npm pack`` into build/npm/, checked
against the pinned sha512 integrity, and copied into ``lib/``.  The decks use
the template in slides/templates/faultlab_reveal (nbconvert's reveal template
with local URLs, no MathJax or Mermaid, slides that shrink to fit).

On a slide a code cell shows its output only; a cell tagged
``slide-show-input`` shows its code too (without nbval's marker comments).
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import nbformat
from nbconvert.exporters import SlidesExporter
from nbconvert.preprocessors import Preprocessor
from traitlets.config import Config

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ASSETS = HERE / "assets.json"
TEMPLATES = HERE / "templates"
SHOW_INPUT_TAG = "slide-show-input"
WIDTH, HEIGHT = 1280, 720  # the frame the slides are laid out for (16:9)


class BuildError(Exception):
    """Something the build cannot do; the message says what and why."""


# ---------------------------------------------------------------- assets


def integrity(path: Path) -> str:
    """The npm registry's form of a file's digest: sha512-<base64>."""
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def tarball_name(name: str, version: str) -> str:
    """The file name `npm pack` writes: @scope/pkg -> scope-pkg-VERSION.tgz."""
    return f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"


def fetch(pkg: dict, cache: Path) -> Path:
    """The package's tarball in `cache`, fetched with npm if absent, integrity checked."""
    tgz = cache / tarball_name(pkg["name"], pkg["version"])
    if not tgz.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise BuildError(
                f"{pkg['name']}@{pkg['version']} is not in {cache} and npm is not installed "
                "(apt-get install npm)"
            )
        cache.mkdir(parents=True, exist_ok=True)
        spec = f"{pkg['name']}@{pkg['version']}"
        done = subprocess.run(
            [npm, "pack", spec, "--pack-destination", str(cache), "--silent"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        if done.returncode != 0 or not tgz.exists():
            raise BuildError(f"npm pack {spec} failed: {done.stderr.strip() or done.stdout.strip()}")
    got = integrity(tgz)
    if got != pkg["integrity"]:
        tgz.unlink()
        raise BuildError(
            f"{tgz.name}: integrity {got} differs from the pinned {pkg['integrity']} (deleted; "
            "run the build again to fetch it anew)"
        )
    return tgz


def unpack(pkg: dict, tgz: Path, lib: Path) -> list[str]:
    """Copy the package's listed files (globs) into lib/<into>/; return their paths."""
    dest = lib / pkg["into"]
    copied = []
    with tarfile.open(tgz) as tar:
        for member in tar.getmembers():
            if not member.isfile() or not member.name.startswith("package/"):
                continue
            rel = member.name[len("package/"):]
            if not any(fnmatch.fnmatchcase(rel, pattern) for pattern in pkg["files"]):
                continue
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(tar.extractfile(member).read())
            copied.append(rel)
    missing = [p for p in pkg["files"] if not any(fnmatch.fnmatchcase(c, p) for c in copied)]
    if missing:
        raise BuildError(f"{tgz.name} has no file matching {missing}")
    return copied


def install_assets(lib: Path, cache: Path) -> None:
    pins = json.loads(ASSETS.read_text())["packages"]
    if lib.exists():
        shutil.rmtree(lib)
    for pkg in pins:
        unpack(pkg, fetch(pkg, cache), lib)


# ---------------------------------------------------------------- decks


# A relative link to a notebook of the series, in markdown: ](NN_name.ipynb#anchor)
NOTEBOOK_LINK = re.compile(r"\]\((?![a-z]+:|/)([^()\s#]+)\.ipynb((?:#[^()\s]*)?)\)")


class SlideInputs(Preprocessor):
    """Code cells show their output only, unless tagged `slide-show-input`.

    A shown input loses nbval's marker comments (`# NBVAL_...`).  Links to
    another notebook lead to its deck."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "markdown":
            cell.source = NOTEBOOK_LINK.sub(r"](\1.slides.html\2)", cell.source)
        if cell.cell_type != "code":
            return cell, resources
        if SHOW_INPUT_TAG in cell.metadata.get("tags", []):
            lines = cell.source.splitlines()
            cell.source = "\n".join(ln for ln in lines if not ln.lstrip().startswith("# NBVAL_"))
        else:
            cell.metadata["transient"] = {"remove_source": True}
        return cell, resources


def exporter() -> SlidesExporter:
    c = Config()
    c.SlidesExporter.reveal_url_prefix = "lib/reveal.js"
    c.SlidesExporter.reveal_theme = "white"  # its fonts are in the package; "simple" loads web fonts
    c.SlidesExporter.reveal_width = str(WIDTH)
    c.SlidesExporter.reveal_height = str(HEIGHT)
    c.SlidesExporter.require_js_url = "lib/requirejs/require.js"
    c.SlidesExporter.jquery_url = "lib/jquery/dist/jquery.min.js"
    c.SlidesExporter.widget_renderer_url = "lib/html-manager/dist/embed-amd.js"
    c.SlidesExporter.exclude_input_prompt = True
    c.SlidesExporter.exclude_output_prompt = True
    ex = SlidesExporter(
        config=c, template_name="faultlab_reveal", extra_template_basedirs=[str(TEMPLATES)]
    )
    ex.register_preprocessor(SlideInputs(), enabled=True)
    return ex


def build(notebooks: list[Path], out: Path, cache: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    install_assets(out / "lib", cache)
    ex = exporter()
    decks = []
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        html, _ = ex.from_notebook_node(nb, resources={"metadata": {"name": path.stem}})
        deck = out / f"{path.stem}.slides.html"
        deck.write_text(html, encoding="utf-8")
        decks.append(deck)
    return decks


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "slides")
    ap.add_argument("--cache", type=Path, default=ROOT / "build" / "npm",
                    help="where npm's tarballs are kept between builds")  # fmt: skip
    args = ap.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    try:
        decks = build(notebooks, args.out, args.cache)
    except BuildError as exc:
        print(f"slides: {exc}", file=sys.stderr)
        return 2
    for deck in decks:
        print(deck)
    return 0


if __name__ == "__main__":
    sys.exit(main())
