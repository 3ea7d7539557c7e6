"""sync: Linux 2.6.18 as released.

filemap_nopage (mm/filemap.c:1357, 2.6.18) finds the page it needs in
the cache with its read in flight and, at ``page_not_uptodate:``, calls
lock_page(). The read completes and unlocks the page, so lock_page is
where the task sleeps for the disk -- with mmap_sem held for read by
do_page_fault (arch/i386/mm/fault.c:404) the whole time. A writer
(mmap, munmap, mprotect) queues behind the disk; with the 2.6.18 rwsem
every later reader queues behind the writer. That is the convoy.
"""
from ..fault import lock_page_and_check
from . import register
from .base import Policy


@register
class Sync(Policy):
    name = "sync"
    kernel = "2.6.18"
    source = "mm/filemap.c:1357 filemap_nopage (page_not_uptodate: lock_page)"
    summary = "mmap_sem held for read across the disk wait"
    notebook = "01_baseline"
    year = 2006

    def page_not_uptodate(self, k, f, page):
        # lock_page sleeps until the read completes, mmap_sem still held
        return (yield from lock_page_and_check(k, f, page))
