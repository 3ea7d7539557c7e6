"""The page cache of one file: pages, their flags, their lock and references.

Mirrors mm/filemap.c and include/linux/pagemap.h of Linux 2.6.18:

* a page enters the cache *locked*, with one reference held by the cache
  (add_to_page_cache -> SetPageLocked); the read that fills it unlocks it
  when the I/O completes, after setting it uptodate (mpage_end_io_read);
* ``find_get_page`` returns the page with an extra reference, or None;
* ``lock_page`` sleeps until the page lock is free, then holds it
  (__lock_page, TASK_UNINTERRUPTIBLE);
* ``wait_on_page_locked`` sleeps until the page is unlocked, without
  taking the lock;
* ``page_cache_release`` drops a reference.

Simplification: when a page is unlocked, a task sleeping in ``lock_page``
is handed the lock at once (first come, first served), and tasks in
``wait_on_page_locked`` return. In the kernel all are woken and race to
test the bit; the model picks the FIFO winner.
"""
from __future__ import annotations

from .errors import ModelBug


_NO_WAITERS = ()     # shared by every page nobody sleeps on (most of them): a list is made when needed


class Page:
    __slots__ = ("index", "uptodate", "locked", "count", "mapcount", "in_cache", "cache",
                 "_lock_waiters", "_unlock_waiters", "fault_retry")

    def __init__(self, index: int, cache=None):
        self.index = index
        self.cache = cache
        self.uptodate = False
        self.locked = False
        self.count = 0          # page_count(): references
        self.mapcount = 0       # ptes mapping it (page_mapped() when > 0)
        self.in_cache = False
        self._lock_waiters = _NO_WAITERS     # events of tasks sleeping in lock_page
        self._unlock_waiters = _NO_WAITERS   # events of tasks sleeping in wait_on_page_locked
        self.fault_retry = False    # page_flag_retry's bit: a fault already retried for this page

    def __repr__(self):
        flags = "".join(c for c, on in (("U", self.uptodate), ("L", self.locked), ("M", self.mapcount)) if on)
        return f"<Page {self.index} {flags or '-'} count={self.count}>"


class PageCache:
    """One address_space: the cached pages of the shared file.

    ``poke`` is how an evictor that sleeps through idle ticks learns that a
    page may have become droppable (a reference, the lock or a mapping went).
    ``i_size`` is the file's size in pages (the inode's, kept here: one file)
    and ``truncate_count`` mapping->truncate_count, bumped by
    unmap_mapping_range (faultlab/truncate.py)."""

    def __init__(self, env, i_size=0):
        self.env = env
        self.i_size = i_size
        self.truncate_count = 0
        self.pages: dict[int, Page] = {}
        self.watchers = []          # events of evictors sleeping until a page may be droppable
        self.preloaded = 0          # pages [0, preloaded) were read before the run began
        self.dropped = set()        # ... except these, dropped since

    def poke(self, page) -> None:
        if self.watchers and page.in_cache:
            watchers, self.watchers = self.watchers, []
            for ev in watchers:
                ev.succeed()

    def wait_for_change(self):
        ev = self.env.event()
        self.watchers.append(ev)
        return ev

    def preload(self, n: int) -> None:
        """Pages [0, n) start cached and uptodate (read earlier by someone).
        They are made when first looked at, so a large cache costs nothing."""
        self.preloaded = n

    def lookup(self, index: int):
        """The cached page at ``index`` or None, taking no reference."""
        page = self.pages.get(index)
        if page is None and index < self.preloaded and index not in self.dropped:
            page = Page(index, self)
            page.uptodate = page.in_cache = True
            page.count = 1
            self.pages[index] = page
        return page

    def find_get_page(self, index: int):
        """Look the page up; on a hit take a reference (mm/filemap.c)."""
        page = self.lookup(index)
        if page is not None:
            page.count += 1
        return page

    def add_to_page_cache(self, index: int) -> Page:
        """Insert a new page, locked, holding the cache's reference; the caller
        then starts its read (add_to_page_cache_lru + ->readpage)."""
        if self.lookup(index) is not None:
            raise ModelBug(f"page {index} is already in the cache")
        page = Page(index, self)
        page.locked = page.in_cache = True
        page.count = 1
        self.pages[index] = page
        return page

    def remove(self, page: Page) -> None:
        """__remove_from_page_cache + dropping the cache's reference."""
        del self.pages[page.index]
        if page.index < self.preloaded:
            self.dropped.add(page.index)
        page.in_cache = False
        page.uptodate = False
        page.count -= 1


def page_cache_release(page: Page) -> None:
    if page.count <= 0:
        raise ModelBug(f"{page!r}: reference dropped below zero")
    page.count -= 1
    if page.cache is not None:
        page.cache.poke(page)


def trylock_page(page: Page) -> bool:
    """TestSetPageLocked(), negated: True if we now hold the lock."""
    if page.locked:
        return False
    page.locked = True
    return True


def _queue(env, page: Page, queue: str):
    """A new event for a task about to sleep, appended to ``page``'s ``queue``
    (``_lock_waiters``: woken one at a time, handed the lock; ``_unlock_waiters``:
    all woken at unlock_page)."""
    ev = env.event()
    if getattr(page, queue) is _NO_WAITERS:
        setattr(page, queue, [])
    getattr(page, queue).append(ev)
    return ev


def _sleep_killable(env, page: Page, queue: str, kill):
    """Sleep on ``queue`` until woken (True) or killed first (None, off the queue)."""
    ev = _queue(env, page, queue)
    yield env.any_of((ev, kill))
    if ev.triggered:                 # woken (even if killed in the same instant)
        return True
    getattr(page, queue).remove(ev)
    return None


def lock_page(env, page: Page):
    """Sleep until we hold the page lock. Yields only if it had to wait;
    returns True if it slept (the caller then pays a wake-up)."""
    if trylock_page(page):
        return False
    yield _queue(env, page, "_lock_waiters")
    return True


def wait_on_page_locked(env, page: Page):
    """Sleep until the page is unlocked; returns True if it slept."""
    if not page.locked:
        return False
    yield _queue(env, page, "_unlock_waiters")
    return True


def lock_page_killable(env, page: Page, kill):
    """__lock_page_killable (2.6.26+): lock_page, but SIGKILL (``kill``, an
    event) ends the wait. Returns None if killed without the lock (a task woken
    and killed in the same instant was handed the lock: True), else what
    lock_page returns."""
    if trylock_page(page):
        return False
    return (yield from _sleep_killable(env, page, "_lock_waiters", kill))


def wait_on_page_locked_killable(env, page: Page, kill):
    """wait_on_page_locked_killable (37b23e0525d3): returns None if killed."""
    if not page.locked:
        return False
    return (yield from _sleep_killable(env, page, "_unlock_waiters", kill))


def unlock_page(page: Page) -> None:
    if not page.locked:
        raise ModelBug(f"{page!r}: unlock of an unlocked page")
    waiters, page._unlock_waiters = page._unlock_waiters, _NO_WAITERS
    for ev in waiters:
        ev.succeed()
    if page._lock_waiters:
        page._lock_waiters.pop(0).succeed()   # handed over: stays locked
    else:
        page.locked = False
        if page.cache is not None:
            page.cache.poke(page)


def droppable(page: Page) -> bool:
    return not page.locked and not page.mapcount and page.count == 1


def invalidate_page(cache: PageCache, page: Page) -> bool:
    """The per-page test of invalidate_mapping_pages (mm/truncate.c, 2.6.18):
    skip a page that is locked, mapped, or referenced by anyone but the cache
    (invalidate_complete_page wants page_count == 2: the cache's reference
    and the caller's own lookup reference, which the model does not count).
    A page parked in a CPU's LRU-add pagevec holds one more reference, so it
    is skipped until that CPU drains it (pagevec.py)."""
    if not droppable(page):
        return False
    cache.remove(page)
    return True
