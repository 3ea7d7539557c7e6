"""refault: Herrenschmidt's NOPAGE_REFAULT in filemap_nopage -- each attempt a
fault of its own that maps nothing, back to user space in between."""
from __future__ import annotations

from dataclasses import replace

import pytest

import faultlab
from faultlab import Disk, Scenario, Script
from faultlab.record import Outcome
from faultlab.workloads import fadvise_dos, two_thread


def one_access(policy="refault", page=5000, **kw):
    """One thread touches one uncached page (no read-around): the read is in
    flight when filemap_nopage looks at the page."""
    return Scenario(policy=policy, ra_pages=0, disk=Disk(latency_ms=5.0), file_pages=1 << 16, until_ms=50.0,
                    threads=(Script("reader", steps=(("touch", page),)), Script("idle", steps=(("think", 1.0),))),
                    **kw)


def test_each_attempt_is_a_fault_that_maps_nothing_linked_to_its_access(trace):
    r = faultlab.run(one_access())
    first, second = r.faults
    assert (first.outcome, second.outcome) == (Outcome.REFAULT, Outcome.MINOR)
    assert first.attempts == second.attempts == 1                # no in-kernel rerun
    assert first.access == second.access == 0                     # the second belongs to the first's access
    assert trace.names(r, "reader").count("map") == 1             # only the last attempt maps
    assert trace.when(r, "reader", "map") > second.start_us


def test_the_wait_is_outside_mmap_sem_and_the_way_back_passes_through_user_space(trace):
    r = faultlab.run(one_access())
    assert trace.select(r, "reader", "io_wait_start")[0][3] == (("page", 5000), ("mmap_sem", False))
    c = r.scenario.costs
    first, second = r.faults
    # fault exit (return to user), the access re-executed, the new trap: all before the second fault
    assert second.start_us - first.end_us == pytest.approx(c.reexecute_us)
    assert first.end_us - trace.when(r, "reader", "io_wait_end") >= c.fault_exit_us


def test_the_summary_counts_every_attempt_as_a_fault_and_the_refaults_apart():
    s = faultlab.run(two_thread(policy="refault", until_ms=400.0)).summary()
    reads = s["threads"]["reader"]["completed"]
    assert s["faults"]["outcomes"]["REFAULT"] >= reads               # one refault per read at least
    assert s["faults"]["completed"] >= 2 * reads                     # the kernel counts both attempts
    assert s["faults"]["max_attempts"] == 1


def test_the_mapper_runs_during_the_reads_as_under_nopage_retry():
    sync = faultlab.run(two_thread(policy="sync", until_ms=400.0)).summary()
    refault = faultlab.run(two_thread(policy="refault", until_ms=400.0)).summary()
    assert refault["threads"]["mapper"]["ops_per_s"] > 100 * sync["threads"]["mapper"]["ops_per_s"]
    assert refault["mmap_sem"]["held_across_io_ms"] == 0.0


def test_refault_retries_without_limit_so_a_fast_evictor_starves_it():
    s = faultlab.run(fadvise_dos(policy="refault", until_ms=100.0)).summary()
    assert s["threads"]["victim"]["completed"] == 0
    assert s["faults"]["outcomes"]["REFAULT"] > 10
    assert "MINOR" not in s["faults"]["outcomes"] and "MAJOR" not in s["faults"]["outcomes"]


def test_with_a_slow_evictor_the_refault_finds_its_page():
    s = faultlab.run(fadvise_dos(policy="refault", evict_period_us=5000.0, until_ms=100.0)).summary()
    assert s["threads"]["victim"]["completed"] == 1


def test_a_get_user_pages_fault_waits_synchronously_under_refault(trace):
    s = replace(one_access(), threads=(Script("reader", steps=(("gup", 5000),)),
                                       Script("idle", steps=(("think", 1.0),))))
    r = faultlab.run(s)
    assert [f.outcome for f in r.faults] == [Outcome.MAJOR]
    assert dict(trace.select(r, "reader", "io_wait_start")[0][3])["mmap_sem"] is True
