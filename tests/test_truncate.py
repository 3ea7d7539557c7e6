"""A fault racing an ftruncate of the page it is faulting (truncate_race): the
2.6.18 truncate_count recheck, Piggin's page lock, and the bug without either."""
from __future__ import annotations

from dataclasses import replace

import pytest

import faultlab
from faultlab import Disk, Scenario, Script, Truncater
from faultlab.policies import POLICIES
from faultlab.record import Outcome
from faultlab.workloads import truncate_race

PAGE = 5000


def outcome(r):
    (f,) = [f for f in r.faults if f.task == "reader" and f.outcome is not Outcome.REFAULT]
    return f.outcome


def test_sync_rechecks_truncate_count_retries_inside_do_no_page_and_ends_in_sigbus(trace):
    r = faultlab.run(truncate_race(policy="sync"))
    assert outcome(r) is Outcome.SIGBUS
    assert r.faults[0].attempts == 1                            # no arch-level retry: do_no_page's own
    (retry,) = trace.select(r, "reader", "truncate_retry")
    assert retry[0] > trace.when(r, "truncater", "unmap_range")  # after the bump
    assert trace.times(r, "reader", "map") == []
    assert r.summary()["kernel_bugs"] == []


def test_sync_waits_for_truncate_nowhere_and_truncate_waits_for_the_read(trace):
    r = faultlab.run(truncate_race(policy="sync"))
    # pass 1 skips the locked page; pass 2 sleeps in lock_page until the read is done
    assert trace.when(r, "truncater", "truncate_wait") < trace.when(r, "reader", "io_complete")
    assert trace.when(r, "truncater", "truncate_got") > trace.when(r, "reader", "io_complete")


def test_a_truncate_that_spares_the_page_still_sends_sync_round_a_clean_retry(trace):
    r = faultlab.run(truncate_race(policy="sync", beyond=False))
    assert outcome(r) is Outcome.MAJOR
    assert len(trace.select(r, "reader", "truncate_retry")) == 1
    assert trace.select(r, "reader", "map")


def test_without_the_recheck_a_truncated_page_stays_mapped_and_the_bug_is_recorded(trace):
    r = faultlab.run(truncate_race(policy="truncate_unchecked"))
    assert outcome(r) is Outcome.MAJOR                          # it mapped the page
    (bug,) = r.summary()["kernel_bugs"]
    assert bug["task"] == "truncater" and f"page {PAGE}" in bug["bug"]
    assert trace.when(r, "reader", "map") < trace.when(r, "truncater", "truncate_page")


def test_lock_page_nopage_needs_no_truncate_count_the_page_lock_orders_them(trace):
    r = faultlab.run(truncate_race(policy="lock_page_nopage"))
    assert outcome(r) is Outcome.SIGBUS
    assert trace.select(r, "reader", "truncate_retry") == []
    # the reader holds the page lock from the end of the read to its i_size recheck;
    # truncate takes it only then
    assert trace.when(r, "truncater", "truncate_got") > trace.when(r, "reader", "fault_end")
    assert r.summary()["kernel_bugs"] == []


def test_under_the_page_lock_truncate_unmaps_a_page_the_fault_mapped(trace, run_keeping_kernel):
    """The fault maps page 5000 first (truncate after the read); the truncate then
    finds it mapped under the lock and unmaps it before removing it."""
    k, r = run_keeping_kernel(truncate_race(policy="lock_page_nopage", truncate_at_ms=20.0))
    assert outcome(r) is Outcome.MAJOR
    zaps = [dict(e[3])["zapped"] for e in trace.select(r, "truncater", "unmap_range")]
    assert sum(zaps) == 1
    assert k.mm.ptes == {}


@pytest.mark.parametrize("policy", ["pagefault_args", "vm_fault_retry", "multi_retry", "per_vma_lock"])
def test_the_page_locked_boolean_is_in_use_where_the_fault_carries_a_struct(trace, policy):
    r = faultlab.run(truncate_race(policy=policy))
    assert outcome(r) is Outcome.SIGBUS
    assert trace.select(r, "reader", "truncate_retry") == []


def test_pagefault_args_sets_and_clears_its_page_locked_flag(run_keeping_kernel):
    import faultlab.fault as fault
    seen = []
    real = fault.nopage_done

    def spy(k, f, page):
        seen.append(f.args.page_locked)
        real(k, f, page)
        seen.append(f.args.page_locked)
    fault.nopage_done = spy
    try:
        run_keeping_kernel(truncate_race(policy="pagefault_args", beyond=False))
    finally:
        fault.nopage_done = real
    assert seen == [True, False]


@pytest.mark.parametrize("policy", sorted(POLICIES))
@pytest.mark.parametrize("at_ms", [0.001, 2.0, 10.0001, 10.006, 30.0])
@pytest.mark.parametrize("beyond", [True, False])
def test_no_design_but_the_broken_one_maps_a_page_past_the_new_end(policy, at_ms, beyond):
    """At every phase of the race (before the read, during it, at its end,
    after the map) the run ends with its invariants holding; a kernel bug
    only under truncate_unchecked."""
    r = faultlab.run(truncate_race(policy=policy, truncate_at_ms=at_ms, beyond=beyond))
    bugs = r.summary()["kernel_bugs"]
    if policy != "truncate_unchecked":
        assert bugs == []
    if not beyond:
        assert outcome(r) in (Outcome.MAJOR, Outcome.MINOR)


def test_a_truncater_must_shrink_the_file():
    s = truncate_race()
    with pytest.raises(ValueError, match=r"threads\[truncater\]\.new_pages: must be smaller than file_pages"):
        faultlab.run(replace(s, threads=(Truncater("truncater", new_pages=s.file_pages),)))


def test_faults_past_the_new_end_after_the_truncate_are_sigbus():
    s = Scenario(policy="sync", ra_pages=0, disk=Disk(latency_ms=1.0), file_pages=1 << 16, until_ms=20.0,
                 threads=(Truncater("truncater", new_pages=100),
                          Script("reader", steps=(("think", 10.0), ("touch", 99), ("touch", 100)))))
    r = faultlab.run(s)
    assert [f.outcome for f in r.faults] == [Outcome.MAJOR, Outcome.SIGBUS]


def test_truncate_race_refuses_a_page_with_no_room_to_keep_by_its_name():
    from faultlab.workloads import SMALL_FILE_PAGES
    with pytest.raises(ValueError, match=r"^page: with beyond=False"):
        truncate_race(beyond=False, page=SMALL_FILE_PAGES - 1)
    truncate_race(beyond=True, page=SMALL_FILE_PAGES - 1).check()
    with pytest.raises(ValueError, match=r"^truncate_at_ms: must be a number of ms"):
        truncate_race(truncate_at_ms=-1.0)
