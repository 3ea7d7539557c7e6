"""faultlab.plots: every chart returns a Figure, draws what the record says, and
leaves matplotlib's global state alone."""
from __future__ import annotations

from types import SimpleNamespace

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

import faultlab
from faultlab import plots, record
from faultlab.workloads import fadvise_dos, two_thread, unmap_during_fault


@pytest.fixture(scope="module")
def sync_run():
    return faultlab.run(two_thread(policy="sync", until_ms=100.0))


@pytest.fixture(scope="module")
def retry_run():
    return faultlab.run(two_thread(policy="nopage_retry", until_ms=100.0))


def lane_collections(fig):
    """{(lane, state): collection} from the timeline's hidden labels."""
    out = {}
    for c in fig.axes[0].collections:
        label = c.get_label()
        if label.startswith("_") and ":" in label:
            lane, state = label[1:].split(":")
            out[lane, state] = c
    return out


def lanes_top_down(ax):
    ticks = sorted(zip(ax.get_yticks(), (t.get_text() for t in ax.get_yticklabels())), reverse=True)
    return [name for _, name in ticks]


def lanes(r):
    """The lanes a timeline draws (record.lane_states, to the run's end)."""
    return record.lane_states(r.events, r.threads, plots.end_us(r))


def marker_lines(fig):
    return {line.get_label()[1:]: line for line in fig.axes[0].get_lines() if line.get_label().startswith("_")}


# -- timeline -------------------------------------------------------------------------

def test_timeline_has_one_lane_per_thread_top_down(sync_run):
    fig = plots.timeline(sync_run)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert lanes_top_down(ax) == ["reader", "mapper"]        # first thread at the top
    assert ax.get_xlabel() == "time (ms)"
    assert ax.get_xlim() == (0.0, 100.0)


def test_sync_reader_holds_mmap_sem_across_io_and_nopage_retry_does_not(sync_run, retry_run):
    sync = lane_collections(plots.timeline(sync_run, resolution_ms=0))
    assert ("reader", "held_io") in sync
    c = sync["reader", "held_io"]
    assert tuple(c.get_facecolor()[0]) == to_rgba(plots.STATE_COLOURS["held_io"])
    assert len(c.get_paths()) >= 5                          # one per disk read, 18 ms each
    assert ("mapper", "wait_write") in sync
    assert ("mapper", "held_io") not in sync

    retry = lane_collections(plots.timeline(retry_run))
    assert not any(state == "held_io" for _, state in retry)
    assert ("reader", "io") in retry                        # it still waits for the disk, unlocked
    assert ("mapper", "hold_write") in retry


def test_lane_states_tile_each_lane_without_overlap(retry_run):
    states = lanes(retry_run)
    assert list(states) == ["reader", "mapper"]
    for lane, by_state in states.items():
        spans = sorted(s for spans in by_state.values() for s in spans)
        for (s1, w1), (s2, _) in zip(spans, spans[1:]):
            assert s1 + w1 <= s2 + 1e-9, lane
        assert all(w > 0 for _, w in spans)
    held = sum(w for _, w in lanes(retry_run)["reader"]["held_io"])
    assert held == 0


def test_held_across_io_time_matches_the_summary(sync_run):
    held_us = sum(w for _, w in lanes(sync_run)["reader"]["held_io"])
    assert held_us / 1000.0 == pytest.approx(sync_run.summary()["mmap_sem"]["held_across_io_ms"], abs=0.01)


def test_timeline_window_clips_bars(sync_run):
    fig = plots.timeline(sync_run, start_ms=20, end_ms=30)
    ax = fig.axes[0]
    assert ax.get_xlim() == (20.0, 30.0)
    for c in ax.collections:
        for path in c.get_paths():
            xs = path.vertices[:, 0]
            assert xs.min() >= 20.0 - 1e-9 and xs.max() <= 30.0 + 1e-9
    with pytest.raises(ValueError, match="end_ms"):
        plots.timeline(sync_run, start_ms=30, end_ms=20)


def test_spans_finer_than_a_pixel_are_drawn_as_one_bar(retry_run):
    """The mapper's 2 us pauses between 60 us writes would draw as moire at slide width."""
    exact = lane_collections(plots.timeline(retry_run, resolution_ms=0))["mapper", "hold_write"]
    coarse = lane_collections(plots.timeline(retry_run))["mapper", "hold_write"]
    assert len(exact.get_paths()) > 1000
    assert len(coarse.get_paths()) < len(exact.get_paths()) / 100
    span = lambda c: (min(p.vertices[:, 0].min() for p in c.get_paths()),   # noqa: E731
                      max(p.vertices[:, 0].max() for p in c.get_paths()))
    assert span(coarse) == pytest.approx(span(exact))


def test_timeline_marks_retries_evictions_and_kernel_bugs(retry_run):
    assert "retry" in marker_lines(plots.timeline(retry_run))
    dos = faultlab.run(fadvise_dos(policy="retry_unlimited", until_ms=5.0))
    marks = marker_lines(plots.timeline(dos))
    assert {"retry", "evict"} <= set(marks)
    bug = faultlab.run(unmap_during_fault(policy="seqcount_unchecked"))
    marks = marker_lines(plots.timeline(bug))
    assert marks["kernel_bug"].get_marker() == "X"
    assert marks["kernel_bug"].get_markersize() >= 15


def test_timeline_takes_any_record_with_events_and_threads():
    """No until_us, no scenario: a kernel-lab-like trace. Without an mmap_sem
    detail, the lane's own lock events say whether the I/O wait was under the lock."""
    events = [(0.0, "a", "start_locking", (("write", False),)),
              (1.0, "a", "acquire_returned", (("write", False), ("success", True))),
              (2.0, "a", "io_wait_start", (("page", 0),)),
              (2.0, "b", "start_locking", (("write", True),)),
              (50.0, "a", "io_wait_end", (("page", 0),)),
              (51.0, "a", "released", (("write", False),)),
              (51.0, "b", "acquire_returned", (("write", True),)),
              (60.0, "b", "released", (("write", True),))]
    rec = SimpleNamespace(events=events, threads=["a", "b"])
    states = lanes(rec)
    assert states["a"]["held_io"] == [(2.0, 48.0)]
    assert states["b"]["wait_write"] == [(2.0, 49.0)]
    assert states["b"]["hold_write"] == [(51.0, 9.0)]
    fig = plots.timeline(rec)
    assert fig.axes[0].get_xlim() == (0.0, 0.06)
    assert fig.axes[0].get_title() == ""


def test_timeline_of_the_recorded_kernel_lab_run():
    kernel_lab = pytest.importorskip("faultlab.kernel_lab")
    try:
        runs = kernel_lab.load_recorded()
    except Exception as e:                                   # noqa: BLE001 -- the data file is not ours
        pytest.skip(f"no recorded kernel-lab run: {e}")
    r = runs["procmem"]
    fig = plots.timeline(r)
    assert lanes_top_down(fig.axes[0]) == list(r.threads)
    assert ("reader", "held_io") in lane_collections(fig)


def test_timeline_draws_into_a_given_axes(sync_run):
    fig, (ax1, ax2) = plt.subplots(2)
    assert plots.timeline(sync_run, ax=ax2) is fig
    assert ax2.collections and not ax1.collections


def test_timeline_of_100k_events_draws_every_lane():
    """A long run still gives one lane per thread (speed is the benchmark's business)."""
    r = faultlab.run(faultlab.workloads.threaded_app(policy="nopage_retry", until_ms=500.0))
    assert len(r.events) > 80_000
    fig = plots.timeline(r)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert set(r.threads) <= set(labels)


# -- latency, livelock, bars, sweep ------------------------------------------------------

def test_latency_cdf_one_line_per_run(sync_run, retry_run):
    fig = plots.latency_cdf({"sync": sync_run, "retry": retry_run})
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    lines = ax.get_lines()
    assert len(lines) == 2
    assert lines[0].get_label().startswith("sync (n=")
    assert lines[0].get_ydata()[-1] == 1.0
    n = sum(f.end_us is not None for f in sync_run.faults)
    assert lines[0].get_label() == f"sync (n={n})"
    fig = plots.latency_cdf([sync_run, retry_run])
    assert [l.get_label().split()[0] for l in fig.axes[0].get_lines()] == ["sync", "nopage_retry"]


GRID = {"periods_us": [0.5, 1.0, 2.0, 4.0, 8.0], "wakeups_us": [1.0, 10.0, 100.0],
        "finished": [[False, True, True, True, True], [False, False, True, True, True],
                     [False, False, False, True, True]],
        "attempts": [[90, 5, 3, 2, 2], [90, 90, 4, 2, 2], [88, 88, 88, 3, 2]],
        "window_us": [0.9, 1.5, 3.0]}


def test_livelock_map_cells_and_window_line():
    fig = plots.livelock_map(GRID)
    ax = fig.axes[0]
    meshes = [c for c in ax.collections if hasattr(c, "get_array") and c.get_array() is not None]
    assert meshes and meshes[0].get_array().shape == (3, 5)
    unfinished = meshes[1].get_array()
    assert int(np.ma.count(unfinished)) == 6                 # the six cells that never finished
    window = [l for l in ax.get_lines() if l.get_label() == "analytical window"]
    assert list(window[0].get_xdata()) == [1.0 / w for w in GRID["window_us"]]   # drawn as a rate
    assert "per µs" in ax.get_xlabel() and "CPUs" in ax.get_xlabel()
    texts = {t.get_text() for t in ax.texts}
    assert "≥90" in texts and "5" in texts
    fig = plots.livelock_map(SimpleNamespace(**GRID), show="finished")
    assert fig.axes[0].collections[0].get_array().shape == (3, 5)


def test_livelock_map_refuses_a_misshapen_grid():
    with pytest.raises(ValueError, match="finished"):
        plots.livelock_map({**GRID, "finished": [[True]]})
    with pytest.raises(ValueError, match="show"):
        plots.livelock_map(GRID, show="colour")


SUMMARIES = {"sync": {"policy": "sync", "threads": {"mapper": {"ops_per_s": 28.0}}, "faults": {"retries": 0}},
             "nopage_retry": {"policy": "nopage_retry", "threads": {"mapper": {"ops_per_s": 15224.0}},
                              "faults": {"retries": 11}}}


def test_bars_one_bar_per_run_with_its_value():
    fig = plots.bars(SUMMARIES, "threads.mapper.ops_per_s", log=True)
    ax = fig.axes[0]
    assert len(ax.patches) == 2
    assert sorted(p.get_width() for p in ax.patches) == [28.0, 15224.0]
    assert ax.get_xscale() == "log"
    assert {t.get_text() for t in ax.texts} == {"28.0", "15224"}
    assert [t.get_text() for t in ax.get_yticklabels()] == ["sync", "nopage_retry"]
    with pytest.raises(ValueError, match="metric"):
        plots.bars(SUMMARIES, "threads.reader.ops_per_s")


def test_sweep_one_line_per_label():
    fig = plots.sweep([1, 10, 100], {"a": [1, 2, 3], "b": [3, 2, 1]}, xlabel="x", ylabel="y", logx=True, logy=True)
    ax = fig.axes[0]
    assert [l.get_label() for l in ax.get_lines()] == ["a", "b"]
    assert ax.get_xscale() == ax.get_yscale() == "log"


def test_text_table_is_fixed_width_and_rounded():
    table = plots.text_table(SUMMARIES, ["threads.mapper.ops_per_s", ("retries", "faults.retries"), "no.such"])
    assert table == (
        "run           mapper.ops_per_s  retries  no.such\n"
        "------------  ----------------  -------  -------\n"
        "sync                      28.0        0        -\n"
        "nopage_retry             15224       11        -")
    assert plots.text_table(list(SUMMARIES.values()), ["faults.retries"]).splitlines()[2].startswith("sync")


def test_format_number_is_deterministic():
    assert [plots.format_number(v) for v in (0.0, 0.02749, 1.5, 18.045, 15224.4, 3, True, None, -0.0001)] == \
        ["0", "0.027", "1.50", "18.0", "15224", "3", "yes", "-", "0"]


# -- no global state ----------------------------------------------------------------------

def test_plots_leave_rcparams_alone_and_never_show(sync_run, retry_run, monkeypatch):
    before = {k: repr(v) for k, v in matplotlib.rcParams.items()}
    monkeypatch.setattr(plt, "show", lambda *a, **k: pytest.fail("plots called plt.show()"))
    plots.timeline(sync_run)
    plots.latency_cdf([sync_run, retry_run])
    plots.livelock_map(GRID)
    plots.bars(SUMMARIES, "faults.retries")
    plots.sweep([1, 2], {"a": [1, 2]})
    plots.text_table(SUMMARIES, ["faults.retries"])
    after = {k: repr(v) for k, v in matplotlib.rcParams.items()}
    assert before == after
