"""lock_page_nopage: lock the page in filemap_nopage (Nick Piggin's design, 2.6.23).

The "lock-the-page-in-filemap_nopage() proposal" of Morton's mail
(<20060915001151.75f9a71b.akpm@osdl.org>), as Nick Piggin wrote it: "mm:
fix fault vs invalidate race for linear mappings"
(<20070113011556.9479.64086.sendpatchset@linux.site>), committed as
d00806b18315 (19 Jul 2007, 2.6.23), which became ->fault returning
VM_FAULT_LOCKED. filemap_nopage finds the page with find_lock_page, so it
sleeps for the page lock -- for the read in flight, or for a truncate
removing the page; under the lock it checks that the page is still in the
file and rechecks i_size ("Must recheck i_size under page lock"), and
returns it locked; do_no_page unlocks it only after the pte is set.
Truncate takes each page's lock and unmaps a page it finds mapped before
removing it (faultlab/truncate.py). No truncate_count recheck, no retry:
the page lock closes the race.

Lock order: mmap_sem, then the page lock. That is why a retry design
cannot hold the page lock across its wait: it must drop mmap_sem, and
retaking mmap_sem while holding a page lock inverts the order (a writer
queued on mmap_sem can be waiting behind a reader that waits for the page
lock). So the retry designs wait with wait_on_page_locked, holding only a
reference, and lock the page afresh on the pass that maps it.

Otherwise 2.6.18: synchronous under mmap_sem (Piggin's patch changed the
locking against truncate, not the wait for I/O).
"""
from ..fault import RETRY_ALL, sleep_on_page
from ..pagecache import page_cache_release, unlock_page
from . import register
from .base import Policy


@register
class LockPageNopage(Policy):
    name = "lock_page_nopage"
    kernel = "2.6.23 (d00806b18315): ->nopage returns the page locked"
    source = "<20070113011556.9479.64086.sendpatchset@linux.site>; d00806b18315"
    summary = "sync, but the page is returned locked and unlocked after the pte is set"
    notebook = "04_pagefault_args"
    year = 2007
    era = "2.6.18"                      # 2.6.23 still had 2.6.18's rwsem rules (stealing came in 3.x)

    def truncate_guard(self, f):
        return "page_lock"

    def page_not_uptodate(self, k, f, page):
        # find_lock_page: lock_page sleeps for the read; keep the lock
        yield from sleep_on_page(k, f, page, take_lock=True)
        if not page.in_cache:                      # truncated while we slept: find it again
            unlock_page(page)
            page_cache_release(page)
            return RETRY_ALL
        f.page_locked = True                       # lock_nopage_page checks i_size under it
        return page
