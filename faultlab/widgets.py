"""Explorers: a few sliders over one preset, a timeline and a summary that follow them.

    from faultlab.widgets import explore
    explore("convoy")          # two_thread: the 2006 convoy, policy by policy

Each explorer is a class with

- ``widget``    the ipywidgets container to display (the explorer displays as it, too);
- ``controls``  name -> widget; the names are the preset's parameters;
- ``update()``  rerun the model with the controls' values, redraw, and return the
                run's summary dict (``Result.summary()`` plus an ``explorer`` part),
                or, if the values make no valid scenario, the message saying why;
- ``last_summary`` / ``last_message`` / ``last_result`` what the last update produced.

Changing a control reruns by itself (sliders only when let go:
``continuous_update=False``), so ``update()`` is for code and tests; to
change several controls with one rerun use ``set(name=value, ...)``, which
checks every value before it changes any control and names the control
it refuses. A slider's range is the one the schema offers for its preset
parameter (``workloads.PARAMS[name].ui``); a number set outside it is
clamped, a dropdown refuses a value it does not list. A scenario the model
rejects shows the model's ValueError as a message in the widget, never a
traceback. Every answer is kept quick: a run estimated to cost more than
``EXPLORER_MAX_OPS`` operations is shortened (and says so).
From the moment a control changes until the new picture is in, the
explorer says it is running the model and dims the old summary and
picture. The picture is one ``Image`` whose PNG is swapped in place, drawn
into one figure whose Axes are emptied and drawn into again, not
re-created; its layout and its background (axes, ticks, labels, legend)
are drawn once per shape and kept (``png_bytes``), the same picture a
whole save makes. A control change back to one of the last
``ANSWERS_KEPT`` settings shows what was kept of it without running the
model again (a scenario and its seed make the same run).

``Reveal(answer_fn)`` is an exercise's button: it computes the answer (by
running faultlab, usually a function of ``faultlab.exercises``) only when
asked, says it is working meanwhile, and shows a table and wrapped prose.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import html
import io
import math
import numbers

import ipywidgets as W
import matplotlib.image as mimage
import matplotlib.pyplot as plt
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from . import plots, record
from .kernel_lab import twin
from .policies import POLICIES
from .scenario import Script
from .sim import run
from .errors import InputError
from .schema import EXPLORER_MAX_OPS, refuse
from .workloads import PARAMS, PRESETS, get_preset

_STYLE = {"description_width": "initial"}
_WIDE = W.Layout(width="420px")
COUNTED_EVENTS = (record.RETRY, record.EVICT, record.REVALIDATED, record.KERNEL_BUG)
BUSY_HTML = "<p class='faultlab-busy-note' style='color:#555;margin:0'><i>{what}…</i></p>"
_BUSY_STYLE = "<style>.faultlab-busy{opacity:0.4;transition:opacity 0.1s}</style>"
FIGURE_DPI = 72
ANSWERS_KEPT = 8          # settings an explorer shows again without rerunning (each keeps its run)


_LAYOUTS: dict = {}       # layout_key(fig) -> the axes' positions constrained layout gave that shape
_LAYOUTS_KEPT = 256


def _tick_texts(axis) -> tuple:
    """The tick labels an axis will draw (what their size takes from the layout)."""
    lo, hi = sorted(axis.get_view_interval())
    locs = [v for v in axis.get_major_locator()() if lo <= v <= hi]
    return tuple(axis.get_major_formatter().format_ticks(locs))


def _title_extent(title, renderer):
    """What a centred title takes from constrained layout: its height above and below the
    baseline, never its width (``Axes.get_tightbbox(for_layout_only=True)`` narrows a
    title to a pixel); None if it shows nothing."""
    if not title.get_visible() or not title.get_text():
        return None
    box = title.get_window_extent(renderer)
    base = title.get_transform().transform(title.get_position())[1]
    return (round(box.y1 - base, 3), round(base - box.y0, 3))


def layout_key(fig) -> tuple:
    """Everything constrained layout places a figure's axes by: the figure's size and, for
    each Axes, its position in the grid and the text around it (tick labels, axis labels,
    the centred title's height, the side titles, texts, legend entries), and the figure's
    own legends and titles. A centred title naming another policy in the same type takes
    the same room: the same key."""
    def legend(leg):
        return None if leg is None else (tuple(t.get_text() for t in leg.get_texts()), leg._ncols)
    agg = isinstance(fig.canvas, FigureCanvasAgg)
    renderer = fig.canvas.get_renderer() if agg else None
    parts = [tuple(fig.get_size_inches().round(4)), fig.dpi]
    for ax in fig.axes:
        spec = ax.get_subplotspec()
        title = _title_extent(ax.title, renderer) if agg else ax.get_title()
        parts.append((None if spec is None else (spec.rowspan, spec.colspan),
                      _tick_texts(ax.xaxis), _tick_texts(ax.yaxis), ax.get_xlabel(), ax.get_ylabel(),
                      (title, ax.get_title(loc="left"), ax.get_title(loc="right")),
                      tuple((t.get_text(), tuple(t.get_position())) for t in ax.texts),
                      legend(ax.get_legend())))
    parts.append(tuple(legend(leg) for leg in fig.legends))
    parts.append(tuple(t.get_text() for t in (fig._suptitle, fig._supxlabel, fig._supylabel) if t))
    return tuple(parts)


def _foreground(ax) -> list:
    """What a redraw of an explorer's Axes changes: what was drawn into it (bars, markers,
    patches, texts), its titles, and the spines that frame the bars (drawn over them), in
    the order the Axes draws them. Everything else of the Axes is its background."""
    spines = list(ax.spines.values()) if ax.axison and ax.get_frame_on() else []
    drawn = [a for a in [*ax._children, *spines, ax.title, ax._left_title, ax._right_title]
             if a.get_visible()]
    return sorted(drawn, key=lambda a: a.zorder)


def _view_key(fig) -> tuple:
    """Where each Axes sits and where its ticks and grid lines fall (with layout_key: all
    the background depends on)."""
    return tuple((tuple(ax.get_position().bounds), tuple(ax.get_xlim()), tuple(ax.get_ylim()),
                  tuple(ax.xaxis.get_major_locator()()), tuple(ax.yaxis.get_major_locator()()))
                 for ax in fig.axes)


_BACKGROUNDS_KEPT = 8     # per figure; each is a copy of the whole canvas


def _draw_on_background(fig, key) -> None:
    """Draw ``fig`` into its Agg canvas: the background (axes, ticks, grid lines, labels,
    legend) from a copy kept on the figure under ``key`` and the view, else drawn without
    the foreground (laying the figure out first if it has a layout engine) and kept; then
    each Axes' foreground in the Axes' own order. Background and foreground do not overlap
    (the legend sits below the axis, the titles above it), so this is what one whole draw
    makes, pixel for pixel."""
    canvas = fig.canvas
    kept = fig.__dict__.setdefault("_faultlab_backgrounds", {})
    front = [_foreground(ax) for ax in fig.axes]
    background = kept.get((key, _view_key(fig))) if fig.get_layout_engine() is None else None
    if background is None:
        every = [a for arts in front for a in arts]
        for art in every:
            art.set_animated(True)                   # a draw that is not a save leaves these out
        try:
            canvas.draw()
        finally:
            for art in every:
                art.set_animated(False)
        if len(kept) >= _BACKGROUNDS_KEPT:
            kept.clear()
        kept[key, _view_key(fig)] = canvas.copy_from_bbox(fig.bbox)
    else:
        canvas.restore_region(background)
    renderer = canvas.get_renderer()
    for ax, arts in zip(fig.axes, front):
        ax._update_title_position(renderer)
        for art in arts:
            art.draw(renderer)


def png_bytes(fig) -> bytes:
    """The figure as PNG, as a notebook would show it.

    A figure laid out by constrained layout costs a layout pass and an extra drawing
    pass on every save, most of a redraw's time. The positions the layout gives a figure
    are kept under ``layout_key(fig)``; a later figure with the same key (an explorer's
    redraw after a control changed the bars, not the text around them) gets those
    positions and is drawn without a layout engine. Drawing the axes, ticks, labels and
    legend is most of what is left: a figure at ``FIGURE_DPI`` on an Agg canvas (an
    explorer's) keeps a copy of that background per layout and view, and a redraw draws
    only the bars, markers, titles and frame over it. The same picture and the same PNG
    bytes as ``savefig`` (tested)."""
    from matplotlib.layout_engine import ConstrainedLayoutEngine
    key = None
    if isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine):
        for ax in fig.axes:                  # where a new figure's Axes start (reused ones too):
            spec = ax.get_subplotspec()      # the ticks an axis picks depend on its length
            if spec is not None:
                ax._set_position(spec.get_position(fig))
        key = layout_key(fig)
    kept = _LAYOUTS.get(key) if key is not None else None
    if kept is not None:
        fig.set_layout_engine(None)
        for ax, pos in zip(fig.axes, kept):
            ax._set_position(pos)         # set_position would take the Axes out of later layouts
    buf = io.BytesIO()
    if fig.dpi != FIGURE_DPI or type(fig.canvas) is not FigureCanvasAgg:
        fig.savefig(buf, format="png", dpi=FIGURE_DPI)
    else:
        _draw_on_background(fig, key if key is not None else layout_key(fig))
        mimage.imsave(buf, fig.canvas.buffer_rgba(), format="png", origin="upper",
                      dpi=fig.dpi)                   # what savefig's print_png does with the canvas
    if key is not None and kept is None:
        if len(_LAYOUTS) >= _LAYOUTS_KEPT:
            _LAYOUTS.clear()
        _LAYOUTS[key] = [ax.get_position(original=False).frozen() for ax in fig.axes]
    return buf.getvalue()


@contextlib.contextmanager
def collections_deferred():
    """Python's cyclic garbage collector paused while an answer is computed and shown, and
    resumed after (if it was on). A run makes tens of thousands of objects; a full
    collection in the middle of one walks every object of the kernel (the kept answers
    too) and once took a fifth of a second, longer than drawing the picture. Nothing is
    skipped: what would have been collected is collected at the next allocation after."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _empty(ax) -> None:
    """Take out of ``ax`` what a drawing put in (artists, legend, titles, axis labels);
    its ticks, limits and grid are set again by the next drawing."""
    for art in list(ax._children):
        art.remove()
    if ax.legend_ is not None:
        ax.legend_.remove()
    for loc in ("left", "center", "right"):
        ax.set_title("", loc=loc)
    ax.set_xlabel("")
    ax.set_ylabel("")


def _esc(text) -> str:
    """Text into HTML element content (quotes need no escaping there)."""
    return html.escape(str(text), quote=False)


def _clean(value):
    """A slider's float without its binary noise (21.000000000000004 -> 21.0)."""
    return round(value, 9) if isinstance(value, float) else value


def policy_options(upto=None, first="sync"):
    """The policy menu as (label, name) pairs: every registered design. With ``upto``
    (a notebook number such as "00"), ``first`` and the designs introduced by then
    (``policy.notebook``) come first, and the rest follow, each labelled "later" with
    the notebook that introduces it."""
    if upto is None:
        return [(p, p) for p in POLICIES]

    def notebook(p):
        return (POLICIES[p].notebook or "")[:2]
    known = [p for p in POLICIES if p == first or (notebook(p) and notebook(p) <= upto)]
    later = [p for p in POLICIES if p not in known]
    return [(p, p) for p in known] + [
        (f"later: {p}" + (f" (notebook {notebook(p)})" if notebook(p) else ""), p) for p in later]


def dropdown(options, value, description):
    return W.Dropdown(options=list(options), value=value, description=description, style=_STYLE,
                      layout=_WIDE)


def slider(value, low, high, step, description, integer=False):
    cls = W.IntSlider if integer else W.FloatSlider
    return cls(value=value, min=low, max=high, step=step, description=description,
               continuous_update=False, style=_STYLE, layout=_WIDE)


def log_slider(value, low_exp, high_exp, description):
    return W.FloatLogSlider(value=value, base=10, min=low_exp, max=high_exp, step=0.05,
                            description=description, continuous_update=False, style=_STYLE,
                            layout=_WIDE, readout_format=".3g")


def checkbox(value, description):
    return W.Checkbox(value=value, description=description, style=_STYLE, indent=False)


def param_control(name, value, description):
    """The control for preset parameter ``name``, with the range the schema offers for it."""
    spec = PARAMS[name]
    if spec.kind == "bool":
        return checkbox(value, description)
    if spec.kind == "choice":
        return dropdown(spec.options(), value, description)
    low, high, step = spec.ui
    if step == "log":
        return log_slider(value, math.log10(low), math.log10(high), description)
    return slider(value, low, high, step, description, integer=spec.kind == "int")


def _refusal(name, control, value):
    """Why ``control`` cannot take ``value`` (None if it can), naming the control."""
    what = f"{name} ({control.description})"
    if isinstance(control, W.Dropdown):
        allowed = [o[1] if isinstance(o, tuple) else o for o in control.options]    # (label, value) pairs too
        try:
            ok = value in allowed
        except TypeError:
            ok = False
        return None if ok else f"{what}: must be one of {', '.join(map(str, allowed))}, got {value!r}"
    if isinstance(control, W.Checkbox):
        return None if isinstance(value, bool) else f"{what}: must be true or false, got {value!r}"
    number = numbers.Integral if isinstance(control, W.IntSlider) else numbers.Real
    if isinstance(value, bool) or not isinstance(value, number) or value != value:
        kind = "a whole number" if number is numbers.Integral else "a number"
        return f"{what}: must be {kind} (from {control.min} to {control.max}), got {value!r}"
    return None


def preset_text(preset, params) -> str:
    """The call that builds the same scenario in a cell of your own."""
    args = ", ".join(f"{k}={v!r}" for k, v in params.items())
    return f"faultlab.workloads.{preset}({args})"


SHORT_RUN_HTML = ("<p><i>Run length</i>: {ms:g} simulated ms, kept short so that the explorer "
                  "answers at once; for a longer run, change <code>until_ms</code> in the line below.</p>")


class Explorer:
    """One preset, its controls, a timeline and a summary table."""

    preset = ""
    title = ""
    intro = ""
    fixed: dict = {}          # preset parameters the explorer sets but does not show
    rows: tuple = ()          # (label, dotted path into the summary)
    SHORT_MS: dict = {}       # preset -> the run length (ms) chosen short to answer at once (said so)

    def __init__(self, run_now=True, upto=None, **values):
        self.upto = upto               # a notebook number: label the designs it has not introduced
        self.controls = self.make_controls()
        self.last_summary = None
        self.last_message = None
        self.last_result = None
        self.last_figure = None        # the last figure drawn (a setting shown again is not redrawn)
        self._figure = None            # the one figure ``canvas`` redraws in place
        self._answers = {}             # a setting's controls -> what update() showed for it
        self._quiet = False
        self.header = W.HTML(f"{_BUSY_STYLE}<h4>{_esc(self.title)}</h4><p>{self.intro}</p>")
        self.status = W.HTML()         # "Running the model..." from a control's change to the new figure
        self.message = W.HTML()
        self.summary_box = W.HTML()
        self.image = W.Image(format="png", layout=W.Layout(max_width="100%", height="auto"))
        self.widget = W.VBox([self.header, W.VBox(list(self.controls.values())), self.status,
                              self.message, self.summary_box, self.image])
        for c in self.controls.values():
            c.observe(self._changed, names="value")
        self.set(run_now=run_now, **values)

    # -- to override ------------------------------------------------------------
    def make_controls(self) -> dict:
        raise NotImplementedError

    def params(self) -> dict:
        """The preset's keyword arguments: the controls' values and the fixed ones."""
        return {**{k: _clean(c.value) for k, c in self.controls.items()}, **self.fixed}

    def scenario(self):
        """The scenario to run; a ValueError here is shown as a message."""
        return get_preset(self.preset)(**self.params())

    def derive(self, result, summary) -> dict:
        """Extra numbers for the summary (under ``"explorer"``)."""
        return {}

    def figure(self, result):
        """The picture of a run: a timeline, drawn into the explorer's one figure."""
        return plots.timeline(result, ax=self.canvas(len(result.threads)))

    def canvas(self, lanes, rows=1, height=None):
        """The explorer's figure, emptied, sized for ``lanes`` lanes (or ``height`` inches),
        with ``rows`` Axes one above the other (sharing x) to draw into: the Axes, or a list.
        One figure is reused from run to run, and so are its Axes while its shape stays:
        only what was drawn into them (and their titles, labels, legend) is taken out, and
        the next drawing sets the rest again. Making Axes anew and saving them whole is
        what a redraw spent most of its time on (see ``png_bytes``)."""
        size = (11.0, float(height if height is not None else min(2.2 + 0.45 * lanes, 14)))
        fig = self._figure
        if fig is not None and len(fig.axes) == rows and tuple(fig.get_size_inches()) == size:
            for ax in fig.axes:
                _empty(ax)
        else:
            if fig is None:
                fig = self._figure = Figure(dpi=FIGURE_DPI)
                FigureCanvasAgg(fig)
            fig.clf()
            fig.set_size_inches(*size)
            fig.subplots(rows, 1, sharex=True, squeeze=False)
        fig.set_layout_engine("constrained")              # png_bytes may have set it aside
        return fig.axes[0] if rows == 1 else list(fig.axes)

    def summary_rows(self, summary):
        return list(self.rows)

    # -- the machinery ------------------------------------------------------------
    def set(self, run_now=True, **values):
        """Set several controls, then rerun once. Unknown names are a ValueError."""
        unknown = [k for k in values if k not in self.controls]
        if unknown:
            raise refuse(unknown[0], f"{type(self).__name__} has no control {unknown[0]!r}; "
                         f"it has {', '.join(self.controls)}")
        for k, v in values.items():                # all checked before any control changes
            why = _refusal(k, self.controls[k], v)
            if why:
                raise InputError(why)
        self._quiet = True
        try:
            for k, v in values.items():
                self.controls[k].value = v.item() if hasattr(v, "item") else v
        finally:
            self._quiet = False
        return self.update() if run_now else None

    def _changed(self, change):
        if not self._quiet:
            self.status.value = BUSY_HTML.format(what="Running the model")     # reaches the page at once
            self.summary_box.add_class("faultlab-busy")
            self.image.add_class("faultlab-busy")
            try:
                with collections_deferred():
                    self.update(reuse=True)
            finally:
                self.status.value = ""
                self.summary_box.remove_class("faultlab-busy")
                self.image.remove_class("faultlab-busy")

    def answer_key(self) -> tuple:
        """What an answer depends on: the controls' values, the fixed parameters and the
        explorer's run-length bound (a run is a function of its scenario and seed)."""
        return (tuple((k, _clean(c.value)) for k, c in self.controls.items()),
                tuple(sorted(self.fixed.items())), EXPLORER_MAX_OPS)

    def update(self, reuse=False):
        """Rerun with the controls' values; return the summary dict, or the message.
        ``reuse``: a setting shown before (one of the last ``ANSWERS_KEPT``) is shown again
        from what was kept of it, without running or drawing (what a control change does:
        the same scenario and seed make the same run, so the same answer)."""
        key = self.answer_key()
        if reuse and key in self._answers:
            self._answers[key] = answer = self._answers.pop(key)      # most recent last
            return self._show(*answer)
        try:
            asked = self.scenario()
            asked.check()
            scenario = asked.within(EXPLORER_MAX_OPS)
            result = run(scenario)
        except ValueError as e:
            return self._fail(str(e))
        summary = result.summary()
        counts = record.counts(result.events, COUNTED_EVENTS)
        summary["explorer"] = {"trace_counts": counts, **self.derive(result, summary)}
        self.last_result = result               # summary_rows may read the run
        message = ("" if scenario is asked else
                   f"<div>These settings make a long run: it is shortened to "
                   f"{scenario.until_ms:g} ms of the {asked.until_ms:g} ms asked, to answer "
                   f"quickly. For the whole run: <code>faultlab.run(...)</code> below.</div>")
        summary_html = self._summary_html(summary)
        fig = self.figure(result)
        self.last_figure = fig
        picture = png_bytes(fig)
        if fig is not self._figure:
            plt.close(fig)                      # a figure of its own (a subclass's): not kept
        if len(self._answers) >= ANSWERS_KEPT:
            del self._answers[next(iter(self._answers))]               # the least recent
        self._answers[key] = (result, summary, message, summary_html, picture)
        return self._show(*self._answers[key])

    def _show(self, result, summary, message, summary_html, picture):
        self.last_result, self.last_summary, self.last_message = result, summary, None
        self.message.value = message
        self.summary_box.value = summary_html
        self.image.value = picture              # the picture is swapped in place, not redisplayed
        return summary

    def _fail(self, message):
        self.last_result, self.last_summary, self.last_message = None, None, message
        self.message.value = (f"<div style='color:#B00020'><b>Not a valid run:</b> "
                              f"{_esc(message)}</div>")
        self.summary_box.value = ""
        self.image.value = b""
        return message

    def _summary_html(self, summary) -> str:
        policy = POLICIES[summary["policy"]]
        cells = "".join(
            f"<tr><td style='text-align:left;padding-right:1em'>{_esc(label)}</td>"
            f"<td style='text-align:right'>{_esc(plots.format_number(plots.metric(summary, path)))}"
            f"</td></tr>" for label, path in self.summary_rows(summary))
        bugs = "".join(f"<div style='color:#B00020'><b>kernel bug</b> at {b['t_us'] / 1000:.3f} ms "
                       f"in {_esc(b['task'])}: {_esc(b['bug'])}</div>"
                       for b in summary["kernel_bugs"])
        params = self.params()
        short = self.SHORT_MS.get(self.preset)
        note = SHORT_RUN_HTML.format(ms=short) if short is not None and params.get("until_ms") == short else ""
        return (f"<p><b>{_esc(policy.name)}</b>: {_esc(policy.summary)}</p>"
                f"<table>{cells}</table>{bugs}{note}"
                f"<p><code>{_esc(self.call_text(params))}</code></p>")

    def call_text(self, params) -> str:
        """The line that makes the same run in a cell of your own."""
        return f"faultlab.run({preset_text(self.preset, params)})"

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


class ConvoyExplorer(Explorer):
    preset = "two_thread"
    title = "The convoy: one reader, one mapper"
    intro = ("Thread <i>reader</i> faults random pages of a big file; thread <i>mapper</i> loops "
             "mmap/munmap, a writer of mmap_sem. Look for the bars of 'holding mmap_sem across I/O': a disk read under the lock.")
    rows = (("reader faults completed", "faults.completed"),
            ("fault latency p50 (ms)", "faults.latency_ms.p50"),
            ("mapper ops/s", "threads.mapper.ops_per_s"),
            ("mapper's longest wait for mmap_sem (ms)", "syscalls.wait_ms.max"),
            ("mmap_sem held across I/O (ms)", "mmap_sem.held_across_io_ms"),
            ("retries", "faults.retries"))

    def make_controls(self):
        return {"policy": dropdown(policy_options(self.upto), "sync", "policy"),
                "disk_ms": param_control("disk_ms", 18.0, "disk latency (ms)"),
                "reader_think_us": param_control("reader_think_us", 2.0, "reader think time (µs)"),
                "until_ms": param_control("until_ms", 200.0, "run length (ms)")}


class ThreadedExplorer(Explorer):
    preset = "threaded_app"
    title = "A threaded application"
    intro = ("Readers fault pages of a mapped file (a miss with probability <i>miss ratio</i>, "
             "else a minor fault); the mapper, if on, loops mmap/munmap.")
    fixed = {"until_ms": 200.0}

    def make_controls(self):
        return {"policy": dropdown(policy_options(self.upto), "sync", "policy"),
                "n_readers": param_control("n_readers", 8, "reader threads"),
                "miss_ratio": param_control("miss_ratio", 0.05, "miss ratio"),
                "mapper": param_control("mapper", True, "mapper thread"),
                "disk_ms": param_control("disk_ms", 8.0, "mean disk latency (ms)")}

    def derive(self, result, summary):
        readers = [n for n in result.threads if n.startswith("reader")]
        return {"readers_ops_per_s": round(sum(summary["threads"][n]["ops_per_s"] for n in readers), 3)}

    def summary_rows(self, summary):
        rows = [("all readers, ops/s", "explorer.readers_ops_per_s")]
        if "mapper" in summary["threads"]:
            rows += [("mapper ops/s", "threads.mapper.ops_per_s"),
                     ("mapper's longest wait for mmap_sem (ms)", "syscalls.wait_ms.max")]
        return rows + [("fault latency p50 (ms)", "faults.latency_ms.p50"),
                       ("fault latency p99 (ms)", "faults.latency_ms.p99"),
                       ("mmap_sem held across I/O (ms, summed over threads)", "mmap_sem.held_across_io_ms"),
                       ("retries", "faults.retries")]


class LivelockExplorer(Explorer):
    preset = "fadvise_dos"
    title = "The livelock: a fault against FADV_DONTNEED"
    intro = ("Thread <i>victim</i> faults one page once; process <i>evictor</i> drops that page "
             "from the cache every <i>eviction period</i>. Does the fault ever finish?")
    rows = (("fault finished", "explorer.finished"),
            ("attempts", "faults.max_attempts"),
            ("evictions of the page", "explorer.trace_counts.evict"),
            ("fault latency (ms)", "explorer.fault_ms"),
            ("retry window (µs)", "explorer.window_us"))

    def make_controls(self):
        return {"policy": dropdown(policy_options(self.upto, "retry_unlimited"), "retry_unlimited", "policy"),
                "evict_period_us": param_control("evict_period_us", 0.5, "eviction period (µs)"),
                "wakeup_us": param_control("wakeup_us", 5.0, "wake-up latency (µs)"),
                "walk_us": param_control("walk_us", 0.5, "page-table walk (µs)"),
                "until_ms": param_control("until_ms", 200.0, "run length (ms)")}

    def figure(self, result):
        period = self.controls["evict_period_us"].value
        return plots.timeline(result, ax=self.canvas(len(result.threads)),
                              labels={"evictor": f"evictor\n(FADV_DONTNEED\nevery {period:.3g} µs)",
                                      "traffic": "traffic\n(new cache pages\non victim's CPU)"})

    def derive(self, result, summary):
        f = summary["faults"]
        finished = f["unfinished"] == 0 and f["completed"] > 0
        out = {"finished": finished, "fault_ms": f["latency_ms"]["max"] if finished else None}
        try:
            from .analysis import retry_window_us
        except ImportError:
            return out
        return out | {"window_us": round(retry_window_us(result.scenario.costs), 3)}


class SeqcountExplorer(Explorer):
    title = "Morton's sequence counter: revalidate instead of rerunning"
    intro = ("<i>unmap_during_fault</i>: a fault waits on disk while another thread unmaps the file "
             "(and, with remap, maps it again: a new VMA at the same address). "
             "<i>two_thread</i>: the convoy workload.")
    FAMILY = ("seqcount", "seqcount_unchecked", "nopage_retry")
    SHORT_MS = {"two_thread": 100.0}      # five or so of its 18 ms reads; 200 ms took twice as long
    rows = (("faults completed", "faults.completed"),
            ("outcomes", "explorer.outcomes"),
            ("revalidated in place", "explorer.trace_counts.revalidated"),
            ("full retries", "faults.retries"),
            ("redone page-table walks", "redone_walks"),
            ("kernel bugs", "explorer.kernel_bugs"))

    def make_controls(self):
        return {"workload": dropdown(("unmap_during_fault", "two_thread"), "unmap_during_fault", "workload"),
                "policy": dropdown(self.FAMILY, "seqcount", "policy"),
                "remap": param_control("remap", False, "remap the file after unmapping it"),
                "disk_ms": param_control("disk_ms", 10.0, "disk latency (ms)")}

    @property
    def preset(self):
        return self.controls["workload"].value

    def params(self):
        p = {k: c.value for k, c in self.controls.items() if k != "workload"}
        if self.preset == "two_thread":
            if p.pop("remap"):
                raise ValueError("remap: only unmap_during_fault unmaps and maps the file again; "
                                 "untick remap or choose unmap_during_fault")
            return p | {"until_ms": self.SHORT_MS["two_thread"]}
        return p | {"until_ms": 50.0 + 2 * p["disk_ms"]}

    def derive(self, result, summary):
        return {"outcomes": ", ".join(f"{k} {v}" for k, v in summary["faults"]["outcomes"].items()),
                "kernel_bugs": len(summary["kernel_bugs"])}


class HistoryExplorer(Explorer):
    title = "Every design on every workload"
    intro = ("Pick a design from 2006 to today, the rw-semaphore's rules (2.6.18's, or today's, "
             "where a sleeping writer lets readers of a held lock through less often) and a workload.")
    SHORT_MS = {"two_thread": 100.0, "threaded_app": 100.0}     # at 200 ms a run alone took up to 0.5 s
    UNTIL_MS = {**SHORT_MS, "fadvise_dos": 200.0, "unmap_during_fault": 50.0, "pinned_gup": 50.0,
                "single_thread": 200.0}

    def make_controls(self):
        return {"policy": dropdown(policy_options(self.upto), "sync", "policy"),
                "rwsem": dropdown(("2.6.18", "modern"), "2.6.18", "rw-semaphore rules"),
                "workload": dropdown(PRESETS, "two_thread", "workload")}

    @property
    def preset(self):
        return self.controls["workload"].value

    def params(self):
        return {"policy": self.controls["policy"].value,
                "until_ms": self.UNTIL_MS.get(self.preset, 200.0)}

    def scenario(self):
        s = get_preset(self.preset)(**self.params())
        return dataclasses.replace(s, rwsem=self.controls["rwsem"].value)

    def call_text(self, params):
        return (f"faultlab.run(dataclasses.replace({preset_text(self.preset, params)}, "
                f"rwsem={self.controls['rwsem'].value!r}))")

    def summary_rows(self, summary):
        rows = [("faults completed", "faults.completed"),
                ("fault latency p50 (ms)", "faults.latency_ms.p50"),
                ("fault latency max (ms)", "faults.latency_ms.max"),
                ("retries", "faults.retries"),
                ("most attempts by one fault", "faults.max_attempts"),
                ("longest wait for mmap_sem in a syscall (ms)", "syscalls.wait_ms.max"),
                ("mmap_sem held across I/O (ms)", "mmap_sem.held_across_io_ms")]
        scripted = {t.name for t in self.last_result.scenario.threads if isinstance(t, Script)}
        return rows + [(f"{name} ops/s", f"threads.{name}.ops_per_s") for name in summary["threads"]
                       if name not in scripted]          # a script's steps are not a rate

    def _summary_html(self, summary) -> str:
        doc = " ".join((get_preset(self.preset).__doc__ or "").replace("``", "").split())
        return f"<p><i>The workload</i>: {_esc(doc)}</p>" + super()._summary_html(summary)


EXPLORERS = {"convoy": ConvoyExplorer, "threaded": ThreadedExplorer, "livelock": LivelockExplorer,
             "seqcount": SeqcountExplorer, "history": HistoryExplorer}


def explore(kind, **values):
    """Make the explorer called ``kind`` (see ``EXPLORERS``), with controls set from ``values``."""
    try:
        cls = EXPLORERS[kind]
    except KeyError:
        raise ValueError(f"kind: unknown explorer {kind!r}; choose one of {', '.join(EXPLORERS)}") from None
    return cls(**values)


class Reveal:
    """An exercise's button: pressing it computes the answer and shows it.

    ``Reveal(answer_fn)``: the question stands in the notebook's text, once.
    ``answer_fn()`` runs faultlab and returns an ``exercises.Answer`` (a table
    and prose) or a string; it is called only when the button is pressed or
    ``reveal()`` is called, and once. While it runs the button says so.
    ``Reveal(question, answer_fn)`` also shows the question above the button.
    """

    def __init__(self, answer_fn, question=None, button_text="Show answer"):
        if isinstance(answer_fn, str):            # Reveal(question, answer_fn)
            answer_fn, question = question, answer_fn
        self.answer_fn = answer_fn
        self.answer_text = None
        parts = [W.HTML(f"<p><b>Question.</b> {_esc(question)}</p>")] if question else []
        self.question = parts[0] if parts else None
        self.button = W.Button(description=button_text, button_style="info",
                               layout=W.Layout(width="auto"))
        self.answer = W.HTML()
        self.button.on_click(lambda _: self.reveal())
        self.widget = W.VBox(parts + [self.button, self.answer])

    def reveal(self) -> str:
        """Compute the answer if not yet done, show it, and return its text."""
        if self.answer_text is None:
            self.button.disabled = True
            self.answer.value = BUSY_HTML.format(what="Computing the answer: the model is running")
            try:
                answer = self.answer_fn()
            except ValueError as e:
                self.button.disabled = False
                message = f"Could not compute the answer: {e}"
                self.answer.value = answer_html(message)
                return message
            self.answer_text = str(answer)
            self.answer.value = answer_html(answer) + self._credit()
        self.button.disabled = True
        return self.answer_text

    def _credit(self) -> str:
        fn = self.answer_fn
        while isinstance(fn, functools.partial):          # Reveal(functools.partial(lessons.f, run))
            fn = fn.func
        name = f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', '')}".strip(".")
        if not name.startswith("faultlab.") or "<" in name:
            return ""
        return (f"<p style='font-size:90%;color:#555'>Computed just now by <code>{_esc(name)}()</code>; "
                f"read its source after you have answered.</p>")

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def _paragraph_html(text) -> str:
    """A paragraph of prose (wrapped), or a block of aligned columns (kept as it is)."""
    lines = text.splitlines()
    if len(lines) > 1 and any("  " in line.strip() for line in lines):
        return f"<pre class='faultlab-table'>{_esc(text)}</pre>"
    return f"<p>{_esc(' '.join(line.strip() for line in lines))}</p>"


def _row_html(row, tag) -> str:
    return "".join(f"<{tag} style='text-align:{'left' if i == 0 else 'right'};padding:0.1em 0.8em'>"
                   f"{_esc(c)}</{tag}>" for i, c in enumerate(row))


def answer_html(answer) -> str:
    """An answer as HTML: its table as a table, its prose as wrapped paragraphs."""
    rows = getattr(answer, "rows", ())
    text = getattr(answer, "text", None)
    if text is None:
        text = str(answer)
    table = ""
    if rows:
        head, *body = rows
        lines = [_row_html(head, "th")] + [_row_html(r, "td") for r in body]
        table = ("<table style='border-collapse:collapse;margin:0.4em 0'>"
                 + "".join(f"<tr>{line}</tr>" for line in lines) + "</table>")
    prose = "".join(_paragraph_html(p) for p in text.split("\n\n") if p.strip())
    return f"<div class='faultlab-answer' style='max-width:60em'>{table}{prose}</div>"


class TwinExplorer(Explorer):
    """The kernel lab's twin (faultlab.kernel_lab.twin) with other inputs, beside the measured run."""

    title = "The twin: the kernel lab, replayed in the model"
    intro = ("Top: what the kernel did (measured). Bottom: the model's twin, built from the "
             "run's own numbers. Change the delay, the fault design or the lock rules and "
             "see what the twin predicts; the measured run stays as it was.")

    def __init__(self, runs, run_now=True, **values):
        if not runs:
            raise ValueError("runs: need at least one kernel-lab run (path -> LabResult)")
        self.runs = dict(runs)
        super().__init__(run_now=run_now, **values)

    def make_controls(self):
        paths = list(self.runs)
        first = "procmem" if "procmem" in paths else paths[0]
        delay = float(self.runs[first].delay_ms)
        return {"path": dropdown(paths, first, "reader's access"),
                "delay_ms": slider(delay, 10.0, 1000.0, 10.0, "twin's disk delay (ms)"),
                "policy": dropdown(twin.TWIN_POLICIES, "per_vma_lock", "fault design"),
                "rwsem": dropdown(("modern", "2.6.18"), "modern", "rw-semaphore rules")}

    def params(self):
        return {k: c.value for k, c in self.controls.items()}

    def scenario(self):
        p = self.params()
        s = twin.twin_scenario(self.runs[p["path"]], delay_ms=p["delay_ms"])
        return dataclasses.replace(s, policy=p["policy"], rwsem=p["rwsem"])

    def derive(self, result, summary):
        lab = self.runs[self.params()["path"]]
        meas, pred = twin.measured(lab), twin.predicted(result)
        return {"measured": meas, "predicted": pred}

    def summary_rows(self, summary):
        rows = []
        for key, label in (("writer_max_wait_ms", "mapper's longest call (ms)"),
                           ("reader3_max_wait_ms", "reader3's longest call (ms)"),
                           ("fault_ms", "reader's slow access (ms)"),
                           ("writer_calls_during_io", "mapper calls during the read")):
            if summary["explorer"]["predicted"].get(key) is None:
                continue
            rows += [(f"measured: {label}", f"explorer.measured.{key}"),
                     (f"twin: {label}", f"explorer.predicted.{key}")]
        return rows

    def figure(self, result):
        return twin.side_by_side(self.runs[self.params()["path"]], result,
                                 axes=self.canvas(0, rows=2, height=5.6))

    def call_text(self, params):
        return (f"faultlab.run(dataclasses.replace(twin.twin_scenario(runs[{params['path']!r}], "
                f"delay_ms={params['delay_ms']:g}), policy={params['policy']!r}, "
                f"rwsem={params['rwsem']!r}))")
