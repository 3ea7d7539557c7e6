"""page_flag_retry: the retry-once marker on the page, not on the task.

Morton ends the mail of 15 Sep 2006 (<20060915001151.75f9a71b.akpm@osdl.org>)
with "otoh, maybe using another bit in page->flags is a good compromise":
instead of PF_FAULT_MAYRETRY in current->flags (nopage_retry) or a flag in
a per-fault struct (pagefault_args), mark the *page* that already cost a
fault its retry. The model's design: Waychison's patch (up_read,
wait_on_page_locked, down_read inside filemap_nopage, NOPAGE_RETRY, the
arch code reruns from find_vma) with the once-only test moved to the page:

* a fault that finds its page locked for I/O and the bit clear sets it
  (SetPageFaultRetry), drops mmap_sem, waits, retakes it and retries;
* a fault that finds the bit set waits synchronously, lock_page under
  mmap_sem, whoever set it: the rerun of the same fault, or a sibling.

Where the bit is cleared, and why there: in do_no_page, when a fault maps
the page (``fault.clear_fault_retry``) -- the page that cost a retry has
been delivered, so the marker's job is done. The alternatives, and what
each costs:
* at the end of the read (unlock_page): the rerun would never see the bit
  (a page is re-locked only if re-read, and a re-read page is a new one),
  so the bit would guard nothing; siblings would never be forced
  synchronous either;
* only when the page is freed (a new struct page starts with clear flags):
  a page whose marking fault never maps it (killed, SIGBUS, its VMA
  unmapped, a sibling mapped it first -- then that sibling clears it here)
  stays marked for life, and every later fault that finds it locked waits
  under mmap_sem;
* at map time (the model): one more atomic bit operation on page->flags in
  the map path of every marked page, and the window from the marking to the
  map is the window in which siblings meet the bit and wait under mmap_sem:
  the convoy comes back for shared pages (``page_flag`` events, op=found).

What it shows: the marker lives with the page, so eviction defeats it --
FADV_DONTNEED frees the page, the re-read allocates a fresh struct page
with the bit clear, and under eviction the design retries without limit
like retry_unlimited (Morton's livelock); the guard holds only against a
page that stays in the cache and is locked again.

Page-flag bits were scarce: 2.6.18's include/linux/page-flags.h numbers
PG_locked .. PG_buddy as bits 0-19 (PG_uncached at 31 on 64-bit), the top
of page->flags holds the zone, node and sparsemem section (FLAGS_RESERVED),
and out-of-tree patches took more (Xen's PG_foreign, as read in an
OpenVZ/Xen 2.6.18 tree). PG_fault_retry is the model's invention.

Recorded: ``page_flag`` (op = set | found | clear, page).
"""
from ..fault import (NOPAGE_RETRY, drop_mmap_sem, lock_page_and_check, page_locked_checks,
                     retake_mmap_sem, sleep_on_page)
from ..pagecache import page_cache_release, trylock_page
from . import register
from .base import Policy


@register
class PageFlagRetry(Policy):
    name = "page_flag_retry"
    kernel = "2.6.18 + NOPAGE_RETRY with a page->flags marker (Morton's 'otoh', proposal)"
    source = "<20060915001151.75f9a71b.akpm@osdl.org> (last line); <45107ECE.5040603@google.com>"
    summary = "nopage_retry, but 'already retried' is a bit on the page: once per page, not per fault"
    notebook = "03_livelock"
    year = 2006
    era = "2.6.18"                      # the rwsem rules of its time

    def page_not_uptodate(self, k, f, page):
        if f.gup:                                  # the caller holds mmap_sem: never drop it
            return (yield from lock_page_and_check(k, f, page))
        if trylock_page(page):                     # nobody is reading it: carry on as before
            return page_locked_checks(k, f, page)
        if page.fault_retry:                       # PageFaultRetry: this page had its retry
            k.rec.emit(f.task.name, "page_flag", op="found", page=page.index)
            return (yield from lock_page_and_check(k, f, page))
        page.fault_retry = True                    # SetPageFaultRetry
        k.rec.emit(f.task.name, "page_flag", op="set", page=page.index)
        drop_mmap_sem(k, f)                        # up_read
        yield from sleep_on_page(k, f, page, take_lock=False)   # wait_on_page_locked
        yield from retake_mmap_sem(k, f)           # down_read, queueing behind any writer
        page_cache_release(page)
        return NOPAGE_RETRY
