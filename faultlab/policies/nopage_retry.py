"""nopage_retry: the patch Google ran in 2006 (NOPAGE_RETRY, retry once).

Mike Waychison, mmap_sem_drop_for_faults-2.6.18-rc7.patch, posted
19 Sep 2006 (<45107ECE.5040603@google.com>), described by Andrew Morton
on 15 Sep 2006 (<20060915001151.75f9a71b.akpm@osdl.org>):

* a do_page_fault wrapper sets PF_FAULT_MAYRETRY in current->flags;
* at filemap_nopage's ``page_not_uptodate:``, with the flag set, if
  TestSetPageLocked fails (the read is in flight) it does up_read,
  wait_on_page_locked, down_read -- retaking mmap_sem *inside* nopage --
  then drops its page reference and returns NOPAGE_RETRY;
* do_no_page turns that into VM_FAULT_RETRY; the arch code clears the
  flag and jumps back to ``retry:`` (find_vma and a new page-table walk)
  with mmap_sem held. The second pass is the old synchronous one, so a
  fault retries at most once: the livelock guard.

The page reference is held across the wait and the re-down_read, so the
page cannot be dropped until the reference goes, just before the rerun.
"""
from ..fault import (NOPAGE_RETRY, drop_mmap_sem, lock_page_and_check, page_locked_checks,
                     retake_mmap_sem, sleep_on_page)
from ..pagecache import page_cache_release, trylock_page
from . import register
from .base import Policy

PF_FAULT_MAYRETRY = 0x04000000     # the patch's bit in current->flags


@register
class NopageRetry(Policy):
    name = "nopage_retry"
    kernel = "2.6.18 + Google's patch (2006)"
    source = "<45107ECE.5040603@google.com>; <20060915001151.75f9a71b.akpm@osdl.org>"
    summary = "drop mmap_sem, wait for the page, retake it, rerun the fault once"
    notebook = "02_nopage_retry"
    year = 2006
    once = True

    def fault_begin(self, k, f):
        f.task.flags |= PF_FAULT_MAYRETRY          # the do_page_fault wrapper

    def fault_end(self, k, f):
        f.task.flags &= ~PF_FAULT_MAYRETRY

    def before_retry(self, k, f):
        if self.once:
            f.task.flags &= ~PF_FAULT_MAYRETRY     # the second pass is synchronous

    def may_retry(self, f) -> bool:
        """May this fault drop mmap_sem? The patch asks current->flags."""
        return bool(f.task.flags & PF_FAULT_MAYRETRY)

    def page_not_uptodate(self, k, f, page):
        if not self.may_retry(f):
            return (yield from lock_page_and_check(k, f, page))
        if trylock_page(page):                     # nobody is reading it: carry on as before
            return page_locked_checks(k, f, page)
        drop_mmap_sem(k, f)                        # up_read
        yield from sleep_on_page(k, f, page, take_lock=False)   # wait_on_page_locked
        yield from retake_mmap_sem(k, f)           # down_read, queueing behind any writer
        page_cache_release(page)
        return NOPAGE_RETRY
