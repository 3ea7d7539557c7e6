"""The page cache of one file (faultlab/pagecache.py) and the disk that fills it
(faultlab/disk.py), against mm/filemap.c, mm/truncate.c and fs/mpage.c of
Linux 2.6.18.

Page flags and references are checked directly; sleeping is checked with
small SimPy processes that log ``(time_us, task, event)``.
"""
from __future__ import annotations

import pytest
import simpy

from faultlab.disk import Disk as BlockDevice
from faultlab.pagecache import (PageCache, droppable, invalidate_page, lock_page, page_cache_release,
                                trylock_page, unlock_page, wait_on_page_locked)
from faultlab.errors import ModelBug
from faultlab.scenario import Disk
from faultlab.sim import stream
from faultlab.record import Recorder


@pytest.fixture
def env():
    return simpy.Environment()


@pytest.fixture
def cache(env):
    return PageCache(env)


# -- entering the cache ---------------------------------------------------------------


def test_a_new_page_enters_locked_not_uptodate_with_the_cache_reference(cache):
    """add_to_page_cache: SetPageLocked, one reference for the cache; the read
    that fills it will unlock it."""
    page = cache.add_to_page_cache(7)
    assert (page.locked, page.uptodate, page.in_cache, page.count, page.mapcount) == (True, False, True, 1, 0)
    assert cache.lookup(7) is page


def test_adding_a_page_twice_is_a_model_bug(cache):
    """add_to_page_cache fails with -EEXIST in the kernel; the model's callers
    always look first, so a second insert is a bug."""
    cache.add_to_page_cache(7)
    with pytest.raises(ModelBug, match="already in the cache"):
        cache.add_to_page_cache(7)


def test_find_get_page_takes_a_reference_on_a_hit_only(cache):
    """find_get_page: page_cache_get on a hit; NULL on a miss."""
    assert cache.find_get_page(3) is None
    page = cache.add_to_page_cache(3)
    assert cache.find_get_page(3) is page
    assert page.count == 2
    page_cache_release(page)
    assert page.count == 1


def test_dropping_a_reference_below_zero_is_a_model_bug(cache):
    """put_page on a page with no references left is a model bug (a use-after-free in a kernel)."""
    page = cache.add_to_page_cache(3)
    page_cache_release(page)
    with pytest.raises(ModelBug, match="below zero"):
        page_cache_release(page)


# -- the page lock ----------------------------------------------------------------------


def test_trylock_page_fails_on_a_locked_page(cache):
    """TestSetPageLocked: a page fresh in the cache is locked for its read."""
    page = cache.add_to_page_cache(1)
    assert trylock_page(page) is False
    unlock_page(page)
    assert trylock_page(page) is True and page.locked


def test_unlocking_an_unlocked_page_is_a_model_bug(cache):
    """unlock_page of a page that is not locked is a model bug (BUG_ON in later kernels)."""
    page = cache.add_to_page_cache(1)
    unlock_page(page)
    with pytest.raises(ModelBug, match="unlock of an unlocked page"):
        unlock_page(page)


def test_lock_page_sleeps_until_unlock_and_then_holds_the_lock(env, cache):
    """__lock_page: sleep (TASK_UNINTERRUPTIBLE) until the lock is free, then own it."""
    page = cache.add_to_page_cache(1)            # locked, as for its read
    log = []

    def locker():
        yield env.timeout(1)
        slept = yield from lock_page(env, page)
        log.append((env.now, "locker", "locked", slept, page.locked))

    def io_end():
        yield env.timeout(5)
        log.append((env.now, "io", "unlock"))
        unlock_page(page)

    env.process(locker())
    env.process(io_end())
    env.run()
    assert log == [(5, "io", "unlock"), (5, "locker", "locked", True, True)]


def test_lock_page_on_a_free_page_does_not_sleep(env, cache):
    """lock_page: TestSetPageLocked succeeds at once when nobody holds the lock."""
    page = cache.add_to_page_cache(1)
    unlock_page(page)
    log = []

    def locker():
        slept = yield from lock_page(env, page)
        log.append((env.now, slept, page.locked))

    env.process(locker())
    env.run()
    assert log == [(0, False, True)]


def test_unlock_hands_the_lock_to_the_first_lock_page_waiter(env, cache):
    """unlock_page with two tasks in lock_page: the first to have slept gets the
    lock (the model's FIFO winner of the kernel's race); the page stays locked
    and the second waits for the first to unlock it."""
    page = cache.add_to_page_cache(1)
    log = []

    def locker(name, at, hold):
        yield env.timeout(at)
        yield from lock_page(env, page)
        log.append((env.now, name, "locked"))
        yield env.timeout(hold)
        log.append((env.now, name, "unlock"))
        unlock_page(page)

    def io_end():
        yield env.timeout(5)
        unlock_page(page)
        log.append((env.now, "io", "unlocked", page.locked))

    env.process(locker("a", 1, 3))
    env.process(locker("b", 2, 3))
    env.process(io_end())
    env.run()
    assert log == [(5, "io", "unlocked", True),
                   (5, "a", "locked"), (8, "a", "unlock"),
                   (8, "b", "locked"), (11, "b", "unlock")]
    assert not page.locked


def test_wait_on_page_locked_returns_at_unlock_without_taking_the_lock(env, cache):
    """wait_on_page_locked: sleep until PG_locked clears; the lock is not taken."""
    page = cache.add_to_page_cache(1)
    log = []

    def waiter():
        yield env.timeout(1)
        slept = yield from wait_on_page_locked(env, page)
        log.append((env.now, "waiter", slept, page.locked))
        slept = yield from wait_on_page_locked(env, page)
        log.append((env.now, "waiter again", slept))

    def io_end():
        yield env.timeout(5)
        unlock_page(page)

    env.process(waiter())
    env.process(io_end())
    env.run()
    assert log == [(5, "waiter", True, False), (5, "waiter again", False)]


# -- invalidate_mapping_pages (mm/truncate.c, 2.6.18) -----------------------------------


def uptodate_page(cache, index):
    page = cache.add_to_page_cache(index)
    page.uptodate = True
    unlock_page(page)
    return page


def test_invalidate_drops_an_unlocked_unmapped_unreferenced_page(cache):
    """invalidate_complete_page: remove from the cache, ClearPageUptodate, drop
    the cache's reference."""
    page = uptodate_page(cache, 4)
    assert droppable(page)
    assert invalidate_page(cache, page) is True
    assert (page.in_cache, page.uptodate, page.count) == (False, False, 0)
    assert cache.lookup(4) is None


def test_invalidate_skips_a_locked_page(cache):
    """TestSetPageLocked failed: 'continue' -- a page under read is never dropped."""
    page = cache.add_to_page_cache(4)
    assert invalidate_page(cache, page) is False
    assert cache.lookup(4) is page and page.in_cache


def test_invalidate_skips_a_mapped_page(cache):
    """page_mapped(page): 'goto unlock' -- a page some pte maps stays."""
    page = uptodate_page(cache, 4)
    page.count += 1
    page.mapcount += 1
    assert invalidate_page(cache, page) is False
    assert cache.lookup(4) is page


def test_invalidate_skips_a_page_someone_holds_a_reference_to(cache):
    """invalidate_complete_page: page_count != 2 (the cache's and the caller's)
    fails. A fault holding the page from find_get_page keeps it in the cache --
    the reference nopage_retry holds across its wait."""
    page = uptodate_page(cache, 4)
    assert cache.find_get_page(4) is page
    assert invalidate_page(cache, page) is False
    page_cache_release(page)
    assert invalidate_page(cache, page) is True


# -- pages cached before the run ----------------------------------------------------------


def test_preloaded_pages_are_made_on_first_lookup(cache):
    """PageCache.preload(n): pages [0, n) are cached and uptodate, with the
    cache's reference, but exist only once looked at (a 16 M-page cache is free)."""
    cache.preload(1 << 24)
    assert cache.pages == {}
    page = cache.lookup(123456)
    assert (page.index, page.uptodate, page.locked, page.in_cache, page.count) == (123456, True, False, True, 1)
    assert cache.lookup(123456) is page
    assert list(cache.pages) == [123456]
    assert cache.lookup(1 << 24) is None


def test_a_dropped_preloaded_page_stays_dropped_until_read_again(cache):
    """Once invalidated, a preloaded page is not made again by lookup; a new
    read can insert it, and dropping that one is remembered too."""
    cache.preload(10)
    page = cache.lookup(5)
    assert invalidate_page(cache, page)
    assert 5 in cache.dropped
    assert cache.lookup(5) is None and cache.find_get_page(5) is None
    again = uptodate_page(cache, 5)
    assert cache.lookup(5) is again and again is not page
    assert invalidate_page(cache, again)
    assert cache.lookup(5) is None


# -- the disk fills pages and unlocks them (fs/mpage.c mpage_end_io_read) ----------------


def block_device(env, **spec):
    rec = Recorder(env=env)
    return BlockDevice(env, rec, Disk(**spec), stream(0, "disk")), rec


def test_read_completion_sets_uptodate_before_waking_the_sleeper(env, cache):
    """mpage_end_io_read: SetPageUptodate, then unlock_page -- a task woken from
    lock_page always finds the page uptodate."""
    disk, rec = block_device(env, latency_ms=1.0)
    pages = [cache.add_to_page_cache(i) for i in range(3)]
    seen = []

    def reader():
        disk.submit("reader", pages)
        yield from lock_page(env, pages[1])
        seen.append((env.now, pages[1].uptodate, [p.locked for p in pages]))

    env.process(reader())
    env.run()
    assert seen == [(1000.0, True, [False, True, False])]
    assert [e[2] for e in rec.events] == ["io_submit", "io_complete"]
    assert dict(rec.events[0][3]) == {"first": 0, "n": 3}


@pytest.mark.parametrize("depth, ends", [(1, [1000.0, 2000.0, 3000.0]), (2, [1000.0, 1000.0, 2000.0]),
                                         (3, [1000.0, 1000.0, 1000.0])])
def test_queue_depth_limits_requests_in_flight(env, cache, depth, ends):
    """The device serves ``queue_depth`` requests at once; the others wait their turn."""
    disk, rec = block_device(env, latency_ms=1.0, queue_depth=depth)
    for i in range(3):
        disk.submit("t", [cache.add_to_page_cache(i)])
    env.run()
    assert [e[0] for e in rec.events if e[2] == "io_complete"] == ends
    assert disk.requests == 3


def latencies(distribution, seed, n=4000, latency_ms=2.0, sigma=0.5):
    env = simpy.Environment()
    disk = BlockDevice(env, Recorder(env=env),
                       Disk(latency_ms=latency_ms, distribution=distribution, sigma=sigma), stream(seed, "disk"))
    return [disk.latency_us() for _ in range(n)]


def test_disk_latencies_are_a_function_of_the_seed():
    """Each random source has its own stream, fixed by (seed, name)."""
    assert latencies("exponential", 7, n=50) == latencies("exponential", 7, n=50)
    assert latencies("exponential", 7, n=50) != latencies("exponential", 8, n=50)
    assert set(latencies("fixed", 7, n=50)) == {2000.0}


def test_exponential_latency_has_the_given_mean():
    """distribution='exponential': mean latency_ms. 4000 draws: the sample mean
    is within 10% (about 6 standard errors)."""
    v = latencies("exponential", 1)
    assert min(v) > 0
    assert sum(v) / len(v) == pytest.approx(2000.0, rel=0.10)


def test_lognormal_latency_has_the_given_median():
    """distribution='lognormal': median latency_ms, mean latency_ms*exp(sigma^2/2)."""
    v = sorted(latencies("lognormal", 1, sigma=0.5))
    assert v[len(v) // 2] == pytest.approx(2000.0, rel=0.10)
    assert sum(v) / len(v) == pytest.approx(2000.0 * 1.1331484530668263, rel=0.10)
