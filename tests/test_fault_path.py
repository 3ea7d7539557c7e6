"""The 2.6.18 fault path end to end (faultlab/fault.py via faultlab.run).

do_page_fault (arch/i386/mm/fault.c) holds mmap_sem for read across
handle_mm_fault; filemap_nopage (mm/filemap.c:1357) submits read-around
and sleeps in lock_page until the read completes. Under the 2.6.18 rwsem
a writer queued behind that sleep blocks every later fault: the convoy.
Each test builds a small scenario and checks the recorded trace.
"""
from __future__ import annotations

import dataclasses

import pytest

import faultlab
from faultlab import Costs, Disk, Reader, Scenario, Script, workloads
from faultlab.fault import MMAP_LOTSAMISS
from faultlab.mm import FILE_BASE

COSTS = Costs()


def convoy(policy="sync", rwsem="2.6.18", wakeup_us=COSTS.wakeup_us):
    """A faults uncached page 5000 (a 10 ms read); B calls mmap at 1 ms, while
    A waits for the disk; C touches cached page 7 at 2 ms, after B queued."""
    return Scenario(
        policy=policy, rwsem=rwsem, cached_pages=100, disk=Disk(latency_ms=10.0), until_ms=50,
        costs=dataclasses.replace(COSTS, wakeup_us=wakeup_us),
        threads=(Script("A", steps=(("touch", 5000),)),
                 Script("B", steps=(("think", 1000.0), ("mmap",))),
                 Script("C", steps=(("think", 2000.0), ("touch", 7)))))


@pytest.mark.parametrize("rwsem", ["2.6.18", "modern"])
def test_a_fault_on_a_cached_page_waits_for_the_disk_and_the_writer(trace, rwsem):
    """The convoy. A holds mmap_sem for read while it sleeps on its read; B's
    down_write queues behind A; C's down_read queues behind B (2.6.18: a queued
    writer blocks new readers; modern: a reader does not steal a reader-owned
    lock). C's fault needs no I/O, yet it waits for the rest of A's read."""
    r = faultlab.run(convoy(rwsem=rwsem))
    a_released = trace.when(r, "A", "released", write=False)
    assert trace.when(r, "A", "io_wait_start", page=5000, mmap_sem=True) < 1000.0
    b_asked = trace.when(r, "B", "start_locking", write=True)
    b_got = trace.when(r, "B", "acquire_returned", write=True)
    b_released = trace.when(r, "B", "released", write=True)
    c_asked = trace.when(r, "C", "start_locking", write=False)
    c_got = trace.when(r, "C", "acquire_returned", write=False)
    assert b_asked < c_asked < a_released < b_got < b_released < c_got
    assert trace.select(r, "C", "io_submit") == [] and trace.select(r, "C", "io_wait_start") == []
    assert trace.select(r, "C", "fault_end", outcome="MINOR")

    remaining_disk = trace.when(r, "A", "io_complete") - c_asked
    wait = c_got - c_asked
    assert wait > remaining_disk + COSTS.mmap_us           # the rest of the read, then the writer's mmap
    assert wait == pytest.approx(remaining_disk, abs=100.0)  # ... and only small change besides
    assert remaining_disk > 7900.0


def test_without_the_sleep_under_mmap_sem_there_is_no_convoy(trace):
    """Counterpoint: when A lets mmap_sem go before sleeping (nopage_retry),
    B and C get the lock at once, during A's read."""
    r = faultlab.run(convoy(policy="nopage_retry"))
    assert trace.when(r, "A", "io_wait_start", page=5000, mmap_sem=False) < 1000.0
    for task, write in (("B", True), ("C", False)):
        waited = trace.when(r, task, "acquire_returned", write=write) - trace.when(r, task, "start_locking", write=write)
        assert waited == 0.0
    assert trace.when(r, "C", "fault_end") < trace.when(r, "A", "io_complete")


def test_a_woken_task_runs_wakeup_us_after_its_wake(trace):
    """Every sleeper -- on the page lock or on mmap_sem -- runs again wakeup_us
    after the event that woke it (the read's completion, the holder's release)."""
    r = faultlab.run(convoy(wakeup_us=7.0))
    assert trace.when(r, "A", "io_wait_end") - trace.when(r, "A", "io_complete") == pytest.approx(7.0)
    assert trace.when(r, "B", "acquire_returned") - trace.when(r, "A", "released") == pytest.approx(7.0)
    assert trace.when(r, "C", "acquire_returned") - trace.when(r, "B", "released") == pytest.approx(7.0)


def test_two_thread_sync_the_mapper_is_locked_to_the_disk_rate():
    """Lespinasse 2010: a random reader at ~55 reads/s (18 ms each), and an
    mmap/munmap loop held to the same order of rate by the convoy."""
    s = faultlab.run(workloads.two_thread(policy="sync", disk_ms=18, until_ms=2000)).summary()
    reader = s["threads"]["reader"]["ops_per_s"]
    mapper = s["threads"]["mapper"]["ops_per_s"]
    assert reader == pytest.approx(1000 / 18, rel=0.05)
    assert 0.4 * reader <= mapper <= 1.3 * reader
    assert s["mmap_sem"]["held_across_io_ms"] > 0.9 * 2000   # mmap_sem held across nearly every read


def test_two_thread_sync_under_the_modern_rwsem_gives_one_mapper_syscall_per_two_faults():
    """Under 6.x rules the woken mapper is not granted the lock: the reader's next
    fault, a few microseconds after its up_read, steals it (rule 2); the mapper
    runs, fails, and -- having waited past RWSEM_WAIT_TIMEOUT -- sets HANDOFF
    (rule 7), so the fault after that queues and the mapper gets one syscall.
    One syscall per two reads: half the 2.6.18 rate, where up_read grants the
    writer the lock before anyone can steal it."""
    rate = {}
    for rules in ("2.6.18", "modern"):
        s = faultlab.run(workloads.two_thread(policy="sync", rwsem=rules, until_ms=2000)).summary()
        rate[rules] = (s["threads"]["reader"]["ops_per_s"], s["threads"]["mapper"]["ops_per_s"])
    (reader_old, mapper_old), (reader_new, mapper_new) = rate["2.6.18"], rate["modern"]
    assert reader_old == pytest.approx(reader_new, rel=0.01)
    assert 2 * mapper_old == pytest.approx(reader_old, rel=0.05)     # a loop is two syscalls
    assert 4 * mapper_new == pytest.approx(reader_new, rel=0.05)


def test_fadvise_dos_under_sync_finishes_in_one_attempt(trace):
    """Morton's livelock cannot happen in 2.6.18: the fault sleeps in lock_page
    under mmap_sem, the read completes and hands it the page lock, and it maps
    the page before the evictor can drop it (a locked, then referenced, then
    mapped page is never invalidated)."""
    r = faultlab.run(workloads.fadvise_dos(policy="sync"))
    s = r.summary()
    assert s["faults"]["completed"] == 1 and s["faults"]["max_attempts"] == 1
    names = trace.names(r)
    assert "map" in names
    assert "evict" not in names[:names.index("map")]
    start, end = trace.when(r, "victim", "io_wait_start", mmap_sem=True), trace.when(r, "victim", "io_wait_end")
    assert start < trace.when(r, "victim", "io_complete") < end


# -- read-around (filemap_nopage, mm/readahead.c) ------------------------------------------


def read_around(ra_pages, later, file_pages=1 << 16, page=5000):
    """T faults ``page``; U touches each page in ``later`` after T's read is done."""
    return Scenario(policy="sync", ra_pages=ra_pages, file_pages=file_pages, disk=Disk(latency_ms=1.0),
                    until_ms=20,
                    threads=(Script("T", steps=(("touch", page),)),
                             Script("U", steps=(("think", 5000.0),) + tuple(("touch", p) for p in later))))


def test_read_around_reads_a_32_page_window_in_one_request(trace):
    """A miss reads ra_pages (128 KiB = 32 pages) around the fault, from
    pgoff - ra_pages/2, as one request; the neighbours are then cached, so
    touching them later is a minor fault with no I/O."""
    r = faultlab.run(read_around(32, later=[4984, 4990, 5015]))
    assert [dict(e[3]) for e in trace.select(r, event="io_submit")] == [{"first": 4984, "n": 32}]
    assert r.disk_requests == 1
    assert [dict(e[3])["outcome"] for e in trace.select(r, "U", "fault_end")] == ["MINOR"] * 3
    # a miss next to the window reads only the part of its own window not yet cached
    s = faultlab.run(read_around(32, later=[5016]))
    assert [dict(e[3]) for e in trace.select(s, "U", "io_submit")] == [{"first": 5016, "n": 16}]


def test_without_read_around_a_miss_reads_one_page(trace):
    """ra_pages=0: page_cache_read of the one page; its neighbour is another read."""
    r = faultlab.run(read_around(0, later=[5001]))
    assert [dict(e[3]) for e in trace.select(r, event="io_submit")] == [{"first": 5000, "n": 1},
                                                                        {"first": 5001, "n": 1}]
    assert [dict(e[3])["outcome"] for e in trace.select(r, event="fault_end")] == ["MAJOR", "MAJOR"]


def test_read_around_window_is_clipped_at_both_ends_of_the_file(trace):
    """start = 0 when pgoff <= ra_pages/2; the window stops at the end of the file."""
    r = faultlab.run(read_around(32, later=[], page=3))
    assert [dict(e[3]) for e in trace.select(r, event="io_submit")] == [{"first": 0, "n": 32}]
    r = faultlab.run(read_around(32, later=[], file_pages=1000, page=999))
    assert [dict(e[3]) for e in trace.select(r, event="io_submit")] == [{"first": 983, "n": 17}]


def test_a_sibling_fault_during_the_read_waits_on_the_same_request(trace):
    """A second thread faulting a page of the window while it is being read finds
    it in the cache, locked: it sleeps in lock_page (a major fault) and no second
    request is made. The same page faulted twice is mapped once ('one of our
    sibling threads was faster, back out')."""
    s = Scenario(policy="sync", file_pages=1 << 16, disk=Disk(latency_ms=1.0), until_ms=20,
                 threads=(Script("T", steps=(("touch", 5000),)),
                          Script("U", steps=(("think", 100.0), ("touch", 4999))),
                          Script("V", steps=(("think", 200.0), ("touch", 5000)))))
    r = faultlab.run(s)
    assert r.disk_requests == 1
    assert sorted(dict(e[3])["page"] for e in trace.select(r, event="map")) == [4999, 5000]
    assert {dict(e[3])["outcome"] for e in trace.select(r, event="fault_end")} == {"MAJOR"}
    for task in "UV":
        assert trace.when(r, task, "io_wait_start", mmap_sem=True) < trace.when(r, "T", "io_complete")


def cold_reader(policy, n=MMAP_LOTSAMISS + 3):
    return Scenario(policy=policy, disk=Disk(latency_ms=0.1), until_ms=1000, threads=(Reader(count=n),))


def test_read_around_stops_after_mmap_lotsamiss_more_misses_than_hits(trace):
    """filemap_nopage: 'Do we miss much more than hit in this file? If so, stop
    bothering with read-ahead': once mmap_miss > mmap_hit + MMAP_LOTSAMISS (100),
    a miss reads just its page. A random reader misses every time."""
    r = faultlab.run(cold_reader("sync"))
    sizes = [dict(e[3])["n"] for e in trace.select(r, event="io_submit")]
    assert sizes == [32] * MMAP_LOTSAMISS + [1] * 3


def test_retried_faults_count_a_hit_on_the_rerun_so_read_around_never_stops(trace):
    """Under Google's patch every major fault is rerun, and the rerun's lookup
    hits the page the first pass read: one miss and one hit per fault. The
    read-around heuristic never trips for a random reader."""
    r = faultlab.run(cold_reader("nopage_retry"))
    assert r.summary()["faults"]["max_attempts"] == 2
    sizes = [dict(e[3])["n"] for e in trace.select(r, event="io_submit")]
    assert sizes == [32] * (MMAP_LOTSAMISS + 3)


# -- the rest of do_page_fault's switch ---------------------------------------------------


def test_a_fault_outside_any_vma_is_sigsegv(trace):
    """find_vma finds nothing at the address: bad_area, SIGSEGV -- a result for
    the simulated process, not an error in the model."""
    s = Scenario(policy="sync", file_pages=1 << 16, until_ms=5,
                 threads=(Script("T", steps=(("munmap_file",), ("touch", 10))),))
    r = faultlab.run(s)
    assert trace.select(r, "T", "fault_end", outcome="SIGSEGV", attempts=1)
    assert r.disk_requests == 0


def test_a_driver_whose_user_buffer_was_unmapped_answers_sigbus(trace):
    """driver_nopage pins the user's buffer with get_user_pages. If the buffer was
    unmapped, get_user_pages finds no VMA (the nested fault is a SIGSEGV-kind
    failure) and the driver's ->nopage returns NOPAGE_SIGBUS."""
    s = Scenario(policy="sync", file_pages=1 << 16, until_ms=5,
                 threads=(Script("app", steps=(("munmap_file",), ("touch_pinned", 7))),))
    r = faultlab.run(s)
    assert [dict(e[3])["outcome"] for e in trace.select(r, "app", "fault_end")] == ["SIGSEGV", "SIGBUS"]


def test_sync_holds_mmap_sem_for_one_read_per_fault(run_keeping_kernel):
    """2.6.18: the only drop of mmap_sem is do_page_fault's up_read at the end;
    the time it was held across I/O is the disk latency of each read."""
    k, r = run_keeping_kernel(Scenario(policy="sync", disk=Disk(latency_ms=2.0), until_ms=100,
                                       threads=(Reader(count=5),)))
    s = r.summary()
    assert s["faults"]["completed"] == 5 and s["faults"]["retries"] == 0
    assert s["mmap_sem"]["held_across_io_ms"] == pytest.approx(5 * 2.0, abs=0.1)
    assert not k.mm.mmap_sem.holders
    assert len(k.mm.ptes) == 5 and all(FILE_BASE <= a < FILE_BASE + k.scenario.file_pages for a in k.mm.ptes)


# -- the disk's randomness ------------------------------------------------------------------


def io_latencies(r, trace):
    sub = trace.times(r, event="io_submit")
    done = trace.times(r, event="io_complete")
    return [b - a for a, b in zip(sub, done)]


def test_same_seed_same_run_different_seed_different_disk(trace):
    """Each random source has its own stream fixed by (seed, name): a run is a
    function of its scenario."""
    a = faultlab.run(workloads.threaded_app(policy="sync", seed=3, until_ms=50))
    b = faultlab.run(workloads.threaded_app(policy="sync", seed=3, until_ms=50))
    c = faultlab.run(workloads.threaded_app(policy="sync", seed=4, until_ms=50))
    assert a.events == b.events and a.summary() == b.summary()
    assert io_latencies(a, trace) != io_latencies(c, trace)


def test_policies_see_the_same_disk_latencies(trace):
    """Common random numbers: the disk's stream does not depend on the policy,
    so the first read takes as long under every design."""
    firsts = {p: io_latencies(faultlab.run(workloads.fadvise_dos(policy=p, until_ms=20)), trace)[0]
              for p in faultlab.POLICIES}
    assert len(set(firsts.values())) == 1
