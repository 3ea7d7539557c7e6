"""Run every notebook in a real JupyterLab in headless Chromium, as a student would.

For each notebook: open it, run all cells, then check that nothing failed
(no error outputs, no tracebacks, no "Error displaying widget"), that every
widget output was rendered, and that changing a control of each explorer
(a cell whose output holds both controls and a display) changes what it
shows.  Each change is timed from the control change to the explorer's final
output (its last change, followed by 1.5 s without one), and so is the first
"Show answer"; the end of the run prints each notebook's median and worst
against the goal (0.3 s and 1 s): a figure to report, never an assertion.
A full-notebook screenshot goes to test-output/browser/NAME.png.

Set FAULTLAB_NOTEBOOK_DIR to test another folder of notebooks, and
FAULTLAB_BROWSER_TIMEOUT to change the per-notebook time limit (seconds).
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.parse
from pathlib import Path

import pytest

NOTEBOOK_TIMEOUT = float(os.environ.get("FAULTLAB_BROWSER_TIMEOUT", "180"))

# --- selectors (JupyterLab 4, ipywidgets 8; ipywidgets 7 names kept as fallbacks) ---
OUTPUT = ".jp-OutputArea-output"
STDERR_OUTPUT = f'{OUTPUT}[data-mime-type="application/vnd.jupyter.stderr"]'
WIDGET_OUTPUT = f'{OUTPUT}[data-mime-type="application/vnd.jupyter.widget-view+json"]'
WIDGET = ".jupyter-widgets"
DROPDOWN = ".widget-dropdown select"
SLIDER_HANDLE = ".widget-slider .noUi-handle, .widget-slider .ui-slider-handle"
# Clickable choices not currently selected: ToggleButtons, RadioButtons.
OTHER_CHOICE = (
    ".widget-toggle-buttons .widget-toggle-button:not(.mod-active), "
    ".widget-radio-box input[type=radio]:not(:checked)"
)
# Where an explorer shows its result: Output widget, image, HTML widgets.
DISPLAY = ".widget-output, .widget-image, .widget-html, .widget-htmlmath"
DIALOG_ACCEPT = ".jp-Dialog .jp-mod-accept"

WIDGET_SOURCE = re.compile(
    r"\bipywidgets\b|faultlab\.widgets|from\s+faultlab\s+import\s[^\n]*\bwidgets\b"
)
BAD_PAGE_TEXT = ("Error displaying widget", "model not found")

# State of the current notebook, read from JupyterLab's own models.
# A code cell is pending until it has an execution count and is no longer running.
JS_STATE = """
() => {
  const app = window.jupyterapp;
  if (!app) return {stage: 'no app'};
  const panel = app.shell.currentWidget;
  if (!panel || !panel.content || !panel.content.model || !panel.sessionContext)
    return {stage: 'no notebook'};
  const sc = panel.sessionContext;
  const kernel = sc.session ? sc.session.kernel : null;
  const cells = panel.content.model.cells;
  let pending = 0, errors = [];
  for (let i = 0; i < cells.length; i++) {
    const c = cells.get(i);
    if (c.type !== 'code') continue;
    const running = c.executionCount === null || c.executionState === 'running';
    if (c.sharedModel.getSource().trim() && running) pending++;
    for (let j = 0; j < c.outputs.length; j++) {
      const o = c.outputs.get(j).toJSON();
      if (o.output_type === 'error') errors.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
    }
  }
  return {
    stage: 'notebook',
    path: panel.context.path,
    ready: sc.isReady && panel.context.isReady,
    kernel: kernel ? kernel.status : null,
    pending: pending,
    errors: errors,
  };
}
"""

# Explorer cells: code cells whose output holds at least one control and one display.
JS_EXPLORERS = """
([DROPDOWN, SLIDER_HANDLE, OTHER_CHOICE, DISPLAY]) => {
  const found = [];
  document.querySelectorAll('.jp-Notebook .jp-CodeCell').forEach((cell, i) => {
    const out = cell.querySelector('.jp-OutputArea');
    if (!out) return;
    const dropdowns = out.querySelectorAll(DROPDOWN).length;
    const sliders = out.querySelectorAll(SLIDER_HANDLE).length;
    const choices = out.querySelectorAll(OTHER_CHOICE).length;
    const displays = out.querySelectorAll(DISPLAY).length;
    if ((dropdowns || sliders || choices) && displays)
      found.push({cell: i, dropdowns, sliders, choices});
  });
  return found;
}
"""

# What an explorer cell shows: its displays' HTML and image sources.
JS_FINGERPRINT = """
([index, DISPLAY]) => {
  const cell = document.querySelectorAll('.jp-Notebook .jp-CodeCell')[index];
  const out = cell.querySelector('.jp-OutputArea');
  const parts = [];
  out.querySelectorAll(DISPLAY).forEach(el => parts.push(el.innerHTML));
  out.querySelectorAll('img').forEach(el => parts.push(el.src));
  return parts.join('\\n');
}
"""


# Latency: watch an explorer's displays and note the time of each change.
# Changes of the controls themselves (a slider's readout) are not counted.
JS_WATCH = """
([index, DISPLAY]) => {
  const cell = document.querySelectorAll('.jp-Notebook .jp-CodeCell')[index];
  const out = cell.querySelector('.jp-OutputArea');
  if (window.__flWatch) window.__flWatch.obs.disconnect();
  const rec = {t0: performance.now(), last: null};
  const obs = new MutationObserver(muts => {
    for (const m of muts) {
      const el = m.target.nodeType === 1 ? m.target : m.target.parentElement;
      if (el && el.closest(DISPLAY)) rec.last = performance.now();
    }
  });
  obs.observe(out, {subtree: true, childList: true, characterData: true,
                    attributes: true, attributeFilter: ['src']});
  window.__flWatch = {rec, obs};
}
"""
JS_START = "() => { window.__flWatch.rec.t0 = performance.now(); window.__flWatch.rec.last = null; }"
JS_WATCHED = """
() => { const r = window.__flWatch.rec, now = performance.now();
        return {since_last: r.last === null ? null : now - r.last,
                latency: r.last === null ? null : r.last - r.t0}; }
"""
QUIET = 1.5  # seconds with no further change: the output is final


class Deadline:
    """One time budget for a whole notebook, shared by every wait."""

    def __init__(self, seconds: float, what: str):
        self.end = time.monotonic() + seconds
        self.what = what

    def left(self) -> float:
        return self.end - time.monotonic()

    def ms(self, cap: float | None = None) -> float:
        """Remaining time in milliseconds for Playwright, at least 1 s, at most cap s."""
        left = max(self.left(), 1.0)
        return 1000 * (min(left, cap) if cap else left)

    def check(self, doing: str) -> None:
        if self.left() <= 0:
            pytest.fail(
                f"{self.what}: time limit of {NOTEBOOK_TIMEOUT:.0f} s reached while {doing}",
                pytrace=False,
            )


def poll(deadline: Deadline, doing: str, probe, interval: float = 0.5, settle: int = 1):
    """Call probe() until it returns a true value `settle` times in a row; return it."""
    streak = 0
    while True:
        value = probe()
        streak = streak + 1 if value else 0
        if streak >= settle:
            return value
        deadline.check(doing)
        time.sleep(interval)


def accept_dialogs(page) -> None:
    """Accept a dialog such as "Select Kernel" if JupyterLab shows one."""
    button = page.locator(DIALOG_ACCEPT)
    if button.count():
        button.first.click()


def problems_on_page(page) -> list[str]:
    """Error outputs, tracebacks and widget failures visible right now."""
    found = []
    state = page.evaluate(JS_STATE)
    found += [f"error output in {e}" for e in state.get("errors", [])]
    for text in page.locator(STDERR_OUTPUT).all_inner_texts():
        if "Traceback" in text or "Javascript Error" in text:
            found.append("traceback on stderr: " + text.strip()[:800])
    body = page.evaluate("document.body.innerText")
    found += [f"page shows {bad!r}" for bad in BAD_PAGE_TEXT if bad in body]
    return found


def unrendered_widget_outputs(page) -> int:
    """Number of widget-view outputs with no rendered widget inside (yet)."""
    return page.evaluate(
        """([sel, widget]) => [...document.querySelectorAll(sel)]
             .filter(el => !(el.matches(widget) || el.querySelector(widget))).length""",
        [WIDGET_OUTPUT, WIDGET],
    )


def fingerprint(page, cell: int) -> str:
    return page.evaluate(JS_FINGERPRINT, [cell, DISPLAY])


def timed_change(page, deadline, cell: int, before: str, act, *args) -> tuple[str, float | None]:
    """Do `act`; return what it did and the seconds until the explorer's output
    was final (its last change, then QUIET seconds without one), or None if
    nothing it shows changed within 30 s."""
    page.evaluate(JS_WATCH, [cell, DISPLAY])
    page.evaluate(JS_START)
    what = act(page, cell, *args)
    if not what:
        return what, None
    end = min(deadline.left(), 30.0) + time.monotonic()
    while time.monotonic() < end:
        w = page.evaluate(JS_WATCHED)
        if w["since_last"] is not None and w["since_last"] >= QUIET * 1000:
            changed = fingerprint(page, cell) != before
            return what, (w["latency"] / 1000.0 if changed else None)
        time.sleep(0.1)
    return what, None


def code_cell(page, index: int):
    return page.locator(".jp-Notebook .jp-CodeCell").nth(index)


def change_dropdown(page, cell: int) -> str:
    select = code_cell(page, cell).locator(DROPDOWN).first
    values = select.evaluate("s => [...s.options].map(o => o.value)")
    current = select.input_value()
    if len(values) < 2:
        return ""
    nxt = values[(values.index(current) + 1) % len(values)] if current in values else values[0]
    select.select_option(value=nxt)
    return f"dropdown {current!r} -> {nxt!r}"


def nudge_slider(page, cell: int, key: str) -> str:
    handle = code_cell(page, cell).locator(SLIDER_HANDLE).first
    handle.scroll_into_view_if_needed()
    handle.focus()
    handle.press(key)
    return f"slider {key}"


def pick_other_choice(page, cell: int) -> str:
    choice = code_cell(page, cell).locator(OTHER_CHOICE).first
    label = choice.evaluate("el => el.textContent || el.value || ''").strip()
    choice.click()
    return f"choice {label!r}"


def screenshot(page, path: Path) -> None:
    """Grow the viewport to the notebook's height so the picture shows every cell."""
    path.parent.mkdir(parents=True, exist_ok=True)
    height = page.evaluate(
        """() => {
             const nb = document.querySelector('.jp-NotebookPanel-notebook');
             if (!nb) return 0;
             const scroller = nb.querySelector('.jp-WindowedPanel-outer') || nb;
             // page height = chrome around the scroller + everything inside it
             return window.innerHeight - scroller.clientHeight + scroller.scrollHeight;
           }"""
    )
    page.set_viewport_size({"width": 1400, "height": int(min(max(1000, height + 40), 32000))})
    page.evaluate(
        """() => document.querySelectorAll('.jp-NotebookPanel-notebook, .jp-WindowedPanel-outer')
                   .forEach(el => { el.scrollTop = 0; })"""
    )
    page.wait_for_timeout(500)
    page.screenshot(path=str(path), full_page=True)


# `notebook` is parametrized by conftest.pytest_generate_tests, one per notebook.
def test_notebook_in_jupyterlab(notebook, lab_server, page, screenshot_dir, latency_log):
    name = notebook.name
    deadline = Deadline(NOTEBOOK_TIMEOUT, name)
    source = "\n".join(
        "".join(c.get("source", "")) for c in json.loads(notebook.read_text())["cells"]
    )
    uses_widgets = bool(WIDGET_SOURCE.search(source))
    page.set_default_timeout(30_000)

    def fail(msg: str) -> None:
        extra = "\n".join(page.console_errors[-10:])
        pytest.fail(
            f"{name}: {msg}"
            + (f"\nbrowser console errors:\n{extra}" if extra else "")
            + f"\nserver log tail:\n{lab_server.log_tail(15)}",
            pytrace=False,
        )

    try:
        # 1. Open the notebook in a reset workspace and wait for an idle kernel.
        url = (
            f"{lab_server.base_url}/lab/tree/{urllib.parse.quote(name)}"
            f"?reset&token={lab_server.token}"
        )
        page.goto(url, timeout=deadline.ms(60))

        def kernel_ready():
            accept_dialogs(page)
            s = page.evaluate(JS_STATE)
            return s.get("path") == name and s.get("ready") and s.get("kernel") == "idle"

        poll(deadline, "waiting for the kernel", kernel_ready)

        # 2. Clear the committed outputs (so stale counts cannot pass), then run all.
        page.evaluate(
            """async () => {
                 await window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs');
                 window.jupyterapp.commands.execute('notebook:run-all-cells');
               }"""
        )

        def finished():
            s = page.evaluate(JS_STATE)
            idle = s.get("kernel") == "idle"
            return s if idle and (s["pending"] == 0 or s["errors"]) else None

        state = poll(deadline, "running all cells", finished, settle=3)
        if state["errors"]:
            fail("error outputs after run-all:\n" + "\n".join(state["errors"]))

        # 3. Widgets render asynchronously: wait until none is left unrendered.
        if uses_widgets:
            poll(
                deadline,
                "waiting for widgets to render",
                lambda: (
                    page.locator(WIDGET).count() > 0
                    and unrendered_widget_outputs(page) == 0
                    or any(b in page.evaluate("document.body.innerText") for b in BAD_PAGE_TEXT)
                ),
            )
        problems = problems_on_page(page)
        if problems:
            fail("problems after run-all:\n" + "\n".join(problems))
        if uses_widgets:
            assert page.locator(WIDGET).count() > 0, f"{name}: no widget rendered"
            assert unrendered_widget_outputs(page) == 0, f"{name}: widget output left empty"

        # 4. Explorers: each control kind, once per explorer cell, must change the display.
        explorers = page.evaluate(JS_EXPLORERS, [DROPDOWN, SLIDER_HANDLE, OTHER_CHOICE, DISPLAY])
        if re.search(r"explorer", source, re.I) and uses_widgets and not explorers:
            fail("the notebook mentions an explorer but no cell shows controls with a display")
        # Each change is timed (control change -> final output): a figure, not a limit.
        times = latency_log.setdefault(notebook.stem, {}).setdefault("explorer", [])
        for ex in explorers:
            cell = ex["cell"]
            actions = []
            if ex["dropdowns"]:
                actions += [(change_dropdown, ())] * 3
            if ex["sliders"]:
                actions += [(nudge_slider, ("ArrowRight",)), (nudge_slider, ("ArrowLeft",))]
            if ex["choices"]:
                actions.append((pick_other_choice, ()))
            for act, args in actions:
                before = fingerprint(page, cell)
                what, seconds = timed_change(page, deadline, cell, before, act, *args)
                if not what:
                    continue
                if seconds is None and what.startswith("slider"):
                    # The slider may have been at its end: go the other way.
                    other = "ArrowLeft" if args == ("ArrowRight",) else "ArrowRight"
                    what, seconds = timed_change(page, deadline, cell, before, nudge_slider, other)
                if seconds is None:
                    fail(f"explorer in code cell {cell}: {what} did not change its output")
                times.append(seconds)
                print(f"{name}: explorer in code cell {cell}: {what}: final output after {seconds:.2f} s")
            problems = problems_on_page(page)
            if problems:
                fail(f"problems after using the explorer in cell {cell}:\n" + "\n".join(problems))

        # 5. Exercises: pressing the first "Show answer" computes the answer and shows it.
        if "Reveal(" in source:
            button = page.locator("button.jupyter-button", has_text="Show answer").first
            if not button.count():
                fail("the notebook has exercises but no 'Show answer' button rendered")
            box = button.locator("xpath=ancestor::div[contains(@class, 'widget-vbox')][1]")
            before = box.inner_text()
            button.scroll_into_view_if_needed(timeout=deadline.ms(30))
            clicked = time.monotonic()
            button.click(timeout=deadline.ms(30))
            poll(deadline, "waiting for an exercise's answer",
                 lambda: box.locator(".faultlab-answer").count() > 0 and box.inner_text() != before
                 and button.is_disabled(), interval=0.05)
            latency_log.setdefault(notebook.stem, {})["answer"] = [time.monotonic() - clicked]
            answer = box.locator(".faultlab-answer").first.inner_text()
            if not answer.strip() or answer.startswith("Could not compute"):
                fail(f"the first exercise's answer is empty or failed: {answer[:200]!r}")
            print(f"{name}: first exercise answered ({len(answer)} characters)")
            problems = problems_on_page(page)
            if problems:
                fail("problems after showing an answer:\n" + "\n".join(problems))
    finally:
        try:
            screenshot(page, screenshot_dir / f"{notebook.stem}.png")
        except Exception:
            pass  # a screenshot must never hide the real failure
