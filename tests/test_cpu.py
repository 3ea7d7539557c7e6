"""The CPU layer (faultlab/cpu.py): run queues, affinity, wake-up latency and
wake-up preemption. Without it (the default) nothing changes."""
from __future__ import annotations

import dataclasses

import pytest

import faultlab
from faultlab.cpu import CPUs
from faultlab.errors import InputError
from faultlab.workloads import fadvise_dos, two_thread

SPLIT = CPUs(n=2, affinity=(("reader", 0), ("mapper", 1)))
SAME = CPUs(n=1, affinity=(("reader", 0), ("mapper", 0)), slice_us=2000.0)


def gup_two_thread(cpus, **kw):
    s = two_thread(**{"until_ms": 400.0, **kw})
    reader = dataclasses.replace(s.threads[0], via="gup")
    return dataclasses.replace(s, threads=(reader, s.threads[1]), cpus=cpus)


def rates(s):
    t = faultlab.run(s).summary()["threads"]
    return t["reader"]["ops_per_s"], t["mapper"]["ops_per_s"]


def test_one_cpu_per_thread_changes_nothing():
    """Two CPUs, one thread each: the same trace as with no CPU layer."""
    plain = faultlab.run(gup_two_thread(None))
    split = faultlab.run(gup_two_thread(SPLIT))
    assert split.trace_lines() == plain.trace_lines()


@pytest.mark.parametrize("rwsem", ["2.6.18", "modern"])
def test_on_one_cpu_the_woken_mapper_preempts_the_reader(rwsem):
    """The convoy on separate CPUs: one syscall per read under 2.6.18 (the waker
    grants the writer), one per two reads under the modern rules (the woken
    writer finds the lock stolen by the reader's next fault, sets HANDOFF, and
    gets it at the read after); on one CPU the mapper, woken at the reader's
    up_read after sleeping through the read, preempts the reader at its return
    to user space and loops for a slice."""
    reads, split = rates(gup_two_thread(SPLIT, rwsem=rwsem))
    _, same = rates(gup_two_thread(SAME, rwsem=rwsem))
    syscalls_per_read = {"2.6.18": 1, "modern": 0.5}[rwsem]
    assert split == pytest.approx(reads * syscalls_per_read / 2, rel=0.15)
    loop_us = 25.0 + 36.0 + 2 * 2.0 + 2 * 0.3
    per_read = 2000.0 / loop_us                       # one slice of free loops per read
    assert same > 10 * split
    assert same == pytest.approx(per_read * 47.5, rel=0.35)


def test_without_wakeup_preemption_the_reader_keeps_its_cpu():
    _, same = rates(gup_two_thread(dataclasses.replace(SAME, wakeup_preempt=False)))
    _, pre = rates(gup_two_thread(SAME))
    assert same < pre / 5


def test_the_preemption_is_at_the_return_to_user():
    r = faultlab.run(gup_two_thread(SAME, until_ms=60.0))
    ev = [(t, task, e) for t, task, e, _ in r.events if e in ("released", "start_locking", "acquire_returned")]
    # the reader's first release, then the mapper takes the lock before the reader asks again
    i = next(i for i, (_, task, e) in enumerate(ev) if task == "reader" and e == "released")
    after = [x for x in ev[i + 1:] if x[1] == "reader"]
    mapper_first = next(x for x in ev[i + 1:] if x[1] == "mapper" and x[2] == "acquire_returned")
    assert mapper_first[0] < after[0][0]
    assert after[0][0] - ev[i][0] >= 2000.0           # the reader waits out the mapper's slice


def test_free_placement_uses_an_idle_cpu():
    assert rates(gup_two_thread(CPUs(n=2)))[1] == pytest.approx(27.5, abs=1.0)


def test_bad_cpus_are_named():
    with pytest.raises(InputError, match=r"cpus\.n"):
        faultlab.run(gup_two_thread(CPUs(n=0)))
    with pytest.raises(InputError, match=r"cpus\.affinity\[mapper\]"):
        faultlab.run(gup_two_thread(CPUs(n=1, affinity=(("mapper", 1),))))
    with pytest.raises(InputError, match="no thread named"):
        faultlab.run(gup_two_thread(CPUs(n=1, affinity=(("writer", 0),))))
    with pytest.raises(InputError, match=r"cpus\.slice_us"):
        faultlab.run(gup_two_thread(CPUs(n=1, slice_us=0.0)))
    with pytest.raises(InputError, match="evictor"):
        faultlab.run(dataclasses.replace(fadvise_dos(), cpus=CPUs(n=1)))
