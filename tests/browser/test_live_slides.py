"""One notebook presented live inside JupyterLab (jupyterlab-slideshow), explorer working.

RISE's slideshow page cannot load the ipywidgets 8 widget manager
(jupyterlab-contrib/rise#119, see test_rise.py), so its explorers stay blank.
jupyterlab-slideshow presents the notebook in JupyterLab's own shell, where the
widget manager already runs, reading the same `slideshow.slide_type` metadata.

The test runs notebooks/00_start_here.ipynb in JupyterLab and saves it, selects
the first cell, starts the deck with the deck button of the notebook toolbar
(command `deck:toggle`; the palette's Start Deck is `deck:start`), and presses the space bar until the explorer's policy menu
is on screen.  It checks that the deck really presents (the first slide is
hidden), picks another policy and then moves a slider with the keyboard, and
after each change waits until the explorer has finished running the model and
shows something else; the explorer must stay on screen throughout (the arrow
key goes to the slider, not to the deck) and the page must raise no errors.
Finally it stops the deck (`deck:stop`) and waits until the deck's `active`
user setting is false again: the extension keeps that setting, and a deck left
active would open the next JupyterLab session on this server in deck mode.
A screenshot of the explorer slide goes to
test-output/browser/live_slides_00_start_here.png.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request

import pytest
from test_jupyterlab import DROPDOWN, SLIDER_HANDLE, Deadline, poll
from test_rise import NOTEBOOK, bad_text, displayed, explorer_of, run_and_save

STEPS = 80  # space-bar presses through the deck, at most
DECK_BUTTON = '.jp-NotebookPanel-toolbar [data-jp-item-name="deck"] [data-command="deck:toggle"]'
SETTINGS = "/lab/api/settings/jupyterlab-slideshow:plugin"
ONSCREEN = ".jp-deck-mod-onscreen"  # the cells of the current slide
BUSY = ".faultlab-busy-note, .faultlab-busy"  # faultlab.widgets' marks while the model runs

# The deck's state, read from the page: presenting or not, the active cell, the cells on screen.
JS_DECK = """
() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel && panel.content ? [...panel.content.widgets] : [];
  return {
    presenting: document.body.dataset.jpDeckMode === 'presenting',
    active: panel && panel.content ? panel.content.activeCellIndex : null,
    onscreen: cells.flatMap((c, i) => c.node.classList.contains('jp-deck-mod-onscreen') ? [i] : []),
  };
}
"""


def deck_setting_active(lab_server) -> bool:
    """The deck's `active` user setting on the server."""
    return (lab_server.api("GET", SETTINGS) or {}).get("settings", {}).get("active") is True


def clear_deck_setting(lab_server) -> None:
    """Set `active` back to false on the server, for a test that failed while presenting."""
    body = json.dumps({"raw": json.dumps({"active": False})}).encode()
    req = urllib.request.Request(
        f"{lab_server.base_url}{SETTINGS}",
        data=body,
        method="PUT",
        headers={"Authorization": f"token {lab_server.token}", "Content-Type": "application/json"},
    )
    urllib.request.urlopen(req, timeout=10).close()


def test_live_slides_explorer(lab_server, browser, screenshot_dir):
    if not (lab_server.root_dir / NOTEBOOK).exists():
        pytest.skip(f"no {NOTEBOOK}")
    deadline = Deadline(240, f"live slides {NOTEBOOK}")
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        run_and_save(page, lab_server, deadline)
        assert page.evaluate("() => window.jupyterapp.commands.hasCommand('deck:start')"), (
            "JupyterLab has no deck:start command: jupyterlab-slideshow is not installed "
            "(pip install -e '.[lab]')"
        )

        button = page.locator(DECK_BUTTON)
        assert button.count() == 1, f"the notebook toolbar has {button.count()} deck buttons, not 1"
        page.locator(".jp-Notebook .jp-Cell").first.click()  # the first slide's cell
        button.click()
        start = poll(deadline, "waiting for the deck to start",
                     lambda: (s := page.evaluate(JS_DECK))["presenting"] and s["onscreen"] and s)  # fmt: skip
        assert start["onscreen"][0] == 0, f"the deck started at cell {start['onscreen']}, not at the first"

        menu = page.locator(f"{ONSCREEN} {DROPDOWN}").first
        presses = 0
        while presses < STEPS and not (menu.count() and menu.is_visible()):
            page.keyboard.press("Space")  # the deck: the next fragment, subslide or slide
            presses += 1
            time.sleep(0.2)
        assert menu.count() and menu.is_visible(), (
            f"the explorer's policy menu never came on screen in {presses} space presses; "
            f"the deck is at {page.evaluate(JS_DECK)}; page errors: {errors[:5]}"
        )
        at = page.evaluate(JS_DECK)
        assert 0 not in at["onscreen"] and not page.locator(".jp-Notebook .jp-Cell").first.is_visible(), (
            f"the first slide is still shown beside the explorer: the deck is not presenting ({at})"
        )
        bad = bad_text(page)
        assert not bad, f"the deck shows {bad}"

        explorer = explorer_of(menu)

        def shown() -> str:
            srcs = explorer.locator("img").evaluate_all("els => els.map(e => e.src)")
            return "\n".join(displayed(explorer) + srcs)

        def answered(before: str):
            """The explorer is done running and shows something else than `before`."""
            return lambda: not explorer.locator(BUSY).count() and shown() != before

        def still_on_screen(doing: str) -> None:
            now = page.evaluate(JS_DECK)
            assert now["onscreen"] == at["onscreen"] and menu.is_visible(), (
                f"{doing} moved the deck from cells {at['onscreen']} to {now['onscreen']}"
            )

        before = shown()
        values = menu.evaluate("s => [...s.options].map(o => o.value)")
        current = menu.input_value()
        other = next(v for v in values if v != current)
        menu.select_option(value=other)
        poll(deadline, f"waiting for the explorer to answer {current!r} -> {other!r}",
             answered(before), interval=0.25, settle=2)  # fmt: skip
        still_on_screen("picking a policy")

        handle = explorer.locator(SLIDER_HANDLE).first
        assert handle.count(), "the explorer has no slider"
        label = handle.evaluate(
            "h => { const w = h.closest('.widget-slider'); const l = w && w.querySelector('.widget-label');"
            " return l ? l.textContent.trim() : '?'; }"
        )
        value = handle.get_attribute("aria-valuenow")
        before = shown()
        handle.focus()
        key = "ArrowRight"
        handle.press(key)
        if handle.get_attribute("aria-valuenow") == value:  # at its right end: go the other way
            key = "ArrowLeft"
            handle.press(key)
        assert handle.get_attribute("aria-valuenow") != value, f"the slider {label!r} did not move"
        poll(deadline, f"waiting for the explorer to answer the slider {label!r}",
             answered(before), interval=0.25, settle=2)  # fmt: skip
        still_on_screen(f"{key} on the slider {label!r}")

        screenshot_dir.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot_dir / f"live_slides_{NOTEBOOK.removesuffix('.ipynb')}.png"))
        assert not errors, f"page errors in the deck: {errors[:5]}"

        page.evaluate("() => window.jupyterapp.commands.execute('deck:stop')")
        poll(deadline, "waiting for the deck to stop",
             lambda: not page.evaluate(JS_DECK)["presenting"] and not deck_setting_active(lab_server))  # fmt: skip
        print(f"live slides {NOTEBOOK}: deck button, {presses} space presses to the explorer "
              f"(cell {at['active']}), policy {current!r} -> {other!r} and slider {label!r} {key} "
              f"each changed its output, deck:stop; no page errors")  # fmt: skip
    finally:
        context.close()
        if deck_setting_active(lab_server):
            clear_deck_setting(lab_server)
        lab_server.shutdown_kernels()
