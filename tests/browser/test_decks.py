"""Every slide deck presents with no network, and every slide fits the frame.

`slides/build.py` builds the decks once per session into a temporary folder
(npm's tarballs are kept in build/npm/ between runs).  Each deck is opened
from file:// in Chromium at 1280x720 with every request that is not a local
file refused, and must:

- start Reveal (the deck is a slideshow, not one long page) and load nothing
  from the network, with no script error and no missing local file;
- go to another slide when the right arrow is pressed;
- render every saved widget (explorers and exercises show their saved state,
  not an empty output);
- on every slide, keep everything inside the 1280x720 frame (after the
  deck's own shrink-to-fit), clip no text in a scroll box, and wrap no line
  of a printed table or trace.

Without npm (and no cached tarballs) the tests are skipped; with
FAULTLAB_REQUIRE_SLIDES=1 or FAULTLAB_REQUIRE_BROWSER=1 (CI) they fail.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
REQUIRE_SLIDES = "1" in (
    os.environ.get("FAULTLAB_REQUIRE_SLIDES"), os.environ.get("FAULTLAB_REQUIRE_BROWSER")
)
WIDTH, HEIGHT = 1280, 720
TOLERANCE = 1.5  # px: sub-pixel rounding of scaled boxes
SMALL = 0.6  # a slide shrunk below this is reported (its text gets small), not failed

JS_READY = "() => document.documentElement.getAttribute('data-faultlab-slides') === 'ready'"

# Widget views the page holds, and how many of them the widget manager has drawn.
JS_WIDGETS = """
() => {
  const views = [...document.querySelectorAll('div.jupyter-widgets.jp-OutputArea-output')];
  const drawn = views.filter(v => v.querySelector('.lm-Widget, .jupyter-widgets.widget-container, .widget-inline-hbox, .widget-html'));
  return {views: views.length, drawn: drawn.length};
}
"""

# What is wrong with the current slide: boxes outside the frame, clipped scroll
# boxes, wrapped lines of preformatted text or table cells.
JS_CHECK_SLIDE = """
([tolerance]) => {
  const slide = Reveal.getCurrentSlide();
  const frame = document.querySelector('.reveal .slides').getBoundingClientRect();
  const visible = el => {
    if (el.closest('aside.notes')) return false;
    const cs = getComputedStyle(el);
    if (cs.display === 'none' || cs.visibility === 'hidden') return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  };
  const name = el => {
    const text = (el.innerText || el.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 60);
    return `<${el.tagName.toLowerCase()} class="${(el.className && el.className.baseVal === undefined ? el.className : '').slice(0, 40)}"> ${JSON.stringify(text)}`;
  };
  const problems = [];
  const all = [...slide.querySelectorAll('*')].filter(visible);
  for (const el of all) {
    const r = el.getBoundingClientRect();
    const out = [];
    if (r.right > frame.right + tolerance) out.push(`right by ${Math.round(r.right - frame.right)} px`);
    if (r.left < frame.left - tolerance) out.push(`left by ${Math.round(frame.left - r.left)} px`);
    if (r.bottom > frame.bottom + tolerance) out.push(`bottom by ${Math.round(r.bottom - frame.bottom)} px`);
    if (r.top < frame.top - tolerance) out.push(`top by ${Math.round(frame.top - r.top)} px`);
    // Report the outermost box only: its children are outside because it is.
    if (out.length && !(el.parentElement && problems.some(p => p.el && p.el.contains(el))))
      problems.push({el, what: `outside the frame (${out.join(', ')}): ${name(el)}`});
    const cs = getComputedStyle(el);
    const clipsX = cs.overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1;
    const clipsY = cs.overflowY !== 'visible' && el.scrollHeight > el.clientHeight + 1;
    if ((clipsX || clipsY) && !['SELECT', 'OPTION', 'INPUT', 'TEXTAREA'].includes(el.tagName))
      problems.push({el, what: `clipped (${clipsX ? 'width' : 'height'} ${clipsX ? el.scrollWidth + '>' + el.clientWidth : el.scrollHeight + '>' + el.clientHeight}): ${name(el)}`});
  }
  // Lines that wrap: more rendered lines than the text has.  Preformatted
  // output (tables and traces printed by the model) never wraps; a table cell
  // may wrap between words, never inside one (a number, a name).
  const lineCount = el => {
    const range = document.createRange();
    range.selectNodeContents(el);
    const cs = getComputedStyle(el);
    const lh = parseFloat(cs.lineHeight) || 1.2 * parseFloat(cs.fontSize);
    const tops = [...range.getClientRects()].filter(q => q.width > 0).map(q => q.top).sort((a, b) => a - b);
    let lines = 0, last = -Infinity;
    for (const t of tops) if (t > last + lh / 2) { lines++; last = t; }
    return lines;
  };
  const wrapChecked = [...slide.querySelectorAll('.jp-OutputArea-output pre')]
    .concat([...slide.querySelectorAll('td, th')].filter(el => !/\\s/.test(el.innerText.trim())));
  for (const el of wrapChecked) {
    if (!visible(el)) continue;
    const own = el.innerText.split('\\n').filter(l => l.trim()).length;
    const drawn = lineCount(el);
    if (drawn > own) problems.push({what: `wraps (${own} lines drawn as ${drawn}): ${name(el)}`});
  }
  return {
    where: Reveal.getIndices(),
    scale: slide.getAttribute('data-fit-scale'),
    problems: problems.map(p => p.what),
  };
}
"""


def load_build():
    spec = importlib.util.spec_from_file_location("slides_build", REPO / "slides" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def skip_or_fail(reason: str) -> None:
    if REQUIRE_SLIDES:
        pytest.fail(f"{reason} (FAULTLAB_REQUIRE_SLIDES=1)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def decks(tmp_path_factory, chromium_path):
    """Build every deck once; {notebook stem: deck path}."""
    build = load_build()
    out = tmp_path_factory.mktemp("slides")
    cache = REPO / "build" / "npm"
    pins = json.loads(build.ASSETS.read_text())["packages"]
    cached = all((cache / build.tarball_name(p["name"], p["version"])).exists() for p in pins)
    if not cached and shutil.which("npm") is None:
        skip_or_fail("npm is not installed and build/npm/ lacks the pinned tarballs")
    notebooks = sorted((REPO / "notebooks").glob("*.ipynb"))
    try:
        built = build.build(notebooks, out, cache)
    except build.BuildError as exc:
        pytest.fail(f"slides/build.py: {exc}", pytrace=False)
    return {deck.name.removesuffix(".slides.html"): deck for deck in built}


@pytest.fixture
def deck_page(browser):
    """A 1280x720 page that may load local files only; what it tried is recorded."""
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
    page = context.new_page()
    page.blocked, page.failed, page.errors = [], [], []

    def only_files(route):
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            page.blocked.append(route.request.url)
            route.abort()

    page.route("**/*", only_files)
    page.on("requestfailed", lambda req: page.failed.append(req.url))
    page.on("pageerror", lambda exc: page.errors.append(f"pageerror: {exc}"))
    page.on(
        "console",
        lambda msg: page.errors.append(f"console: {msg.text}") if msg.type == "error" else None,
    )
    try:
        yield page
    finally:
        context.close()


def test_deck_offline(notebook, decks, deck_page):
    page = deck_page
    deck = decks[notebook.stem]

    def context() -> str:
        return (
            f"\nrequests refused (not file://): {page.blocked[:5]}"
            f"\nlocal files missing: {page.failed[:5]}\nerrors: {page.errors[:5]}"
        )

    page.goto(deck.as_uri())
    try:
        page.wait_for_function(JS_READY, timeout=30_000)
    except Exception:
        pytest.fail(f"{deck.name}: Reveal did not start{context()}", pytrace=False)
    assert page.evaluate("Reveal.isReady()"), f"{deck.name}: Reveal is not ready"

    # The right arrow moves to another slide (after any fragments of the first).
    first = page.evaluate("Reveal.getIndices()")
    page.locator(".reveal").click(position={"x": 5, "y": 5})
    for _ in range(1 + page.evaluate("Reveal.getCurrentSlide().querySelectorAll('.fragment').length")):
        page.keyboard.press("ArrowRight")
        now = page.evaluate("Reveal.getIndices()")
        if (now["h"], now["v"]) != (first["h"], first["v"]):
            break
    assert (now["h"], now["v"]) != (first["h"], first["v"]), (
        f"{deck.name}: the right arrow did not change the slide ({first} -> {now})"
    )

    # Saved widgets are drawn (explorers and exercises are not empty outputs).
    page.wait_for_function(
        "() => { const w = (" + JS_WIDGETS + ")(); return w.views === w.drawn; }", timeout=30_000
    )
    widgets = page.evaluate(JS_WIDGETS)

    # Every slide fits.
    page.evaluate("Reveal.configure({transition: 'none', backgroundTransition: 'none'})")
    slides = page.evaluate("Reveal.getSlides().map(s => Reveal.getIndices(s))")
    problems, scales = [], []
    for where in slides:
        page.evaluate("([h, v]) => Reveal.slide(h, v)", [where["h"], where["v"] or 0])
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        found = page.evaluate(JS_CHECK_SLIDE, [TOLERANCE])
        scales.append(float(found["scale"] or 1))
        problems += [f"slide {where['h']}.{where['v'] or 0}: {p}" for p in found["problems"]]

    shrunk = [s for s in scales if s < 0.999]
    small = [f"{w['h']}.{w['v'] or 0} ({s:.2f})" for w, s in zip(slides, scales) if s < SMALL]
    smallest = min(range(len(scales)), key=scales.__getitem__)
    where = f"{slides[smallest]['h']}.{slides[smallest]['v'] or 0}"
    print(
        f"{deck.name}: {len(slides)} slides, {widgets['drawn']} widgets drawn, "
        f"{len(shrunk)} shrunk to fit, smallest scale {scales[smallest]:.2f} (slide {where})"
        + (f"; below {SMALL} (small print, worth splitting): {', '.join(small)}" if small else "")
    )
    assert not page.blocked, f"{deck.name}: the deck asked the network for {page.blocked}"
    assert not page.failed, f"{deck.name}: local files missing: {page.failed}"
    assert not page.errors, f"{deck.name}: script errors: {page.errors}"
    assert not problems, f"{deck.name}: {len(problems)} problems:\n" + "\n".join(problems[:40])
