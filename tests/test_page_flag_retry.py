"""page_flag_retry: the retry-once marker as a bit on the page (Morton's 'otoh')."""
from __future__ import annotations

import pytest

import faultlab
from faultlab import Disk, Scenario, Script
from faultlab.workloads import fadvise_dos, threaded_app


def flag_ops(trace, r, op):
    return [dict(e[3])["page"] for e in trace.select(r, event="page_flag", op=op)]


def two_siblings(policy):
    """Thread a faults page 5000 (not cached); thread b faults the same page
    1 ms later, while a's read is in flight."""
    return Scenario(policy=policy, ra_pages=0, disk=Disk(latency_ms=10.0), file_pages=1 << 16, until_ms=50.0,
                    threads=(Script("a", steps=(("touch", 5000),)),
                             Script("b", steps=(("think", 1000.0), ("touch", 5000)))))


def test_one_fault_retries_once_and_the_first_map_clears_the_bit(trace):
    r = faultlab.run(two_siblings("page_flag_retry"))
    a = [f for f in r.faults if f.task == "a"][0]
    assert a.attempts == 2
    assert flag_ops(trace, r, "set") == [5000]
    assert flag_ops(trace, r, "clear") == [5000]
    # b, handed the page lock at the end of the read, maps first; a's rerun backs out
    assert trace.when(r, None, "page_flag", op="clear") == trace.when(r, "b", "map")
    assert trace.times(r, "a", "map") == []


def test_a_sibling_that_finds_the_bit_set_waits_under_mmap_sem(trace):
    r = faultlab.run(two_siblings("page_flag_retry"))
    assert flag_ops(trace, r, "found") == [5000]
    assert dict(trace.select(r, "b", "io_wait_start")[0][3])["mmap_sem"] is True
    b = [f for f in r.faults if f.task == "b"][0]
    assert b.attempts == 1


def test_under_the_task_flag_the_same_sibling_drops_mmap_sem(trace):
    r = faultlab.run(two_siblings("nopage_retry"))
    assert dict(trace.select(r, "b", "io_wait_start")[0][3])["mmap_sem"] is False
    assert [f.attempts for f in r.faults] == [2, 2]


@pytest.mark.parametrize("seed", range(6))
def test_a_shared_hot_set_brings_the_convoy_back_for_shared_pages(seed):
    """threaded_app, 8 readers on a hot set of 8 pages that starts uncached: while
    the set is read in, siblings meet marked pages; only page_flag_retry then
    holds mmap_sem across a read, and the mapper waits for it."""
    flag = faultlab.run(threaded_app(policy="page_flag_retry", hot_pages=8, until_ms=100.0, seed=seed)).summary()
    task = faultlab.run(threaded_app(policy="nopage_retry", hot_pages=8, until_ms=100.0, seed=seed)).summary()
    assert task["mmap_sem"]["held_across_io_ms"] == 0.0
    assert flag["mmap_sem"]["held_across_io_ms"] > 0.0
    assert flag["syscalls"]["wait_ms"]["max"] > 10 * task["syscalls"]["wait_ms"]["max"]


def test_without_a_shared_hot_set_it_is_nopage_retry_event_for_event():
    a = faultlab.run(threaded_app(policy="page_flag_retry", until_ms=100.0))
    b = faultlab.run(threaded_app(policy="nopage_retry", until_ms=100.0))
    strip = [e for e in a.events if e[2] != "page_flag"]
    assert strip == b.events


def test_eviction_gives_a_fresh_page_with_the_bit_clear_so_it_retries_without_limit(trace):
    r = faultlab.run(fadvise_dos(policy="page_flag_retry", until_ms=100.0))
    assert r.summary()["threads"]["victim"]["completed"] == 0
    assert r.faults[0].attempts > 10
    assert flag_ops(trace, r, "found") == []                     # never saw its own mark again
    assert len(flag_ops(trace, r, "set")) == r.faults[0].attempts      # every pass marks a fresh page
    unlimited = faultlab.run(fadvise_dos(policy="retry_unlimited", until_ms=100.0))
    assert unlimited.faults[0].attempts == r.faults[0].attempts


def test_a_slow_evictor_lets_it_finish_in_two_attempts():
    r = faultlab.run(fadvise_dos(policy="page_flag_retry", evict_period_us=5000.0, until_ms=100.0))
    assert [f.attempts for f in r.faults] == [2]


def test_bad_hot_set_parameters_name_the_field():
    with pytest.raises(ValueError, match=r"hot_pages: must be a whole number of pages from 0 to 65536"):
        threaded_app(hot_pages=-1)
    from dataclasses import replace
    from faultlab import Reader
    s = threaded_app(hot_pages=8)
    bad = replace(s, threads=(Reader("r", pattern="shared", page=0, span=8, miss_ratio=0.5),))
    with pytest.raises(ValueError, match=r"threads\[r\]\.page: the hot set 0\.\.7 must lie in the file and out of the cache"):
        faultlab.run(bad)
    with pytest.raises(ValueError, match=r"threads\[r\]\.span"):
        faultlab.run(replace(s, threads=(Reader("r", pattern="shared", page=1 << 22, span=0),)))
