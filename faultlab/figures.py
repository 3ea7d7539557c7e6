"""The lecture figures, regenerated from the model: ``make_figures("figures")``
(or ``python -m faultlab figures --out figures``).

Each figure is a slide (13.33 x 7.5 in, 16:9) written as SVG and as PNG at
150 dpi, with large type. The bytes are the same on every run with the same
matplotlib: SVG ids are salted with a fixed string, and neither file
records a date or the software that wrote it. All style settings are made
inside ``matplotlib.rc_context``, so nothing global changes.

``FIGURES`` lists them: file name, the notebook it belongs to and a
one-line caption. ``make_figures`` also writes ``README.md`` (captions, notebooks, and the
matplotlib version the files were made with).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt

from . import analysis, plots, record
from .sim import run
from .workloads import threaded_app, two_thread

SLIDE_INCHES = (40 / 3, 7.5)          # 16:9; 2000 x 1125 pixels at 150 dpi
PNG_DPI = 150
SLIDE_RC = {
    "font.size": 16,
    "axes.titlesize": 22,
    "axes.labelsize": 18,
    "xtick.labelsize": 16,
    "ytick.labelsize": 16,
    "legend.fontsize": 15,
    "figure.titlesize": 22,
    "svg.hashsalt": "faultlab",
    "svg.fonttype": "path",       # text as outlines: the slide looks the same without DejaVu Sans
}
SVG_METADATA = {"Date": None, "Creator": None}
PNG_METADATA = {"Software": None}
HISTORY_POLICIES = ("sync", "nopage_retry", "vm_fault_retry", "multi_retry", "per_vma_lock")


# -- the figures --------------------------------------------------------------------

WINDOW_MS = (0.0, 60.0)


def convoy_timeline():
    r = run(two_thread(policy="sync", until_ms=100.0))
    return plots.timeline(r, start_ms=WINDOW_MS[0], end_ms=WINDOW_MS[1],
                          title="2.6.18: the reader holds mmap_sem across each disk read; the mapper waits")


def retry_timeline():
    r = run(two_thread(policy="nopage_retry", until_ms=100.0))
    return plots.timeline(r, start_ms=WINDOW_MS[0], end_ms=WINDOW_MS[1],
                          title="NOPAGE_RETRY: mmap_sem is dropped during the read; the mapper runs")


def livelock_map():
    grid = analysis.livelock_map(policy="retry_unlimited")
    return plots.livelock_map(grid, title="Retry every time, and a fast FADV_DONTNEED loop starves the fault")


def seqcount_series(data):
    """(xs, xlabel, {label: ys}) from ``seqcount_sweep``'s answer: a list of rows
    (``writer_ops_per_s``, ``revalidated``, ``full_retries``) or a dict with
    ``x``, ``revalidated`` and ``full_retries``."""
    if isinstance(data, dict):
        return (list(data["x"]), data.get("xlabel", "mapper think time (µs)"),
                {"revalidated in place": list(data["revalidated"]),
                 "full retries": list(data["full_retries"])})
    rows = sorted(data, key=lambda row: row["writer_ops_per_s"])
    return ([row["writer_ops_per_s"] for row in rows], "mapper loops per second (mmap + munmap)",
            {"revalidated in place": [row["revalidated"] for row in rows],
             "full retries": [row["full_retries"] for row in rows]})


def seqcount_sweep():
    xs, xlabel, ys = seqcount_series(analysis.seqcount_sweep())
    positive = [x for x in xs if x > 0]
    return plots.sweep(xs, ys, xlabel=xlabel, ylabel="faults that dropped mmap_sem",
                       logx=len(positive) == len(xs) and max(xs) / min(xs) > 10,
                       title="The sequence counter pays off only while writers are rare")


def history_bars(rows=None, ax=None, hypotheses=None):
    """two_thread's mapper rate per design, with Lespinasse's published rates;
    drawn on its own (``ax=None``) it has a second panel, ``fifty_five_bars``:
    the 2.6.18 prediction, the published 55/s and the hypotheses between them.

    ``rows`` is ``analysis.history_table()``'s answer (computed here if not
    given), so a notebook can draw this figure from the table it printed;
    ``hypotheses`` is ``analysis.fifty_five_hypotheses()``'s."""
    if ax is None:
        import matplotlib.pyplot as plt
        fig, (left, right) = plt.subplots(1, 2, figsize=(16, 7), layout="constrained",
                                          gridspec_kw={"width_ratios": (3, 2)})
        history_bars(rows, ax=left)
        fifty_five_bars(hypotheses, ax=right)
        return fig
    rows = analysis.history_table() if rows is None else rows
    summaries = {row["policy"]: row for row in rows}
    fig = plots.bars(summaries, "mapper_ops_per_s", ax=ax, log=True,
                     xlabel="mapper: mmap + munmap per second",
                     title="two_thread: the writer's rate, design by design")
    published = analysis.PUBLISHED_TWO_THREAD
    ax = ax if ax is not None else fig.axes[0]
    names = list(summaries)
    ys = [len(names) - 1 - names.index(p) for p in published if p in names]
    xs = [published[p] for p in published if p in names]
    if xs:
        ax.plot(xs, ys, linestyle="none", marker="D", markersize=12, color=plots.PALETTE[1],
                label="measured by Lespinasse (2010)", zorder=5)
        ax.legend(loc="upper right")
    return fig


def fifty_five_bars(rows=None, ax=None):
    """The 55/s question: the model's 2.6.18 prediction, each hypothesis's run and
    the published number, as horizontal bars (``analysis.fifty_five_hypotheses()``'s
    rows, computed if not given). The prediction is drawn as what it is, not
    moved to the published number."""
    rows = analysis.fifty_five_hypotheses() if rows is None else rows
    labels = {"prediction": "model, defaults\n(one mmap_sem per read)",
              "a": "(a) two faults\nper read", "b": "(b) reader thinks past\nmapper's wake-up + syscall",
              "c": "(c) syscalls counted,\nnot pairs", "published": "Lespinasse 2010\n(published)"}
    summaries = {labels.get(r["case"], r["case"]): {"mapper_per_s": r["mapper_per_s"]} for r in rows}
    return plots.bars(summaries, "mapper_per_s", ax=ax,
                      xlabel="mapper loops per second (c: syscalls per second)",
                      title="2.6.18: predicted 27.5/s, published 55/s")


LATENCY_CDF_MS = 500.0     # threaded_app's run length here, as in analysis.history_table's "app" column


def latency_cdf_runs():
    """threaded_app (its defaults: 8 readers + the mapper, seed 0) for 500 ms under each design."""
    return {p: run(threaded_app(policy=p, until_ms=LATENCY_CDF_MS)) for p in HISTORY_POLICIES}


def latency_cdf(results=None, ax=None):
    """Every fault's latency, one line per design (``latency_cdf_runs()`` if not given): on the
    left the CDF; on the right its tail, the fraction of faults slower than x on a log axis, where
    the slowest 5% that the CDF squeezes into its top band get room. With ``ax``, the CDF alone."""
    results = latency_cdf_runs() if results is None else results
    if ax is not None:
        return plots.latency_cdf(results, ax=ax, title="how long faults take")
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.2), layout="constrained")
    plots.latency_cdf(results, ax=left, title="all faults (CDF)")
    for i, (label, r) in enumerate(results.items()):
        lat = sorted(x / 1000.0 for x in record.fault_latencies_us(r.events) if x > 0)
        if lat:
            slower = [1 - k / len(lat) for k in range(len(lat))]
            right.step(lat, slower, where="post", color=plots.PALETTE[i % len(plots.PALETTE)], linewidth=2.5,
                       linestyle=("-", "--", ":", "-.")[i % 4], label=label)
    right.set(xscale="log", yscale="log", xlabel="fault latency (ms)", ylabel="fraction of faults slower",
              title="the tail (log scale)")
    right.grid(alpha=0.3)
    if left.get_legend():
        left.get_legend().remove()
    fig.legend(*left.get_legend_handles_labels(), loc="outside lower center", ncols=3)
    fig.suptitle("threaded_app (8 readers + mapper): how long faults take")
    return fig


def marker_table_cell(v) -> str:
    """A retry_marker_table value as the figure's table shows it."""
    if v is None:
        return "never"
    if v is True:
        return "yes"
    if v is False:
        return "no"
    return plots.format_number(v) if isinstance(v, (int, float)) else str(v)


MARKER_COLUMNS = (("dos_finished", "DoS:\ndone"), ("dos_passes", "DoS:\nwalks"), ("dos_faults", "DoS:\nfaults"),
                  ("kill_in_read_ms", "SIGKILL in\nread: ms"), ("kill_in_loop_ms", "SIGKILL in\nloop: ms"),
                  ("app_faults_per_access", "app: faults\n/access"), ("app_held_across_io_ms", "app: held\nI/O ms"))


def retry_markers(grid=None, rows=None):
    """Every retry marker side by side: left, fadvise_dos's livelock map (one row per
    design, one column per eviction period; red: the access never finished, the
    number is the walks it made); right, retry_marker_table's outcomes."""
    grid = analysis.retry_marker_map() if grid is None else grid
    rows = analysis.retry_marker_table() if rows is None else rows
    fig = plt.figure(figsize=SLIDE_INCHES)
    ax = fig.add_axes((0.15, 0.13, 0.25, 0.70))
    tab = fig.add_axes((0.43, 0.13, 0.56, 0.70))
    done = [[1.0 if x else 0.0 for x in row] for row in grid.finished]
    ax.imshow(done, cmap=matplotlib.colors.ListedColormap([plots.STATE_COLOURS["held_io"], "#DDEEFF"]),
              vmin=0, vmax=1, aspect="auto")
    for i, row in enumerate(grid.passes):
        for j, n in enumerate(row):
            ax.text(j, i, (plots.format_number(n) if grid.finished[i][j] else f"≥{n}"), fontsize=12,
                    ha="center", va="center", color="white" if not grid.finished[i][j] else "black")
    ax.set_xticks(range(len(grid.periods_us)), [f"{p:g}" for p in grid.periods_us])
    ax.set_yticks(range(len(grid.policies)), grid.policies)
    ax.set_xlabel("FADV_DONTNEED period (µs)")
    ax.set_title("fadvise_dos: walks per access\n(red: never finished)", fontsize=16)
    tab.axis("off")
    cells = [[marker_table_cell(r[k]) for k, _ in MARKER_COLUMNS] for r in rows]
    t = tab.table(cellText=[[r["marker"]] + c for r, c in zip(rows, cells)],
                  colLabels=["marker"] + [label for _, label in MARKER_COLUMNS], cellLoc="center",
                  bbox=(0.0, 0.0, 1.0, 1.0), colWidths=[0.2] + [0.8 / len(MARKER_COLUMNS)] * len(MARKER_COLUMNS))
    t.auto_set_font_size(False)
    t.set_fontsize(11)
    tab.set_title("outcomes: fadvise_dos; threaded_app with a shared hot set", fontsize=16)
    fig.suptitle("Where the retry marker lives decides livelock, killability and what the counters show")
    return fig


@dataclass(frozen=True)
class FigureSpec:
    name: str
    notebook: str
    caption: str
    build: object


FIGURES = {f.name: f for f in (
    FigureSpec("convoy_timeline", "01_baseline",
               "two_thread under 2.6.18 (sync), 0-60 ms: mmap_sem held across every disk read (hatched red) "
               "and the mapper queued behind it.", convoy_timeline),
    FigureSpec("retry_timeline", "02_nopage_retry",
               "The same run and window under Google's NOPAGE_RETRY patch: the reader drops mmap_sem "
               "while it waits, retries once (triangles), and the mapper keeps going.", retry_timeline),
    FigureSpec("livelock_map", "03_livelock",
               "fadvise_dos with retry_unlimited: eviction rate (attempts per µs across CPUs, 1 / period) x "
               "wake-up latency, with the victim's CPU draining its LRU pagevec (drain='traffic'; without a "
               "drain the fault finishes); 'unfinished (livelock)' cells never finished, the line is the "
               "analytical retry window.", livelock_map),
    FigureSpec("seqcount_sweep", "05_seqcount",
               "threaded_app under seqcount as the mapper gets busier: faults revalidated in place "
               "against faults sent round a full retry.", seqcount_sweep),
    FigureSpec("history_bars", "06_what_linux_did",
               "two_thread's mapper rate (log scale) for each design from 2.6.18 to per-VMA locks, "
               "with Lespinasse's published measurements; right: the 2.6.18 prediction (27.5/s, one "
               "mmap_sem acquisition per read), the published 55/s, and the model's run of each "
               "hypothesis for the difference (none of them fitted).", history_bars),
    FigureSpec("latency_cdf", "06_what_linux_did",
               "threaded_app (8 readers + mapper, 500 ms): fault latency for each design, as a CDF (left) "
               "and as the fraction of faults slower than x on a log axis (right, the tail); sync's minor "
               "faults wait behind the convoy; with fault-around (multi_retry, per_vma_lock) far fewer "
               "faults happen, most of them major; under per_vma_lock minor faults take no mmap_sem.",
               latency_cdf),
    FigureSpec("retry_markers", "03_livelock",
               "Every retry marker on the same workloads: fadvise_dos's livelock map (walks per access "
               "by eviction period; red cells never finished) and an outcomes table -- finished, walks, "
               "faults counted, time from SIGKILL to death during a read and during the loop ('never': "
               "it did not die), and threaded_app with a shared hot set (faults per access, mmap_sem "
               "held across reads).", retry_markers),
)}


def build(name):
    """Make one figure at slide size (a pyplot figure: close it when done)."""
    spec = FIGURES[name]
    with matplotlib.rc_context(SLIDE_RC):
        fig = spec.build()
        fig.set_size_inches(*SLIDE_INCHES)
    return fig


def save(fig, stem: Path) -> list:
    """Write ``stem.svg`` and ``stem.png`` with no dates or software names in them."""
    paths = [stem.with_suffix(".svg"), stem.with_suffix(".png")]
    with matplotlib.rc_context(SLIDE_RC):
        fig.savefig(paths[0], format="svg", metadata=SVG_METADATA)
        fig.savefig(paths[1], format="png", dpi=PNG_DPI, metadata=PNG_METADATA)
    return paths


def make_figures(out_dir="figures", names=None) -> list:
    """Regenerate the figures (all, or ``names``) into ``out_dir``; return the paths written.
    Writing all of them also rewrites ``README.md``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    unknown = [n for n in names or () if n not in FIGURES]
    if unknown:
        raise ValueError(f"names: unknown figure {unknown[0]!r}; choose from {', '.join(FIGURES)}")
    written = []
    for name in names or FIGURES:
        fig = build(name)
        try:
            written += save(fig, out / name)
        finally:
            plt.close(fig)
    if names is None:
        readme = out / "README.md"
        readme.write_text(readme_text())
        written.append(readme)
    return written


def readme_text() -> str:
    lines = ["# Lecture figures", "",
             "Made by `faultlab.figures.make_figures` (`make figures`); do not edit by hand: "
             "captions live in `faultlab/figures.py`.",
             f"Each figure is a 16:9 slide, as SVG and as PNG at {PNG_DPI} dpi. The same code and "
             "the same matplotlib give the same bytes.", "",
             "| figure | notebook | caption |", "|---|---|---|"]
    for f in FIGURES.values():
        lines.append(f"| `{f.name}.svg` / `.png` | `notebooks/{f.notebook}.ipynb` | {f.caption} |")
    lines += ["", f"Made with matplotlib {matplotlib.__version__}.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    for p in make_figures(sys.argv[1] if len(sys.argv) > 1 else "figures"):
        print(p)
