"""seqcount: Morton's "better way" -- revalidate instead of rerunning.

Morton, 15 Sep 2006 (<20060915001151.75f9a71b.akpm@osdl.org>): put a
sequence counter in mm_struct, bump it wherever down_write(mmap_sem) is
done. The fault notes it, keeps its page reference, drops mmap_sem, waits
for the page and retakes mmap_sem for read. Counter unchanged: nobody
changed the mm, the VMA and page table it found are still good, carry on
with no find_vma and no new walk. Counter changed: drop mmap_sem again and
return NOPAGE_RETRY (a full rerun, synchronous the second time).

Stephen Tweedie had the same idea in 1999; Michel Lespinasse's 2022
speculative-fault series used a per-mm count bumped by every mmap write;
Linux 6.4's per-VMA locks use mm_lock_seq (see per_vma_lock).
"""
from ..fault import (NOPAGE_RETRY, drop_mmap_sem, lock_page_and_check, page_locked_checks,
                     retake_mmap_sem, sleep_on_page)
from ..pagecache import page_cache_release, trylock_page
from . import register
from .base import Policy


@register
class Seqcount(Policy):
    name = "seqcount"
    kernel = "2.6.18 + Morton's mm sequence counter (proposal)"
    source = "<20060915001151.75f9a71b.akpm@osdl.org>"
    summary = "drop mmap_sem, wait, retake it; carry on if mm->seq is unchanged, else rerun"
    notebook = "05_seqcount"
    year = 2006
    check = True

    def page_not_uptodate(self, k, f, page):
        if f.gup or f.rec.attempts > 1:
            return (yield from lock_page_and_check(k, f, page))
        if trylock_page(page):
            return page_locked_checks(k, f, page)
        seq = k.mm.seq
        drop_mmap_sem(k, f)
        yield from sleep_on_page(k, f, page, take_lock=False)   # our reference keeps the page
        yield from retake_mmap_sem(k, f)
        if self.check and k.mm.seq != seq:
            page_cache_release(page)
            drop_mmap_sem(k, f)                    # "drop mmap_sem again and return NOPAGE_RETRY"
            return NOPAGE_RETRY
        k.rec.emit(f.task.name, "revalidated", seq=seq)
        return (yield from lock_page_and_check(k, f, page))
