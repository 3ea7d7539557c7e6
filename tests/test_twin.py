"""faultlab.kernel_lab.twin: the model replays a kernel-lab run with its measured parameters.

All tests use the recorded run shipped with the package (``load_recorded()``),
so they run everywhere; nothing here mounts anything.
"""
from __future__ import annotations

import dataclasses

import pytest

import faultlab
from faultlab.kernel_lab import load_recorded, twin


@pytest.fixture(scope="module")
def runs():
    return load_recorded()


@pytest.fixture(scope="module")
def rows(runs):
    return {(r["path"], r["metric"]): r for r in twin.compare(runs)}


def test_scenario_mirrors_the_run(runs):
    lab = runs["procmem"]
    s = twin.twin_scenario(lab)
    s.check()
    assert [t.name for t in s.threads] == lab.threads == ["reader", "mapper", "reader3"]
    reader, mapper, reader3 = s.threads
    assert isinstance(reader, faultlab.Reader) and reader.via == "gup"
    assert (reader.pattern, reader.count, reader.page) == ("fixed", 1, 0)
    assert reader.start_us == pytest.approx(lab.access()["start_us"])
    assert isinstance(mapper, faultlab.Mapper)
    assert isinstance(reader3, faultlab.Locker) and reader3.kind == "mincore"
    assert (s.policy, s.rwsem, s.ra_pages, s.file_pages) == ("per_vma_lock", "modern", 0, 1)
    assert s.disk == faultlab.Disk(latency_ms=lab.delay_ms, distribution="fixed")
    cost = lab.summary()["syscall_cost_us"]
    assert s.costs.mmap_us + s.costs.syscall_entry_us == pytest.approx(cost["mmap"])
    assert s.costs.munmap_us + s.costs.syscall_entry_us == pytest.approx(cost["munmap"])
    assert reader3.hold_us + s.costs.syscall_entry_us == pytest.approx(cost["mincore"])
    assert twin.twin_scenario(runs["fault"]).threads[0].via == "fault"


def test_mapper_loops_at_the_measured_period(runs):
    """The twin's writer completes about as many calls during the read as the real one."""
    lab = runs["fault"]
    pred = twin.predicted(twin.run_twin(lab))["writer_calls_during_io"]
    meas = lab.summary()["writer_ops_during_io"]
    assert meas > 100
    assert 0.9 <= pred / meas <= 1.1


def test_procmem_writer_waits_the_whole_delay(runs, rows):
    d = runs["procmem"].delay_ms
    assert rows["procmem", "writer_max_wait_ms"]["predicted"] == pytest.approx(d, rel=0.02)
    assert rows["procmem", "reader3_max_wait_ms"]["predicted"] == pytest.approx(d, rel=0.02)
    assert rows["procmem", "writer_calls_during_io"]["predicted"] == 0


def test_fault_path_writer_barely_waits(runs, rows):
    d = runs["fault"].delay_ms
    assert rows["fault", "writer_max_wait_ms"]["predicted"] < 0.001 * d
    assert rows["fault", "reader3_max_wait_ms"]["predicted"] < 0.001 * d
    r = twin.run_twin(runs["fault"])
    assert r.summary()["mmap_sem"]["held_across_io_ms"] == 0.0
    assert r.faults[0].attempts == 2            # dropped the VMA lock, retried under mmap_lock


@pytest.mark.parametrize("metric", ["writer_max_wait_ms", "reader3_max_wait_ms", "fault_ms"])
def test_procmem_ratios_are_close(rows, metric):
    ratio = rows["procmem", metric]["ratio"]
    assert 0.8 <= ratio <= 1.25, rows["procmem", metric]


def test_fault_ms_agrees_on_both_paths(rows):
    for path in ("fault", "procmem"):
        assert 0.8 <= rows[path, "fault_ms"]["ratio"] <= 1.25


def test_rows_are_complete(rows):
    assert set(rows) == {(p, m) for p in ("fault", "procmem") for m in twin.METRICS}
    for r in rows.values():
        assert r["ratio"] is None or r["ratio"] == pytest.approx(r["predicted"] / r["measured"], abs=1e-3)


def test_deterministic(runs):
    assert twin.compare(runs) == twin.compare(runs)
    a, b = twin.run_twin(runs["procmem"]), twin.run_twin(runs["procmem"])
    assert a.events == b.events
    assert twin.text_table(twin.compare(runs)) == twin.text_table(twin.compare(runs))


def test_delay_override_scales_the_convoy(runs):
    lab = runs["procmem"]
    for delay in (50, 600):
        pred = twin.predicted(twin.run_twin(lab, delay_ms=delay))
        assert pred["writer_max_wait_ms"] == pytest.approx(delay, rel=0.02)
        assert pred["fault_ms"] == pytest.approx(delay, rel=0.02)
    assert twin.predicted(twin.run_twin(lab, path="fault"))["writer_max_wait_ms"] < 1.0
    with pytest.raises(ValueError, match="delay_ms"):
        twin.twin_scenario(lab, delay_ms=0)
    with pytest.raises(ValueError, match="path"):
        twin.twin_scenario(lab, path="mmap")


def test_old_rules_and_old_fault_path(runs):
    """The two 'what if' exercises of notebook 07: 2.6.18's rwsem does not change the
    procmem convoy; 2.6.18's fault path (sync) brings it back on the fault path."""
    s = dataclasses.replace(twin.twin_scenario(runs["procmem"]), rwsem="2.6.18")
    assert twin.predicted(faultlab.run(s))["reader3_max_wait_ms"] > 0.9 * runs["procmem"].delay_ms
    s = dataclasses.replace(twin.twin_scenario(runs["fault"]), policy="sync")
    assert twin.predicted(faultlab.run(s))["writer_max_wait_ms"] > 0.9 * runs["fault"].delay_ms


def test_verdicts_of_the_recorded_runs(runs):
    f, p = twin.verdicts(runs["fault"]), twin.verdicts(runs["procmem"])
    assert f["major fault on the slow page"] and p["major fault on the slow page"]
    assert f["access took about the delay"] and p["access took about the delay"]
    assert not f["writer waited about the whole delay"] and p["writer waited about the whole delay"]
    assert f["writer barely waited (< delay/10)"] and not p["writer barely waited (< delay/10)"]
    assert f["writer calls completed during the read"] and not p["writer calls completed during the read"]
    assert not f["third reader waited about the whole delay"]
    assert p["third reader waited about the whole delay"]


def test_a_run_without_third_reader(runs):
    lab = dataclasses.replace(runs["procmem"], third_reader=None,
                              ops=[o for o in runs["procmem"].ops if o["task"] != "reader3"],
                              threads=["reader", "mapper"])
    s = twin.twin_scenario(lab)
    assert [t.name for t in s.threads] == ["reader", "mapper"]
    metrics = [r["metric"] for r in twin.compare(lab)]
    assert "reader3_max_wait_ms" not in metrics and "writer_max_wait_ms" in metrics


def test_side_by_side_draws_both(runs):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = twin.side_by_side(runs["procmem"], start_ms=40, end_ms=360)
    try:
        top, bottom = fig.axes[:2]
        names = lambda ax: [t.get_text() for t in ax.get_yticklabels()]   # noqa: E731
        assert names(top) == names(bottom) == ["reader", "mapper", "reader3"]
        labels = {c.get_label() for c in bottom.collections}
        assert "_reader:held_io" in labels and "_mapper:wait_write" in labels
    finally:
        plt.close(fig)
