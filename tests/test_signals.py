"""SIGKILL: each kernel lets the fault loop end only where it looks for a fatal
signal -- at the return to user space, and (since 37b23e0525d3) at a
killable page wait and the arch code's retry -- never elsewhere."""
from __future__ import annotations

from dataclasses import replace

import pytest

import faultlab
from faultlab import Reader, Signal
from faultlab.policies import POLICIES
from faultlab.record import Outcome
from faultlab.workloads import fadvise_dos, two_thread


def killed(trace, r, task="victim"):
    ev = trace.select(r, task, "killed")
    assert len(ev) <= 1
    return (ev[0][0], dict(ev[0][3])["where"]) if ev else (None, None)


def during_the_read(policy):
    """The victim faults its page; SIGKILL arrives 1 ms into a 20 ms read (no evictor pressure)."""
    s = fadvise_dos(policy=policy, kill_at_ms=1.0, evict_period_us=1e6, until_ms=100.0)
    return replace(s, disk=replace(s.disk, latency_ms=20.0, distribution="fixed"))


@pytest.mark.parametrize("policy", ["sync", "nopage_retry", "pagefault_args", "vm_fault_retry", "refault",
                                    "seqcount", "single_user_sync"])
def test_an_uninterruptible_wait_dies_only_when_its_fault_returns_to_user_space(trace, policy):
    r = faultlab.run(during_the_read(policy))
    t, where = killed(trace, r)
    assert where == "return_to_user"
    assert t == r.faults[-1].end_us                       # the moment the fault ends, not before
    assert t > trace.when(r, "victim", "io_complete")    # after its read
    assert r.faults[-1].outcome is not Outcome.KILLED


@pytest.mark.parametrize("policy", ["multi_retry", "per_vma_lock"])
def test_since_2011_the_page_wait_is_killable_and_the_retry_checks_fatal_signal_pending(trace, policy):
    r = faultlab.run(during_the_read(policy))
    t, where = killed(trace, r)
    exit_us = r.scenario.costs.fault_exit_us
    assert (t, where) == (pytest.approx(1000.0 + exit_us), "fault_signal_pending")   # at once, mid-read
    assert r.faults[-1].outcome is Outcome.KILLED
    assert trace.when(r, "victim", "io_complete") > t         # the read finishes without it
    assert r.summary()["signals"] == [{"thread": "victim", "sent_ms": 1.0, "died_ms": 1.0,
                                       "where": "fault_signal_pending"}]


def test_retry_unlimited_in_its_livelock_never_dies(trace):
    r = faultlab.run(fadvise_dos(policy="retry_unlimited", kill_at_ms=50.0))
    assert killed(trace, r) == (None, None)
    assert r.summary()["signals"][0]["died_ms"] is None
    assert r.faults[0].outcome is Outcome.UNFINISHED and r.faults[0].attempts > 10


def test_refault_in_the_same_livelock_dies_at_its_next_return_to_user_space(trace):
    r = faultlab.run(fadvise_dos(policy="refault", kill_at_ms=50.0))
    t, where = killed(trace, r)
    assert where == "return_to_user"
    first_end_after = min(f.end_us for f in r.faults if f.end_us >= 50000.0)
    assert t == first_end_after
    assert t - 50000.0 < 2 * 2000.0 * 10                      # within a few reads (2 ms mean)
    assert all(f.outcome is Outcome.REFAULT for f in r.faults)


def test_a_thread_in_user_space_dies_at_once(trace):
    s = replace(two_thread(policy="sync", until_ms=100.0), signals=(Signal("mapper", 30.0),))
    r = faultlab.run(s)
    t, where = killed(trace, r, "mapper")
    assert t >= 30000.0
    assert trace.times(r, "mapper", "syscall_start", ) and max(trace.times(r, "mapper", "syscall_start")) <= t
    s2 = replace(s, threads=(Reader("reader", pattern="cold", think_us=50000.0, count=1),),
                 signals=(Signal("reader", 30.0),))
    r2 = faultlab.run(s2)
    assert killed(trace, r2, "reader") == (30000.0, "user")   # asleep in its think time


@pytest.mark.parametrize("policy", sorted(POLICIES))
@pytest.mark.parametrize("kill_at_ms", [0.3, 3.0, 40.0])
def test_never_elsewhere(trace, policy, kill_at_ms):
    """Whatever the design, a death is at a fault's end (return to user, or the
    fault_signal_pending check that ends it) or in user space, and only the
    designs whose kernel checks fatal_signal_pending end a fault KILLED."""
    r = faultlab.run(fadvise_dos(policy=policy, kill_at_ms=kill_at_ms, until_ms=60.0))
    t, where = killed(trace, r)
    ends = {f.end_us for f in r.faults if f.task == "victim"}
    if where in ("return_to_user", "fault_signal_pending"):
        assert t in ends
    elif where == "user":
        assert t == kill_at_ms * 1000.0
    checks = POLICIES[policy].fatal_signal_on_retry(None)
    if not checks:
        assert all(f.outcome is not Outcome.KILLED for f in r.faults)


def test_a_signal_to_an_unknown_thread_is_an_input_error():
    with pytest.raises(ValueError, match=r"signals\[0\]\.thread: no thread named 'nobody'"):
        faultlab.run(replace(fadvise_dos(), signals=(Signal("nobody", 1.0),)))
    with pytest.raises(ValueError, match=r"signals\[0\]\.at_ms"):
        faultlab.run(replace(fadvise_dos(), signals=(Signal("victim", -1.0),)))


def test_kill_at_ms_must_be_a_number_of_ms():
    with pytest.raises(ValueError, match=r"kill_at_ms"):
        fadvise_dos(kill_at_ms="soon")
    with pytest.raises(ValueError, match=r"kill_at_ms: must be a number of ms greater than 0"):
        fadvise_dos(kill_at_ms=-5.0)
    with pytest.raises(ValueError, match=r"signals: must be a tuple"):
        faultlab.run(replace(fadvise_dos(), signals=[Signal("victim", 1.0)]))
    with pytest.raises(ValueError, match=r"signals\[0\]: must be a faultlab.Signal"):
        faultlab.run(replace(fadvise_dos(), signals=(("victim", 1.0),)))
