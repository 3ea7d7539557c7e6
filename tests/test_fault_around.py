"""Fault-around (3.15+, mm/memory.c do_fault_around): a read fault in the
3.15+ designs maps the cached neighbours of its 16-page block, so today's
minor-fault counts are a sixteenth of 2.6.x's on a sequentially read cache."""
from __future__ import annotations

import pytest

import faultlab
from faultlab.fault import FAULT_AROUND_PAGES
from faultlab.mm import FILE_BASE
from faultlab.policies import get_policy
from faultlab.scenario import Scenario, Script
from faultlab.workloads import threaded_app


def test_fault_around_is_on_in_the_3_15_plus_policies_only():
    on = {p for p in ("sync", "nopage_retry", "vm_fault_retry", "multi_retry", "per_vma_lock")
          if get_policy(p).fault_around(None)}
    assert on == {"multi_retry", "per_vma_lock"}
    assert FAULT_AROUND_PAGES == 16          # fault_around_bytes 64 KiB / 4 KiB pages


def _touch(policy, pages, cached=64):
    s = Scenario(policy=policy, ra_pages=0, file_pages=1024, cached_pages=cached, until_ms=10.0,
                 threads=(Script("t", steps=tuple(("touch", p) for p in pages)),))
    return faultlab.run(s)


@pytest.mark.parametrize("policy", ["multi_retry", "per_vma_lock"])
def test_one_fault_maps_its_aligned_block(policy):
    r = _touch(policy, range(5, 21))           # pages 5..20: blocks 0..15 and 16..31
    assert len(r.faults) == 2                  # one fault per 16-page block
    mapped = [e for e in r.events if e[2] == "fault_around"]
    assert mapped and dict(mapped[0][3])["first"] == 0 and dict(mapped[0][3])["n"] == 16


def test_without_fault_around_every_page_faults():
    r = _touch("vm_fault_retry", range(5, 21))
    assert len(r.faults) == 16


def test_uncached_neighbours_are_not_mapped():
    r = _touch("per_vma_lock", [3], cached=8)     # pages 0..7 cached, 8..15 not
    ev = [dict(e[3]) for e in r.events if e[2] == "fault_around"]
    assert ev == [{"first": 0, "n": 8}]
    assert len(r.faults) == 1 and r.faults[0].outcome.value == "MINOR"


def test_threaded_app_minor_faults_drop_about_sixteenfold():
    old = faultlab.run(threaded_app(policy="vm_fault_retry", until_ms=100.0))
    new = faultlab.run(threaded_app(policy="per_vma_lock", until_ms=100.0))
    minor = lambda r: sum(1 for f in r.faults if f.outcome.value == "MINOR")   # noqa: E731
    assert minor(old) > 8 * minor(new)
    assert FILE_BASE % FAULT_AROUND_PAGES == 0
