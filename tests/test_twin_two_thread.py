"""The twin of the live two-thread benchmark, on a fixed calibration: a
prediction made from the calibration alone, with the model's mechanisms
(the convoy on split CPUs, wake-up preemption on one CPU, no convoy on the
fault path)."""
from __future__ import annotations

import pytest

from faultlab.kernel_lab import two_thread, twin
from faultlab.kernel_lab.twin import predict_two_thread, two_thread_twin

# a calibration of the shape calibrate() returns (fixed here, not measured; the
# mapper's lone rate is a loaded machine's, which keeps the simulation short)
CAL = {"disk_ms": 18, "path": "procmem", "read_us": 18200.0, "reader_alone_per_s": 54.8,
       "mapper_alone_per_s": 20000.0, "mmap_us": 1.2, "munmap_us": 1.4, "minor_fault_us": 0.6,
       "wakeup_us": 30.0, "wakeup_same_cpu_us": 5.0, "slice_us": 2800.0, "hz": 250, "ncpus": 2,
       "clock_ns": 30, "kernel": "6.18"}


@pytest.fixture(scope="module")
def procmem():
    return {c: predict_two_thread(dict(CAL), "procmem", c) for c in ("split", "same")}


def test_procmem_split_ties_the_mapper_to_the_reader(procmem):
    p = procmem["split"]
    assert 40 <= p["reader_per_s"] <= 56
    assert p["mapper_per_s"] <= 3 * p["reader_per_s"]
    assert p["mapper_max_ms"] >= 0.5 * CAL["read_us"] / 1000.0      # waits most of a read


def test_procmem_same_cpu_frees_the_mapper(procmem):
    """On one CPU the mapper loops freely for a slice per read: its lone rate
    times slice / (read + slice)."""
    p = procmem["same"]
    read_us = 1e6 / CAL["reader_alone_per_s"]
    share = CAL["slice_us"] / (read_us + CAL["slice_us"])
    assert p["mapper_per_s"] == pytest.approx(CAL["mapper_alone_per_s"] * share, rel=0.3)
    assert p["mapper_per_s"] >= 20 * p["reader_per_s"]


def test_fault_path_has_no_convoy():
    p = predict_two_thread(dict(CAL), "fault", "split")
    assert p["mapper_per_s"] >= 0.5 * CAL["mapper_alone_per_s"]
    assert p["mapper_max_ms"] < 0.1 * CAL["read_us"] / 1000.0


def test_the_twin_is_built_from_the_calibration_only():
    s = two_thread_twin(dict(CAL), "procmem", "split")
    assert s.disk.latency_ms == pytest.approx((1e6 / CAL["reader_alone_per_s"] - 0.06) / 1000.0)
    assert s.costs.mmap_us == pytest.approx(CAL["mmap_us"] - 0.03)
    assert s.costs.wakeup_us == CAL["wakeup_us"]
    assert s.cpus.slice_us == CAL["slice_us"] and s.cpus.n == 2
    assert s.rwsem == "modern" and s.policy == "per_vma_lock"
    assert two_thread_twin(dict(CAL), "procmem", "same").cpus.n == 1
    assert two_thread_twin(dict(CAL), "fault", "free").cpus.affinity == ()


def test_the_lone_relock_gap_is_spent_outside_the_lock():
    """With ``reader_relock_us`` the twin's reader spends that long between its
    up_read and its next down_read, and the disk takes the rest of its lone period."""
    s = two_thread_twin({**CAL, "reader_relock_us": 25.0}, "procmem", "split")
    assert s.threads[0].think_us == 25.0
    assert s.disk.latency_ms == pytest.approx((1e6 / CAL["reader_alone_per_s"] - 25.0) / 1000.0)
    p = predict_two_thread({**CAL, "reader_relock_us": 25.0}, "procmem", "split")
    assert p["reader_relock_us"] == pytest.approx(25.0, abs=0.5)


def test_the_fault_twin_uses_no_relock_gap():
    """The fault path's reader takes mmap_lock only for the retry after its read, so a
    gap in its calibration would span a read: the twin leaves it out."""
    with_gap = two_thread_twin({**CAL, "reader_relock_us": 5000.0}, "fault", "split")
    assert with_gap == two_thread_twin(dict(CAL), "fault", "split")


def test_the_race_goes_to_whoever_runs_first():
    """procmem, split: a reader back at the lock before the mapper's wake-up steals
    it (the mapper gets in by HANDOFF, one syscall per two reads); a reader back
    after it finds the mapper holding the lock, so the mapper loops at least once
    per read."""
    early = predict_two_thread({**CAL, "reader_relock_us": CAL["wakeup_us"] / 2}, "procmem", "split")
    late = predict_two_thread({**CAL, "reader_relock_us": CAL["wakeup_us"] * 2}, "procmem", "split")
    assert early["mapper_per_s"] < 0.5 * early["reader_per_s"]
    assert late["mapper_per_s"] >= late["reader_per_s"]


def test_deterministic():
    a = predict_two_thread(dict(CAL), "procmem", "split")
    assert predict_two_thread(dict(CAL), "procmem", "split") == a


@pytest.mark.parametrize("bad, field", [({"path": "x"}, "path"), ({"cpus": "both"}, "cpus"),
                                        ({"cal": {**CAL, "slice_us": None}}, "slice_us")])
def test_bad_input_is_named(bad, field):
    with pytest.raises(ValueError, match=field):
        predict_two_thread(bad.get("cal", dict(CAL)), bad.get("path", "procmem"), bad.get("cpus", "split"))


def test_relock_race_explains_the_procmem_split_twin():
    """The twin's reader asks for mmap_lock again sooner than the woken mapper runs,
    so the mapper gets the lock only by HANDOFF: one syscall per two reads, a
    quarter loop per read. The kernel's gap comes from its tracepoints."""
    runs = two_thread.load_recorded_runs()
    x = twin.relock_race(runs[("procmem", "split")])
    assert x["twin_relock_us"] < x["wakeup_us"]
    assert x["twin_loops_per_read"] == pytest.approx(0.25, abs=0.03)
    assert twin.relock_race(runs[("fault", "split")]) is None          # no tracepoint gaps recorded
    assert "procmem split" in twin.relock_race_text(runs)


def test_the_first_twin_stays_beside_the_second():
    """A procmem run whose calibration has the relock gap also shows the first twin
    (the same calibration without it); a run without the gap is the first twin, and
    the table says so."""
    import copy

    from faultlab.kernel_lab import lessons

    def with_calibration(run, cal):
        r = copy.deepcopy(run)
        r._prediction = r._first = None
        r.calibration = cal
        return r

    rec = two_thread.load_recorded_runs()[("procmem", "split")]
    assert rec.calibration["reader_relock_us"]              # the shipped recording has the gap
    cal = {k: v for k, v in rec.calibration.items() if k != "reader_relock_us"}
    old = with_calibration(rec, cal)
    assert old.twin()["relock_gap"] == "absent" and "first_mapper_per_s" not in old.twin()
    assert "its twin is the first twin" in lessons.twin_table({("procmem", "split"): old})
    new = with_calibration(rec, {**cal, "reader_relock_us": 2 * cal["wakeup_us"]})
    t = new.twin()
    assert t["relock_gap"] == "alone"
    assert t["first_mapper_per_s"] == old.twin()["mapper_per_s"]
    assert t["mapper_per_s"] > t["first_mapper_per_s"]        # the mapper now wins the race
    assert "first twin" in lessons.twin_table({("procmem", "split"): new}).splitlines()[0]
    fault = two_thread.load_recorded_runs()[("fault", "split")]
    assert fault.first_prediction() is None and fault.twin()["relock_gap"] == "not used"
