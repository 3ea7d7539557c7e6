"""One notebook as a live RISE slideshow (jupyterlab_rise).

`test_rise_slideshow_runs`: the slideshow page (/rise/NAME) starts Reveal on
the notebook, joins a kernel, and the space bar moves to the next slide.

`test_rise_slideshow_explorer`: the notebook is run in JupyterLab and saved;
its slideshow then joins the same kernel, the test steps through the slides
until the explorer's policy menu is on screen, picks another policy, and
checks that what the explorer shows changes.  It is expected to fail today:
jupyterlab_rise 0.43.1 (the latest release) builds its slideshow page on
JupyterLab 4.3's packages without @jupyterlab/console, which the ipywidgets 8
widget manager imports, so no widget renders in the slideshow (upstream issue
jupyterlab-contrib/rise#119).  The mark is strict: once a release renders
widgets, the test passes, is reported as XPASS(strict) and fails, and the
mark comes off.
"""

from __future__ import annotations

import time
import urllib.parse

import pytest

from test_jupyterlab import (
    BAD_PAGE_TEXT,
    DIALOG_ACCEPT,
    DISPLAY,
    JS_STATE,
    Deadline,
    poll,
)

NOTEBOOK = "00_start_here.ipynb"
STEPS = 150  # key presses through the deck, at most


def bad_text(page) -> list:
    """The texts of BAD_PAGE_TEXT (a traceback, a widget not rendered) the page shows."""
    body = page.evaluate("document.body.innerText")
    return [b for b in BAD_PAGE_TEXT if b in body]


def explorer_of(menu):
    """The output area of the explorer whose policy menu is ``menu``."""
    return menu.locator("xpath=ancestor::div[contains(@class, 'jp-OutputArea')][1]")


def displayed(explorer) -> list:
    """The HTML of what the explorer's output area displays."""
    return explorer.locator(DISPLAY).evaluate_all("els => els.map(e => e.innerHTML)")


def run_and_save(page, lab_server, deadline):
    """Open the notebook in JupyterLab, run every cell, save it."""
    page.goto(
        f"{lab_server.base_url}/lab/tree/{urllib.parse.quote(NOTEBOOK)}?reset&token={lab_server.token}",
        timeout=deadline.ms(60),
    )

    def ready():
        if page.locator(DIALOG_ACCEPT).count():
            page.locator(DIALOG_ACCEPT).first.click()
        s = page.evaluate(JS_STATE)
        return s.get("path") == NOTEBOOK and s.get("ready") and s.get("kernel") == "idle"

    poll(deadline, "waiting for the kernel", ready)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")

    def finished():
        s = page.evaluate(JS_STATE)
        return s if s.get("kernel") == "idle" and (s["pending"] == 0 or s["errors"]) else None

    state = poll(deadline, "running all cells", finished, settle=3)
    assert not state["errors"], state["errors"]
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    time.sleep(1)


def open_slideshow(context, lab_server, deadline, errors):
    show = context.new_page()
    show.on("pageerror", lambda exc: errors.append(str(exc)))
    show.goto(
        f"{lab_server.base_url}/rise/{urllib.parse.quote(NOTEBOOK)}?token={lab_server.token}",
        timeout=deadline.ms(60),
    )
    show.wait_for_selector("body.rise-enabled .reveal .slides section", timeout=deadline.ms(90))
    return show


def test_rise_slideshow_runs(lab_server, browser):
    if not (lab_server.root_dir / NOTEBOOK).exists():
        pytest.skip(f"no {NOTEBOOK}")
    deadline = Deadline(180, f"RISE {NOTEBOOK}")
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    errors = []
    try:
        show = open_slideshow(context, lab_server, deadline, errors)
        sections = show.locator(".reveal .slides section").count()
        assert sections >= 3, f"only {sections} slides in the slideshow"
        first = show.evaluate("location.hash")
        for _ in range(20):
            show.keyboard.press("Space")
            time.sleep(0.2)
            if show.evaluate("location.hash") != first:
                break
        assert show.evaluate("location.hash") != first, "the space bar did not move the slideshow"

        def joined():
            sessions = lab_server.api("GET", "/api/sessions") or []
            return [s for s in sessions if s["path"] == NOTEBOOK and s["kernel"]["connections"] > 0]

        poll(deadline, "waiting for the slideshow to join a kernel", joined)
        assert not errors, f"page errors in the slideshow: {errors[:5]}"
        print(f"RISE {NOTEBOOK}: {sections} slides, kernel joined, {first or '#/'} -> "
              f"{show.evaluate('location.hash')}")  # fmt: skip
    finally:
        context.close()
        lab_server.shutdown_kernels()


@pytest.mark.xfail(
    strict=True,
    reason="jupyterlab_rise 0.43.1 cannot load the ipywidgets 8 widget manager "
    "(@jupyterlab/console is not in its shared scope): jupyterlab-contrib/rise#119",
)
def test_rise_slideshow_explorer(lab_server, browser):
    if not (lab_server.root_dir / NOTEBOOK).exists():
        pytest.skip(f"no {NOTEBOOK}")
    deadline = Deadline(240, f"RISE {NOTEBOOK}")
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        run_and_save(context.new_page(), lab_server, deadline)

        errors = []
        show = open_slideshow(context, lab_server, deadline, errors)

        menu = show.locator(".widget-dropdown select").first
        for _ in range(STEPS):
            if menu.count() and menu.is_visible():
                break
            show.keyboard.press("Space")  # Reveal: the next slide or fragment
            time.sleep(0.2)
        assert menu.count() and menu.is_visible(), (
            f"the explorer's policy menu never came on screen in the slideshow; "
            f"page errors: {errors[:5]}"
        )
        bad = bad_text(show)
        assert not bad, f"the slideshow shows {bad}"

        explorer = explorer_of(menu)

        def shown() -> str:
            return "\n".join(displayed(explorer))

        before = shown()
        values = menu.evaluate("s => [...s.options].map(o => o.value)")
        current = menu.input_value()
        other = next(v for v in values if v != current)
        menu.select_option(value=other)
        poll(deadline, f"waiting for the explorer to answer {current!r} -> {other!r}",
             lambda: shown() != before, interval=0.25)  # fmt: skip
        print(f"RISE {NOTEBOOK}: explorer answered {current!r} -> {other!r} in the live slideshow")
    finally:
        context.close()
        lab_server.shutdown_kernels()
