"""The LRU-add pagevec (2.6.18): a page parked there cannot be dropped by
FADV_DONTNEED until its CPU drains; Morton's livelock needs such a drain."""
from __future__ import annotations

import dataclasses

import pytest

import faultlab
from faultlab.pagecache import droppable
from faultlab.pagevec import PAGEVEC_SIZE, Drain
from faultlab.scenario import Scenario, Script
from faultlab.sim import Kernel
from faultlab.workloads import fadvise_dos


def faults(**kw):
    return faultlab.run(fadvise_dos(policy="retry_unlimited", **kw)).summary()["faults"]


@pytest.mark.parametrize("drain", ["traffic", "reclaim"])
def test_livelock_with_a_drain_on_the_victims_cpu(drain):
    f = faults(drain=drain)
    assert f["unfinished"] == 1 and f["max_attempts"] > 50


def test_no_drain_no_livelock():
    """Without a drain the re-read page stays parked: the rerun finds it and maps it."""
    f = faults(drain="none")
    assert f["unfinished"] == 0 and f["max_attempts"] == 2


def test_the_default_drain_is_traffic():
    assert fadvise_dos().drain == Drain(kind="traffic", period_us=2.0, on="victim")


def test_slow_traffic_lets_the_fault_through():
    """Traffic that fills the pagevec only every 14 x 1 ms leaves the page parked
    through most reruns: the livelock needs a drain sooner than the disk answers."""
    f = faults(drain="traffic", drain_us=1000.0, until_ms=400.0)
    assert f["unfinished"] == 0 and f["max_attempts"] < 20


def test_drain_events_are_recorded():
    r = faultlab.run(fadvise_dos(policy="retry_unlimited", drain="reclaim", until_ms=20.0))
    drains = [e for e in r.events if e[2] == "lru_drain"]
    assert drains and all(e[1] == "kswapd" for e in drains)
    assert not [e for e in faultlab.run(fadvise_dos(policy="retry_unlimited", drain="none",
                                                    until_ms=20.0)).events if e[2] == "lru_drain"]


def _kernel(drain=Drain()):
    s = Scenario(policy="sync", ra_pages=0, file_pages=1 << 10, drain=drain,
                 threads=(Script("a", steps=()), Script("b", steps=())))
    s.check()
    return Kernel(s)


def test_a_parked_page_holds_a_reference_until_the_pagevec_fills():
    k = _kernel()
    pages = []
    for i in range(PAGEVEC_SIZE - 1):
        p = k.cache.add_to_page_cache(i)
        p.locked = False
        p.uptodate = True
        k.pagevecs.lru_cache_add("a", p)
        pages.append(p)
    assert all(p.count == 2 and not droppable(p) for p in pages)
    k.pagevecs.lru_cache_add("b", k.cache.add_to_page_cache(100))     # another CPU's pagevec
    assert all(p.count == 2 for p in pages)
    last = k.cache.add_to_page_cache(PAGEVEC_SIZE)
    k.pagevecs.lru_cache_add("a", last)                                 # the 14th add drains
    assert all(p.count == 1 and droppable(p) for p in pages) and last.count == 1


def test_lru_add_drain_drains_only_the_callers_cpu():
    k = _kernel()
    p = k.cache.add_to_page_cache(5)
    p.locked, p.uptodate = False, True
    k.pagevecs.lru_cache_add("a", p)
    k.pagevecs.lru_add_drain("b")
    assert p.count == 2
    k.pagevecs.lru_add_drain("a")
    assert p.count == 1


def test_an_evictor_on_the_victims_cpu_drains_it_itself():
    """FADV_DONTNEED's pagevec_release drains its own CPU: on the victim's CPU the
    first call skips the parked page, and a later call drops it."""
    k = _kernel()
    p = k.cache.add_to_page_cache(7)
    p.locked, p.uptodate = False, True
    k.pagevecs.lru_cache_add("a", p)
    from faultlab.syscalls import sys_fadvise_dontneed
    task = k.tasks[0]
    assert sys_fadvise_dontneed(k, task, 7, 1) == []
    assert sys_fadvise_dontneed(k, task, 7, 1) == [7]


def test_bad_drain_is_named():
    with pytest.raises(ValueError, match="^drain: must be one of none, traffic, reclaim"):
        faultlab.run(fadvise_dos(drain="sometimes"))
    with pytest.raises(ValueError, match="^drain: unknown"):
        faultlab.run(dataclasses.replace(fadvise_dos(), drain=Drain(kind="sometimes")))
    with pytest.raises(ValueError, match="drain_us"):
        faultlab.run(dataclasses.replace(fadvise_dos(), drain=Drain(kind="traffic", period_us=0.0)))
    with pytest.raises(ValueError, match="drain.on"):
        faultlab.run(dataclasses.replace(fadvise_dos(), drain=Drain(kind="traffic", on="nobody")))
