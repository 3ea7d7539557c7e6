"""vm_fault_retry: Linux 2.6.37, "mm: retry page fault when blocking on disk transfer".

Michel Lespinasse, d065bd810b6d (26 Oct 2010). The arch code passes
FAULT_FLAG_ALLOW_RETRY in the fault's flags (struct vm_fault, the
pagefault_args of 2006). filemap_fault locks the page with
lock_page_or_retry(): if the page is locked and retry is allowed it does
up_read(mmap_sem) and wait_on_page_locked() and returns 0, and
filemap_fault drops its reference and returns VM_FAULT_RETRY -- *without*
retaking mmap_sem. The arch code (arch/x86/mm/fault.c) clears
ALLOW_RETRY "to avoid any risk of starvation", takes mmap_sem again at
``retry:`` and reruns: once only. Read-around is still submitted under
mmap_sem (that changed in 5.1, see multi_retry).

Since 2.6.37 filemap_fault reports VM_FAULT_MAJOR only when the page was
not in the cache; waiting for someone else's read is a minor fault.

Against truncate it follows 2.6.23+ (d00806b18315): the page comes back
locked (VM_FAULT_LOCKED) and is unlocked after the pte is set
(``truncate_guard``: "page_lock", see lock_page_nopage).

Simplifications: the model takes that page lock after the wait for the
read rather than in it. lock_page_or_retry drops mmap_sem for
any locked page; the model only meets pages locked for their read.
Michel Lespinasse's two-thread numbers (55 -> 15,000 loops/s) are in the
series' V2 cover letter, <1286265215-9025-1-git-send-email-walken@google.com>.
"""
from ..fault import (NOPAGE_RETRY, drop_mmap_sem, lock_page_and_check, page_locked_checks,
                     sleep_on_page)
from ..pagecache import page_cache_release, trylock_page
from . import register
from .base import Policy
from .pagefault_args import PagefaultArgs

FAULT_FLAG_ALLOW_RETRY = 0x08     # include/linux/mm.h, 2.6.37
FAULT_FLAG_TRIED = 0x40           # 3.7 (Shaohua Li): marks the later passes; not in 2.6.37 itself


@register
class VmFaultRetry(Policy):
    name = "vm_fault_retry"
    kernel = "2.6.37"
    source = "d065bd810b6d (mm/filemap.c lock_page_or_retry, arch/x86/mm/fault.c)"
    summary = "drop mmap_sem and wait in lock_page_or_retry; the arch code retakes it; once"
    notebook = "06_what_linux_did"
    year = 2010

    def truncate_guard(self, f):
        return "page_lock"                         # 2.6.23+: VM_FAULT_LOCKED

    def fault_begin(self, k, f):
        f.args = PagefaultArgs(flags=FAULT_FLAG_ALLOW_RETRY)

    def locked_page_is_major(self, f) -> bool:
        return False                              # waiting for someone else's read is minor

    def gup_begin(self, k, f):
        f.args = PagefaultArgs(flags=0)           # the get_user_pages callers modelled here pass no retry flag

    def before_retry(self, k, f):
        f.args.flags = (f.args.flags & ~FAULT_FLAG_ALLOW_RETRY) | FAULT_FLAG_TRIED

    def page_not_uptodate(self, k, f, page):
        if not f.args.flags & FAULT_FLAG_ALLOW_RETRY:
            return (yield from lock_page_and_check(k, f, page))
        if trylock_page(page):
            return page_locked_checks(k, f, page)
        drop_mmap_sem(k, f)                               # __lock_page_or_retry: up_read,
        yield from sleep_on_page(k, f, page, take_lock=False)   # wait_on_page_locked
        page_cache_release(page)                          # filemap_fault: put the page,
        return NOPAGE_RETRY                               # VM_FAULT_RETRY, mmap_sem not held
