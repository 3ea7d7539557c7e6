"""Charts drawn from the record: timelines, latency CDFs, the livelock map, bars, sweeps.

Every function takes ``ax=None`` (draw into a new figure) or an Axes to
draw into, and returns the matplotlib Figure. Nothing here changes
matplotlib's global settings or calls ``plt.show()``. A new figure is a
pyplot figure, so in a notebook end the cell with ``plt.show()`` or assign
the result (``_ = plots.timeline(r)``): a bare figure as the cell's last
expression is shown twice. Outside a notebook, ``plt.close(fig)`` when done.

A timeline is built from the events alone (``result.events`` and
``result.threads``), so it draws a model ``Result`` and a kernel-lab run
alike. One lane per thread; in each lane the thread is, at any moment, in
exactly one of the states of ``record.STATES`` (``record.LaneStates`` reads
them from the record; ``record.STATE_MEANINGS`` says what each means).
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.colors import LinearSegmentedColormap, ListedColormap, LogNorm
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from . import record
from .record import STATES

# Okabe & Ito's colour-blind-safe palette (https://jfly.uni-koeln.de/color/).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")

STATE_LABELS = {
    "running": "running",
    "wait_read": "waiting for mmap_sem (read)",
    "wait_write": "waiting for mmap_sem (write)",
    "hold_read": "holding mmap_sem (read)",
    "hold_write": "holding mmap_sem (write)",
    "io": "waiting for I/O",
    "held_io": "holding mmap_sem across I/O",
}
STATE_COLOURS = {
    "running": "#DDDDDD",
    "wait_read": "#56B4E9",      # sky blue
    "wait_write": "#E69F00",     # orange
    "hold_read": "#009E73",      # bluish green
    "hold_write": "#0072B2",     # blue
    "io": "#CC79A7",             # reddish purple
    "held_io": "#D55E00",        # vermillion, hatched: the one to spot
}
STATE_HATCH = {"held_io": "///"}
STATE_EDGES = {"held_io": "#7A2E00"}     # the hatch takes the edge colour
MARKERS = {   # event -> (label, marker, size, colour)
    record.RETRY: ("retry", "v", 6, "#000000"),
    record.EVICT: ("eviction", "|", 8, "#555555"),
    record.KERNEL_BUG: ("kernel bug", "X", 18, "#000000"),
}
_DRAW_ORDER = ("running", "hold_read", "hold_write", "wait_read", "wait_write", "io", "held_io")


# -- helpers ---------------------------------------------------------------------

def _new_axes(ax, figsize):
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, ax


def _get(obj, name, default=None):
    """``obj[name]`` for a dict, ``obj.name`` otherwise."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def metric(summary: dict, path: str):
    """The value at a dotted path in a summary dict ("threads.mapper.ops_per_s"), or None."""
    value = summary
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _labelled(items, labels=None):
    """(label, item) pairs from a dict label->item or a list (labelled by
    ``labels``, else by each item's policy)."""
    if isinstance(items, dict):
        keys, values = list(items), list(items.values())
    else:
        values = list(items)
        keys = [_default_label(x, i) for i, x in enumerate(values)]
    if labels is not None:
        keys = [str(lab) for lab in labels]
        if len(keys) != len(values):
            raise ValueError(f"labels: {len(keys)} labels for {len(values)} runs")
    return list(zip(keys, values))


def _default_label(x, i):
    if isinstance(x, dict) and "policy" in x:
        return str(x["policy"])
    scenario = getattr(x, "scenario", None)
    if scenario is not None and getattr(scenario, "policy", None):
        return scenario.policy
    return f"run {i}"


def end_us(result) -> float:
    """The run's span: ``until_us`` if it has one, else the last event's time."""
    until = getattr(result, "until_us", None)
    if until is not None:
        return float(until)
    return max((e[0] for e in result.events), default=0.0)


# -- timeline ----------------------------------------------------------------------

def _lanes(result) -> dict:
    """The lanes of a run (``record.lane_states``), to the run's end."""
    return record.lane_states(result.events, result.threads, end_us(result))


def _bars(spans, lo, hi, y0, height, merge_us=0.0):
    """Spans (start, width) in us, cut to [lo, hi], as rectangles in ms: an (n, 4, 2)
    array. Spans closer than ``merge_us`` are drawn as one (detail finer than a
    pixel would only draw moire)."""
    if not spans:
        return None
    a = np.asarray(spans, dtype=float)
    start = np.maximum(a[:, 0], lo)
    stop = np.minimum(a[:, 0] + a[:, 1], hi)
    keep = stop > start
    if not keep.any():
        return None
    start, stop = start[keep], stop[keep]
    if merge_us > 0 and len(start) > 1:
        first = np.flatnonzero(np.concatenate([[True], start[1:] - stop[:-1] >= merge_us]))
        start, stop = start[first], np.maximum.reduceat(stop, first)
    x0, x1 = start / 1000.0, stop / 1000.0
    verts = np.empty((len(x0), 4, 2))
    verts[:, 0, 0] = verts[:, 1, 0] = x0
    verts[:, 2, 0] = verts[:, 3, 0] = x1
    verts[:, 0, 1] = verts[:, 3, 1] = y0
    verts[:, 1, 1] = verts[:, 2, 1] = y0 + height
    return verts


def timeline(result, ax=None, start_ms=None, end_ms=None, title=None, legend=True, resolution_ms=None,
             labels=None):
    """One lane per thread, coloured by state over time (see ``STATES``), time in ms.

    Retries and evictions are small markers on their lane, a kernel bug a
    big X. ``start_ms``/``end_ms`` cut a window out of the run. Spans of one
    state less than ``resolution_ms`` apart are drawn as one bar (default: a
    3000th of the window, under a pixel; 0 draws every span). ``labels`` maps a
    thread to its lane's label (say what a thread that takes no lock is doing). Each
    (lane, state) is one collection of rectangles (as ``broken_barh`` makes) labelled
    ``"_lane:state"`` (hidden from the legend, handy for tests).
    """
    states = _lanes(result)
    names = list(states)
    n = len(names)
    own = ax is None
    fig, ax = _new_axes(ax, (11, min(2.2 + 0.45 * n, 14)))
    lo = 0.0 if start_ms is None else start_ms * 1000.0
    hi = end_us(result) if end_ms is None else end_ms * 1000.0
    if hi <= lo:
        raise ValueError(f"end_ms: the window must end after it starts ({lo / 1000} .. {hi / 1000} ms)")
    merge_us = (hi - lo) / 3000.0 if resolution_ms is None else resolution_ms * 1000.0
    ypos = {name: n - 1 - i for i, name in enumerate(names)}
    for name in names:
        for state in _DRAW_ORDER:
            verts = _bars(states[name][state], lo, hi, ypos[name] - 0.3, 0.6, merge_us)
            if verts is not None:     # what broken_barh makes, built from an array at once
                ax.add_collection(PolyCollection(
                    verts, facecolors=STATE_COLOURS[state], edgecolors=STATE_EDGES.get(state, "none"),
                    linewidths=0, hatch=STATE_HATCH.get(state), label=f"_{name}:{state}", zorder=2),
                    autolim=False)
    marks = {event: ([], []) for event in MARKERS}
    for t, task, event, _ in result.events:
        if event in marks and task in ypos and lo <= t <= hi:
            marks[event][0].append(t / 1000.0)
            marks[event][1].append(ypos[task] + (0.0 if event == record.KERNEL_BUG else 0.42))
    present = [event for event in MARKERS if marks[event][0]]
    for event in present:
        label, marker, size, colour = MARKERS[event]
        ax.plot(*marks[event], linestyle="none", marker=marker, markersize=size, color=colour,
                markeredgecolor="white" if event == record.KERNEL_BUG else colour,
                label=f"_{event}", zorder=4, clip_on=False)
    ax.set_yticks([ypos[name] for name in names], [(labels or {}).get(name, name) for name in names])
    ax.set_ylim(-0.6, n - 0.4 + 0.2)
    ax.set_xlim(lo / 1000.0, hi / 1000.0)
    ax.set_xlabel("time (ms)")
    ax.grid(axis="x", alpha=0.3, zorder=0)
    ax.set_axisbelow(True)
    if title is None:
        scenario = getattr(result, "scenario", None)
        if scenario is not None:
            title = f"{scenario.name or 'scenario'}: {scenario.policy}"
    if title:
        ax.set_title(title)
    if legend:
        handles = [Patch(facecolor=STATE_COLOURS[s], hatch=STATE_HATCH.get(s), label=STATE_LABELS[s],
                         edgecolor=STATE_EDGES.get(s, "none"), linewidth=0) for s in STATES]
        for event in present:
            label, marker, size, colour = MARKERS[event]
            handles.append(Line2D([], [], linestyle="none", marker=marker, color=colour,
                                  markersize=min(size, 10), label=label))
        _legend_below(fig, ax, handles, own)
    return fig


def _legend_below(fig, ax, handles, own):
    """Under the plot: the figure's own legend if we made the figure (constrained
    layout makes room), else the Axes' legend just below the axis label."""
    ncol = 4 if plt.rcParams["legend.fontsize"] in ("small", "x-small", "xx-small", "medium") \
        or float(plt.rcParams["font.size"]) <= 12 else 3          # big slide type: fewer columns
    if own:
        fig.legend(handles=handles, loc="outside lower center", ncol=ncol, frameon=False)
    else:
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=ncol,
                  frameon=False)


# -- latency -----------------------------------------------------------------------

def latency_cdf(results, ax=None, labels=None, title=None):
    """The fraction of faults that finished within x ms (log x), one line per run.

    ``results`` is a dict label->result or a list (labels from ``labels``
    or each run's policy). Unfinished faults are left out; n says how many
    finished.
    """
    fig, ax = _new_axes(ax, (9, 5.5))
    for i, (label, r) in enumerate(_labelled(results, labels)):
        lat = sorted(x / 1000.0 for x in record.fault_latencies_us(r.events) if x > 0)
        if not lat:
            continue
        y = np.arange(1, len(lat) + 1) / len(lat)
        ax.step(lat, y, where="post", color=PALETTE[i % len(PALETTE)], linewidth=2.5,
                linestyle=("-", "--", ":", "-.")[i % 4], label=f"{label} (n={len(lat)})")
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("fault latency (ms)")
    ax.set_ylabel("fraction of faults")
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    if ax.get_lines():
        ax.legend(loc="lower right")
    return fig


# -- the livelock map -----------------------------------------------------------------

def _edges(values):
    """Cell edges around sorted centres: geometric midpoints if all are positive."""
    v = np.asarray(values, dtype=float)
    if len(v) == 1:
        return np.array([v[0] / 2, v[0] * 2]) if v[0] > 0 else np.array([v[0] - 0.5, v[0] + 0.5])
    if np.all(v > 0):
        lv = np.log(v)
        mids = (lv[1:] + lv[:-1]) / 2
        return np.exp(np.concatenate([[2 * lv[0] - mids[0]], mids, [2 * lv[-1] - mids[-1]]]))
    mids = (v[1:] + v[:-1]) / 2
    return np.concatenate([[2 * v[0] - mids[0]], mids, [2 * v[-1] - mids[-1]]])


def livelock_map(grid, ax=None, show="attempts", title=None):
    """Heat map of a livelock grid: eviction rate (x) by wake-up latency (y).

    The x-axis is what a period stands for: eviction attempts per
    microsecond, 1 / period, summed over CPUs (one FADV_DONTNEED call costs
    the model about 0.35 us, so rates above about 3 per us take several
    evicting processes on several CPUs).

    ``grid`` is a dict or an object with (``faultlab.analysis.LivelockGrid``):
      - ``periods_us``: the evictor's periods, one per column;
      - ``wakeups_us``: the wake-up latencies, one per row;
      - ``finished[w][p]``: True if the fault finished (in every seed), or the
        fraction of seeds in which it did;
      - ``attempts[w][p]``: passes through the fault path (the most over seeds);
      - ``window_us[w]``: the analytical window for that wake-up latency,
        drawn as a line at 1 / window (a faster rate, a period shorter than the
        window, evicts the page in every window).
    ``show="attempts"`` colours cells by attempts and paints unfinished
    cells vermillion; ``show="finished"`` colours by the fraction finished.
    """
    if show not in ("attempts", "finished"):
        raise ValueError(f"show: must be 'attempts' or 'finished', got {show!r}")
    periods = np.asarray(_get(grid, "periods_us"), dtype=float)
    wakeups = np.asarray(_get(grid, "wakeups_us"), dtype=float)
    finished = np.asarray(_get(grid, "finished"), dtype=float)
    if finished.shape != (len(wakeups), len(periods)):
        raise ValueError(f"finished: expected shape (wakeups, periods) = {(len(wakeups), len(periods))}, "
                         f"got {finished.shape}")
    attempts = _get(grid, "attempts")
    own = ax is None
    fig, ax = _new_axes(ax, (9, 6))
    rates = 1.0 / periods                    # eviction attempts per us, across CPUs
    xe, ye = _edges(rates), _edges(wakeups)
    unfinished = np.ma.masked_where(finished >= 1.0, np.ones_like(finished))
    if show == "attempts" and attempts is not None:
        att = np.maximum(np.asarray(attempts, dtype=float), 1.0)
        mesh = ax.pcolormesh(xe, ye, np.ma.masked_where(finished < 1.0, att), cmap="cividis",
                             norm=LogNorm(vmin=1, vmax=max(2.0, float(att.max()))), shading="flat")
        fig.colorbar(mesh, ax=ax, label="attempts (finished faults)")
        ax.pcolormesh(xe, ye, unfinished, cmap=ListedColormap([STATE_COLOURS["held_io"]]), shading="flat")
        if att.size <= 200:                   # write the count in each cell
            for (i, j), a in np.ndenumerate(att):
                done = finished[i, j] >= 1.0
                dark = not done or mesh.norm(a) < 0.6
                ax.text(math.sqrt(xe[j] * xe[j + 1]) if xe[0] > 0 else (xe[j] + xe[j + 1]) / 2,
                        math.sqrt(ye[i] * ye[i + 1]) if ye[0] > 0 else (ye[i] + ye[i + 1]) / 2,
                        format_number(int(a)) if done else f"≥{int(a)}", ha="center", va="center",
                        color="white" if dark else "black")
    else:
        cmap = LinearSegmentedColormap.from_list("finished", [STATE_COLOURS["held_io"], "#F7F7F7",
                                                              STATE_COLOURS["hold_read"]])
        mesh = ax.pcolormesh(xe, ye, finished, cmap=cmap, vmin=0, vmax=1, shading="flat")
        fig.colorbar(mesh, ax=ax, label="fraction finished")
    window = np.asarray(_get(grid, "window_us"), dtype=float)
    ax.plot(1.0 / window, wakeups, color="#000000", linewidth=2.5, marker="o", label="analytical window")
    for set_scale, axis, values in ((ax.set_xscale, ax.xaxis, rates), (ax.set_yscale, ax.yaxis, wakeups)):
        if np.all(values > 0) and values.max() / values.min() > 10:
            set_scale("log")
        axis.set_ticks(values, [f"{v:.3g}" for v in values])   # one tick per cell
        axis.set_ticks([], minor=True)
    ax.set_xlim(min(xe[0], xe[-1]), max(xe[0], xe[-1]))
    ax.set_ylim(ye[0], ye[-1])
    ax.set_xlabel("eviction attempts per µs, across CPUs (1 / period)")
    ax.set_ylabel("wake-up latency (µs)")
    if title is None and _get(grid, "policy"):
        title = f"fadvise_dos livelock: {_get(grid, 'policy')}"
    if title:
        ax.set_title(title)
    handles = [Line2D([], [], color="#000000", linewidth=2.5, marker="o", label="analytical window")]
    if show == "attempts":
        handles.append(Patch(facecolor=STATE_COLOURS["held_io"], label="unfinished (livelock)"))
    _legend_below(fig, ax, handles, own)
    return fig


# -- comparisons ---------------------------------------------------------------------

def format_number(v) -> str:
    """Deterministic short text for a number: fewer decimals as it grows."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return str(v)
        a = abs(v)
        digits = 0 if a >= 100 else 1 if a >= 10 else 2 if a >= 1 else 3
        text = f"{v:.{digits}f}"
        return "0" if float(text) == 0 else text
    if isinstance(v, (list, tuple, dict)):
        return str(len(v))
    return str(v)


def bars(summaries, metric_path, ax=None, log=False, labels=None, xlabel=None, title=None):
    """Horizontal bars, one per run, of one summary metric (a dotted path such
    as ``"threads.mapper.ops_per_s"``), each labelled with its value.

    ``summaries``: a dict label->summary or a list of summaries (labelled by
    policy). ``log=True`` for a log axis (zeros are drawn as empty bars).
    """
    pairs = _labelled(summaries, labels)
    names = [lab for lab, _ in pairs]
    values = [metric(s, metric_path) for _, s in pairs]
    missing = [lab for lab, v in zip(names, values) if v is None]
    if missing:
        raise ValueError(f"metric: {metric_path!r} is not in the summary of {', '.join(missing)}")
    fig, ax = _new_axes(ax, (9, 1.2 + 0.5 * len(names)))
    y = np.arange(len(names))[::-1]
    vals = np.asarray(values, dtype=float)
    ax.barh(y, vals, color=PALETTE[0], height=0.65)
    if log:
        positive = vals[vals > 0]
        ax.set_xscale("log")
        if positive.size:
            ax.set_xlim(positive.min() / 3, positive.max() * 8)
    else:
        ax.set_xlim(0, max(vals.max(), 1e-9) * 1.2)
    to_axes = ax.transData + ax.transAxes.inverted()
    for yi, v, raw in zip(y, vals, values):
        x = v if (v > 0 or not log) else ax.get_xlim()[0]
        inside = to_axes.transform((x, yi))[0] > 0.25        # long bar: the value goes inside its end
        ax.annotate(format_number(raw), (x, yi), xytext=(-14 if inside else 4, 0), textcoords="offset points",
                    va="center", ha="right" if inside else "left", color="white" if inside else "black")
    ax.set_yticks(y, names)
    ax.set_xlabel(xlabel or metric_path)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    if title:
        ax.set_title(title)
    return fig


def sweep(xs, ys_by_label, ax=None, xlabel="", ylabel="", logy=False, logx=False, title=None):
    """Lines with markers, one per label, over the same ``xs``."""
    fig, ax = _new_axes(ax, (9, 5.5))
    for i, (label, ys) in enumerate(ys_by_label.items()):
        ax.plot(xs, ys, marker="os^Dv<>p"[i % 8], linewidth=2, color=PALETTE[i % len(PALETTE)],
                label=label)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    if ys_by_label:
        ax.legend()
    return fig


def text_table(summaries, columns, labels=None, label_header="run") -> str:
    """A fixed-width text table: one row per run, one column per metric path.

    ``columns`` are dotted paths, or ``(header, path)`` pairs. Numbers are
    rounded by ``format_number``, so the same summaries give the same text
    (safe for a checked notebook cell). A missing value prints as "-".
    """
    cols = [(c, c) if isinstance(c, str) else tuple(c) for c in columns]
    cols = [(_short(h) if h == p else h, p) for h, p in cols]
    rows = [[str(lab)] + [format_number(metric(s, p)) for _, p in cols]
            for lab, s in _labelled(summaries, labels)]
    header = [label_header] + [h for h, _ in cols]
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    lines = []
    for r in [header] + rows:
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _short(path: str) -> str:
    parts = path.split(".")
    return ".".join(parts[-2:]) if len(parts) > 2 else path
