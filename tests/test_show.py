"""faultlab.show: the notebooks' helpers return what a student reads."""
from __future__ import annotations

import re

import pytest

import faultlab
from faultlab import show, workloads
from faultlab.policies import nopage_retry, sync


def test_side_by_side_wraps_and_never_shrinks():
    html = show.side_by_side(sync, (nopage_retry.NopageRetry.fault_begin,)).data
    assert "flex-wrap:wrap" in html and "white-space:pre-wrap" in html
    assert "overflow-x" not in html
    # the code font at the notebook's own code size: never shrunk, and columns of code line up
    assert re.findall(r"font-size:([^;']+)", html) == ["var(--jp-code-font-size,13px)"] * 2
    assert "monospace" in html and "overflow-wrap:break-word" in html
    assert "faultlab/policies/sync.py" in html and "def fault_begin" in html


def test_wrap_trace_keeps_short_lines_and_wraps_long_ones():
    short = "       1.000 app        fault_start        page=7"
    long = "       1.000 app        kernel_bug         what=" + "x " * 60
    text = show.wrap_trace([short, long], width=80)
    lines = text.splitlines()
    assert lines[0] == short and all(len(line) <= 80 for line in lines)
    assert lines[2].startswith(" " * 39)


def test_lock_table_shows_the_convoy():
    r = faultlab.run(show.three_threads())
    rows = faultlab.record.lock_requests(r.events)
    assert [(task, side) for task, side, _, _ in rows] == [("reader", "read"), ("mapper", "write"), ("hot", "read")]
    hot = rows[2]
    assert hot[3] > rows[0][3] + 10_000              # hot waited for the whole read, then the mapper
    assert show.lock_table(r).splitlines()[0].split()[:2] == ["thread", "side"]


def test_one_fault_is_start_to_end():
    r = faultlab.run(workloads.two_thread(policy="nopage_retry", until_ms=200))
    lines = show.one_fault(r, "reader", n=2)
    assert " fault_start " in lines[0] and " fault_end " in lines[-1]
    assert sum(" fault_start " in line for line in lines) == 1


def test_rwsem_schedule_queues_readers_behind_a_writer():
    t = show.rwsem_demo()
    b = next(v for k, v in t.items() if k.startswith("B"))
    assert b == (2.0, 10.5)
    t = show.rwsem_demo(with_writer=False)
    assert next(v for k, v in t.items() if k.startswith("B")) == (2.0, 2.0)
    assert "waits" in show.rwsem_table(t)


def test_release_writer_wakes_by_the_rules():
    holders, waiting = show.release_writer("2.6.18", [("R1", False), ("W2", True), ("R2", False)])
    assert holders == ["R1"] and waiting == ["W2", "R2"]


def test_livelock_edge():
    assert show.livelock_edge((1, 2, 3, 4), (False, False, True, True)) == (2, 3)
    assert show.livelock_edge((1, 2), (True, True)) == (None, 1)


def test_same_run_tells_a_refactor_from_a_change():
    assert show.same_run("two_thread", 50.0) == (True, True, show.same_run("two_thread", 50.0)[2])
    same_summary, same_trace, _ = show.same_run("pinned_gup", 50.0)
    assert not same_trace


def test_tables_of_runs():
    text = show.dos_table(("retry_unlimited", "sync"), until_ms=5)
    assert text.splitlines()[1].split()[:3] == ["retry_unlimited", text.splitlines()[1].split()[1], "no"]
    runs = {p: faultlab.run(workloads.threaded_app(policy=p, mapper=False, until_ms=50)) for p in ("sync", "seqcount")}
    assert show.dropped_table(runs).splitlines()[2].startswith("sync")
    c = show.contention(faultlab.run(workloads.threaded_app(policy="sync", until_ms=50)))
    assert c["mapper_per_s"] > 0 and c["minor_p99_us"] >= c["minor_p50_us"]


def test_a_timeline_lane_can_say_what_its_thread_does():
    import matplotlib.pyplot as plt
    from faultlab import plots
    r = faultlab.run(workloads.fadvise_dos(policy="retry_unlimited", until_ms=1))
    fig = plots.timeline(r, labels={"evictor": "evictor: FADV_DONTNEED every 0.5 µs"})
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert ticks[:2] == ["victim", "evictor: FADV_DONTNEED every 0.5 µs"]
    plt.close(fig)


def test_rows_table_aligns_and_formats():
    text = show.rows_table([{"p": "sync", "ms": 19.8096, "n": None}, {"p": "refault", "ms": 1.27, "n": 3}],
                           [("policy", "p"), ("ms", "ms"), ("n", "n")], none="never")
    assert text.splitlines() == ["policy     ms      n", "sync     19.8  never", "refault  1.27      3"]


@pytest.mark.parametrize("hz", [250, 1000])
def test_handoff_steps_follow_the_writer_set_handoff_rule(hz):
    """Release by release: the woken writer finds the lock stolen while its wait has
    not passed its timeout jiffy; at the first release after it has, the writer
    fails once more and sets HANDOFF itself; at the next release it gets the lock."""
    rows, queued_us = show.handoff_steps(hz=hz)
    assert queued_us > 100.0                                  # it spun on the reader first
    timed_out = [r["jiffies"] > r["timeout"] for r in rows]
    first = timed_out.index(True)
    assert all(r["holder"] == "R" and not r["handoff"] for r in rows[:first])
    assert rows[first]["holder"] == "R" and rows[first]["handoff"]
    assert rows[first + 1:] and rows[first + 1]["holder"] == "W" and not rows[first + 1]["handoff"]
    assert len(rows) == first + 2
    assert len(show.handoff_table(rows, queued_us).splitlines()) == len(rows) + 2


def test_live_beside_2010_puts_the_recorded_runs_under_the_published_rows():
    from faultlab.kernel_lab import lessons
    results, live, _ = lessons.benchmarks(live=False)
    text = show.live_beside_2010(results)
    lines = text.splitlines()
    assert lines[2].startswith("2010, before") and lines[2].split()[-1] == "1.00"        # 55 beside 55
    assert "15,000.0" in lines[3]
    procmem = results[("procmem", "split")].summary()
    row = next(line for line in lines if line.startswith("today, /proc/self/mem"))
    assert f"{procmem['mapper_per_s']:,.1f}" in row
    assert f"Linux {procmem['kernel']}" in lines[-1]
    assert show.live_beside_2010({}).count("\n") == 3                                    # the 2010 rows only


def test_wake_and_steal_table_shows_readers_woken_past_a_writer_and_the_steals():
    lines = show.wake_and_steal_table().splitlines()
    assert lines[0] == "2.6.18  R1 W2 R2 R3 queued -> holding ['R1'], still waiting ['W2', 'R2', 'R3']"
    assert lines[1] == "modern  R1 W2 R2 R3 queued -> holding ['R1', 'R2', 'R3'], still waiting ['W2']"
    assert lines[3] == "modern  300 readers queued -> 256 holding, 44 still waiting"
    old, new = (line.split() for line in lines[5:7])
    assert old[0] == "2.6.18" and old[2] == "0" and new[0] == "modern" and int(new[2]) > 0
    assert float(new[1]) > float(old[1])


def test_convoy_2023_table_keeps_the_sync_convoy_under_both_rules():
    rows = [line.split() for line in show.convoy_2023_table().splitlines()[1:]]
    by = {(r[0], r[1]): [float(x) for x in r[2:]] for r in rows}
    assert by[("sync", "2.6.18")] == by[("sync", "modern")]
    assert by[("sync", "modern")][2] > 10.0           # late waits most of the disk read
    assert by[("vm_fault_retry", "modern")][2] < 1.0


def test_contention_table_has_one_column_per_run():
    runs = {p: faultlab.run(workloads.threaded_app(policy=p, n_readers=8, until_ms=20.0))
            for p in ("multi_retry", "per_vma_lock")}
    lines = show.contention_table(runs, title="8 readers").splitlines()
    assert lines[0].split() == ["8", "readers", "multi_retry", "per_vma_lock"]
    assert len(lines) == 8
    values = {line[:24].strip(): [float(x) for x in line[24:].split()] for line in lines[1:]}
    queue = values["mmap_sem max queue"]
    assert queue[1] < queue[0]                        # per-VMA locks keep the readers off mmap_sem
