"""multi_retry: Linux 5.7 (with 5.1's early drop) -- retry as often as needed.

Peter Xu, "mm: allow VM_FAULT_RETRY for multiple times" (v5.7,
4064b9827063): the arch code no longer clears ALLOW_RETRY; it sets
FAULT_FLAG_TRIED and retries for as long as the fault says RETRY. What
keeps it from livelocking is that only the *first* attempt
(fault_flag_allow_retry_first) lets go of mmap_sem: later attempts keep
it, so in Morton's FADV_DONTNEED case the second pass reads synchronously
under the lock -- Google's 2006 fallback again.

Josef Bacik, v5.1 (6b4c9f446981): filemap_fault also drops mmap_sem
*before* submitting read-around (do_sync_mmap_readahead with
maybe_unlock_mmap_for_io), not just while waiting for the page
(lock_page_maybe_drop_mmap), and before ->readpage of a single page.
Having dropped it, the fault always ends in RETRY, whatever it finds.

A read fault first maps the cached, unlocked neighbours of its 16-page
block (do_fault_around, 3.15+; fault.do_fault_around).

Fatal signals: the page waits are killable (__lock_page_killable) and the
arch code checks fault_signal_pending on RETRY, so SIGKILL ends the fault
at the next page wait (signals.py).

Simplifications: read-around follows 2.6.18's heuristics (mmap_miss
against mmap_hit, no asynchronous PG_readahead hits); the drop happens
only for a page whose read is in flight (the kernel drops for any locked
page); munmap holds mmap_sem for write throughout (since about 4.20 it
downgrades to read for the zap).
"""
from ..fault import KILLED, NOPAGE_RETRY, drop_mmap_sem, lock_page_and_check, sleep_on_page
from ..pagecache import page_cache_release, unlock_page
from . import register
from .base import Policy
from .pagefault_args import PagefaultArgs
from .vm_fault_retry import FAULT_FLAG_ALLOW_RETRY, FAULT_FLAG_TRIED


def allow_retry_first(f) -> bool:
    """fault_flag_allow_retry_first(): retry allowed and not tried yet."""
    return f.args is not None and f.args.flags & FAULT_FLAG_ALLOW_RETRY \
        and not f.args.flags & FAULT_FLAG_TRIED


@register
class MultiRetry(Policy):
    name = "multi_retry"
    kernel = "5.7 (and 5.1)"
    source = "4064b9827063; 6b4c9f446981 (mm/filemap.c maybe_unlock_mmap_for_io)"
    summary = "retry without limit, but only the first attempt drops mmap_sem"
    era = "modern"
    notebook = "06_what_linux_did"
    year = 2020

    def fatal_signal_on_retry(self, f) -> bool:
        return True                                # fault_signal_pending (5.7)

    def truncate_guard(self, f):
        return "page_lock"                         # as vm_fault_retry (2.6.23+)

    def fault_begin(self, k, f):
        f.args = PagefaultArgs(flags=FAULT_FLAG_ALLOW_RETRY)

    def locked_page_is_major(self, f) -> bool:
        return False                               # since 2.6.37: only a page not in the cache

    def fault_around(self, f) -> bool:
        return True                                # do_fault_around, 3.15+ (a kernel this recent has it)

    def counts_readahead_hit(self, f) -> bool:
        """A rerun's hit does not count (3.7+, FAULT_FLAG_TRIED). The model keys
        it on the pass number, which is the same except after a per-VMA attempt
        that was not major (per_vma_lock)."""
        return f.rec.attempts <= 1

    def gup_begin(self, k, f):
        f.args = PagefaultArgs(flags=0)

    def before_retry(self, k, f):
        f.args.flags |= FAULT_FLAG_TRIED

    def cache_miss(self, k, f, pgoff, readaround):
        if allow_retry_first(f) and f.locked:
            drop_mmap_sem(k, f)                    # maybe_unlock_mmap_for_io (5.1)
        yield from super().cache_miss(k, f, pgoff, readaround)

    def page_not_uptodate(self, k, f, page):
        if not allow_retry_first(f):               # TRIED: keep the lock (killable wait)
            return (yield from lock_page_and_check(k, f, page, killable=not f.gup))
        if f.locked:
            drop_mmap_sem(k, f)                    # lock_page_maybe_drop_mmap
        if (yield from sleep_on_page(k, f, page, take_lock=True, killable=True)) is not KILLED:
            unlock_page(page)                      # __lock_page_killable; out_retry: fpin is set
        page_cache_release(page)
        return NOPAGE_RETRY
