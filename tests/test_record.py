"""faultlab.record: the event names, the folds that read the record, and runs
that keep no record (``keep_events=False``) giving the same summary."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import faultlab
from faultlab import record, sim
from faultlab.errors import InputError
from faultlab.policies import POLICIES
from faultlab.workloads import PRESETS, fadvise_dos, threaded_app, two_thread, unmap_during_fault
from test_properties import scenarios             # the random small scenarios of the property tests

# Long enough for every preset to show its story, short enough for CI (as the trace-identity test).
UNTIL_MS = {"two_thread": 400.0, "threaded_app": 100.0}


# Runs beyond the presets' defaults, for the events only they make: a SIGKILL
# (signal, killed), and siblings meeting on a page the lock-the-page designs
# hold locked from ->nopage to the pte (page_lock_wait, page_lock_got).
EXTRA = {"fadvise_dos+kill": ("fadvise_dos", {"kill_at_ms": 50.0}),
         "threaded_app+hot": ("threaded_app", {"hot_pages": 8, "until_ms": 100.0})}


def preset_runs():
    for preset in sorted(PRESETS):
        for policy in sorted(POLICIES):
            kw = {"policy": policy}
            if preset in UNTIL_MS:
                kw["until_ms"] = UNTIL_MS[preset]
            yield f"{preset}/{policy}", PRESETS[preset](**kw)
    for name, (preset, params) in EXTRA.items():
        for policy in sorted(POLICIES):
            yield f"{name}/{policy}", PRESETS[preset](policy=policy, **params)


@pytest.fixture(scope="module")
def both_ways():
    """Every preset x policy, run keeping its events and keeping none."""
    return {name: (faultlab.run(s), faultlab.run(s, keep_events=False)) for name, s in preset_runs()}


# -- the names -----------------------------------------------------------------------------

def test_every_preset_and_policy_emit_exactly_the_named_events(both_ways):
    emitted = {e[2] for kept, _ in both_ways.values() for e in kept.events}
    assert emitted == set(record.EVENTS), (f"emitted but not in record.EVENTS: {sorted(emitted - set(record.EVENTS))}; "
                                           f"named but never emitted: {sorted(set(record.EVENTS) - emitted)}")


def test_every_name_has_a_one_line_meaning_and_lab_names_are_apart():
    for name, meaning in {**record.EVENTS, **record.LAB_EVENTS}.items():
        assert meaning and "\n" not in meaning, name
    assert not set(record.EVENTS) & set(record.LAB_EVENTS)


def test_the_kernel_lab_records_only_named_events():
    kernel_lab = pytest.importorskip("faultlab.kernel_lab")
    runs = kernel_lab.load_recorded()
    names = {e[2] for r in runs.values() for e in r.events}
    assert names <= set(record.EVENTS) | set(record.LAB_EVENTS)
    assert {record.OP_START, record.OP_END} <= names


# -- a run that keeps no events -------------------------------------------------------------

def test_keeping_no_events_gives_the_same_summary_for_every_preset_and_policy(both_ways):
    differ = [name for name, (kept, streamed) in both_ways.items()
              if json.dumps(kept.summary()) != json.dumps(streamed.summary())]
    assert not differ


def test_derived_counts_match_the_summary(both_ways):
    for name, (kept, _) in both_ways.items():
        s = kept.summary()
        n = record.counts(kept.events, (record.IO_SUBMIT, record.KERNEL_BUG))
        assert n[record.IO_SUBMIT] == s["disk_requests"], name
        assert n[record.KERNEL_BUG] == len(s["kernel_bugs"]), name
        walks = sum(max(f.attempts - 1, 0) for f in kept.faults)
        assert s["redone_walks"] == walks == kept.redone_walks, name
        ended = sorted(f.latency_us for f in kept.faults if f.end_us is not None)
        assert sorted(record.fault_latencies_us(kept.events)) == ended, name


def test_the_accesses_fold_groups_faults_as_the_fault_records_link_them(both_ways):
    """record.Accesses, from the events alone, against FaultRecord.access (a
    refault's faults share their access's start): faults per access exactly;
    walks exactly for ended accesses, and for one still open at the end at
    most one more than its records (the walk under way, counted once a retry
    has begun it, while the record counts it when find_vma starts)."""
    for name, (kept, _) in both_ways.items():
        by_access = {}
        for f in kept.faults:
            a = by_access.setdefault((f.task, f.access), {"faults": 0, "passes": 0})
            a["faults"] += 1
            a["passes"] += f.attempts
        got = {(a["task"], a["start_us"]): a for a in record.fold(kept.events, record.Accesses())}
        assert set(got) == set(by_access), name
        for key, a in got.items():
            b = by_access[key]
            assert a["faults"] == b["faults"], (name, key)
            if a["outcome"] == "unfinished":
                assert 0 <= a["passes"] - b["passes"] <= 1, (name, key)
            else:
                assert a["passes"] == b["passes"], (name, key)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_keeping_no_events_agrees_with_a_full_run_on_any_small_scenario(data):
    s = data.draw(scenarios())
    extra_kept, extra_streamed = record.Counts(record.EVENTS), record.Counts(record.EVENTS)
    kept = faultlab.run(s, folds=(extra_kept,))
    streamed = faultlab.run(s, keep_events=False, folds=(extra_streamed,))
    assert kept.summary() == streamed.summary()
    assert extra_kept.result() == extra_streamed.result() == record.counts(kept.events, record.EVENTS)


def test_a_run_without_events_says_so_when_asked_for_them():
    r = faultlab.run(two_thread(until_ms=50.0), keep_events=False)
    for what in ("events", "faults", "syscalls"):
        with pytest.raises(InputError, match=f"{what}: .*keep_events=True"):
            getattr(r, what)
    with pytest.raises(InputError, match="keep_events=True"):
        r.trace_lines()
    assert r.summary()["faults"]["completed"] > 0


def test_a_kept_record_too_big_is_refused_early_naming_until_ms(monkeypatch):
    monkeypatch.setattr(sim, "KEEP_LIMIT_MB", 50)
    s = two_thread(policy="nopage_retry", until_ms=1e5)       # about 150,000 events a simulated second
    with pytest.raises(InputError) as e:
        faultlab.run(s)
    msg = str(e.value)
    assert msg.startswith("until_ms: ") and "keep_events=False" in msg and " MB" in msg
    short = faultlab.run(two_thread(policy="nopage_retry", until_ms=100.0))    # a short run is let through
    assert len(short.events) > 10_000


def test_running_in_legs_changes_no_event():
    s = two_thread(policy="nopage_retry", until_ms=30.0)
    whole = faultlab.run(s, keep_events=True)
    seen = []
    legs = faultlab.run(s, progress=seen.append)
    assert legs.events == whole.events
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) >= 100


def test_memory_of_a_run_without_events_does_not_grow_with_its_record():
    """Ten times as long is about 70,000 more events (some 14 MB if kept); what
    grows is the model's own state (the page cache it has read), not the record."""
    import tracemalloc

    def peak(until_ms):
        tracemalloc.start()
        try:
            faultlab.run(two_thread(policy="nopage_retry", until_ms=until_ms), keep_events=False)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    short, long = peak(50.0), peak(500.0)
    assert long < short + 2_000_000


# -- the folds ----------------------------------------------------------------------------------

def test_lock_requests_pair_each_request_with_its_grant():
    r = faultlab.run(unmap_during_fault(policy="sync"))
    rows = record.lock_requests(r.events)
    asked = [e for e in r.events if e[2] == record.START_LOCKING]
    assert len(rows) == len(asked)
    for task, side, t0, t1 in rows:
        assert side in ("read", "write") and t0 <= t1
    waits = record.lock_waits(r.events)
    assert waits == {task: max(t1 - t0 for tk, _, t0, t1 in rows if tk == task) for task in waits}
    assert list(waits) == sorted(waits)


def test_lock_requests_skip_a_grant_never_asked_for():
    events = [(0.0, "a", record.ACQUIRE_RETURNED, (("write", False),)),
              (1.0, "a", record.START_LOCKING, (("write", True),)),
              (3.0, "a", record.ACQUIRE_RETURNED, (("write", True),))]
    assert record.lock_requests(events) == [("a", "write", 1.0, 3.0)]


def test_held_across_io_counts_only_sleeps_under_mmap_sem_and_runs_to_the_end():
    events = [(0.0, "a", record.IO_WAIT_START, (("page", 1), ("mmap_sem", True))),
              (5.0, "a", record.IO_WAIT_END, (("page", 1),)),
              (6.0, "b", record.IO_WAIT_START, (("page", 2), ("mmap_sem", False))),
              (9.0, "b", record.IO_WAIT_END, (("page", 2),)),
              (10.0, "a", record.IO_WAIT_START, (("page", 3), ("mmap_sem", True)))]
    assert record.held_across_io_us(events, until_us=12.0) == 5.0 + 2.0


def test_fault_latencies_pair_a_fault_inside_a_fault_with_its_own_start():
    r = faultlab.run(PRESETS["pinned_gup"](policy="sync"))
    assert sorted(record.fault_latencies_us(r.events)) == sorted(
        f.latency_us for f in r.faults if f.end_us is not None)


def test_span_and_counts():
    r = faultlab.run(fadvise_dos(policy="retry_unlimited", until_ms=5.0))
    span = record.Span("victim", record.IO_WAIT_EVENTS)
    n = record.Counts((record.EVICT, record.RETRY))
    record.fold(r.events, span, n)
    waits = [e[0] for e in r.events if e[1] == "victim" and e[2] in record.IO_WAIT_EVENTS]
    assert span.result() == (waits[0], waits[-1]) and span.n == len(waits)
    assert n.result()[record.EVICT] == sum(e[2] == record.EVICT for e in r.events) > 0


def test_relock_gaps_pair_each_release_with_the_same_tasks_next_request():
    w = (("write", False),)
    events = [(0.0, "reader", record.START_LOCKING, w),       # no release before it: no gap
              (1.0, "reader", record.RELEASED, w),
              (2.0, "mapper", record.START_LOCKING, (("write", True),)),
              (4.5, "reader", record.START_LOCKING, w),
              (5.0, "reader", record.RELEASED, w),
              (6.0, "reader", record.RELEASED, w),             # a second release restarts the clock
              (9.0, "reader", record.START_LOCKING, w)]
    assert record.relock_gaps_us(events, "reader") == [3.5, 3.0]
    assert record.relock_gaps_us(events, "mapper") == []


def test_relock_gaps_of_a_model_run_follow_its_lock_events():
    r = faultlab.run(two_thread(policy="sync", until_ms=100.0))
    gaps = record.relock_gaps_us(r.events, "reader")
    released = [e for e in r.events if e[1] == "reader" and e[2] == record.RELEASED]
    assert gaps and len(gaps) in (len(released), len(released) - 1)
    assert all(g >= 0 for g in gaps)


# -- percentiles ---------------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.floats(0.0, 1e6, allow_nan=False) | st.sampled_from([0.0, 1.5, 7.25]),
                       min_size=1, max_size=300),
       scale=st.sampled_from([1.0, 1000.0]))
def test_percentiles_are_numpys_inverted_cdf(values, scale):
    got = record.percentiles(values, scale)
    for q in (50, 95, 99):
        want = float(np.percentile(np.array(values), q, method="inverted_cdf"))
        assert got[f"p{q}"] == round(want / scale, 3), (q, sorted(values))
    assert got["max"] == round(max(values) / scale, 3)


def test_percentiles_at_the_rank_boundaries():
    values = list(range(1, 101))                     # the q-th percentile of 1..100 is q
    assert record.percentiles(values) == {"p50": 50, "p95": 95, "p99": 99, "max": 100}
    assert record.percentiles([3.0]) == {"p50": 3.0, "p95": 3.0, "p99": 3.0, "max": 3.0}
    assert record.percentiles([]) == {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
    twenty = [float(i) for i in range(20)]           # ceil(0.95 * 20) = 19th smallest
    assert record.percentiles(twenty)["p95"] == 18.0


def test_lock_holds_pair_each_grant_with_the_same_tasks_release():
    events = [(1.0, "reader", record.RELEASED, ()),                       # no grant seen: left out
              (2.0, "reader", record.ACQUIRE_RETURNED, (("write", False),)),
              (2.5, "mapper", record.ACQUIRE_RETURNED, (("write", True),)),
              (9.0, "reader", record.RELEASED, (("write", False),)),
              (10.0, "mapper", record.RELEASED, (("write", True),)),
              (11.0, "reader", record.ACQUIRE_RETURNED, (("write", False),))]  # still held: left out
    assert record.lock_holds_us(events, "reader") == [(2.0, 7.0)]
    assert record.lock_holds_us(events, "mapper") == [(2.5, 7.5)]
