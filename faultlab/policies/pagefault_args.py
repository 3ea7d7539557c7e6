"""pagefault_args: retry-once with the fault's state in one struct.

Morton, 15 Sep 2006 (<20060915001151.75f9a71b.akpm@osdl.org>): make
do_page_fault build a ``struct pagefault_args`` and pass it down the
whole path instead of a flag in current->flags and long argument lists;
->nopage can note in it that the page came back locked (the
lock-the-page-in-filemap_nopage proposal) and that the fault already
retried once. Waychison's patch proposed ``struct pagefault_args
{ u32 reason; }`` (<45107ECE.5040603@google.com>). It reached Linux as
``struct vm_fault`` (2.6.23, d0217ac04ca6; whole path in v4.10).

Behaviour is nopage_retry's, event for event, with two differences. When
get_user_pages faults for a caller that holds mmap_sem it builds its own
args without ALLOW_RETRY, so nothing can drop the caller's lock, whereas a
task flag is seen by every path the task runs while it is set. And the
struct carries the "page locked" boolean Morton named: filemap_nopage
returns the page locked and says so in ``args.page_locked``; do_no_page
reads it and unlocks after the pte is set (fault.page_came_locked). That is
the lock-the-page design (lock_page_nopage, d00806b18315) guarding against
truncate instead of 2.6.18's truncate_count recheck: identical events until
a truncate races a fault (truncate_race).
"""
from dataclasses import dataclass

from . import register
from .nopage_retry import NopageRetry

ALLOW_RETRY = 0x1    # this fault may drop mmap_sem and retry
TRIED = 0x2          # this fault has retried once already


@dataclass(slots=True)
class PagefaultArgs:
    """What the fault carries down the path instead of a task flag and long
    argument lists. ``page_locked`` is the lock-the-page-in-nopage boolean:
    ->nopage sets it when it returns the page locked, do_no_page reads it to
    unlock after the pte is set (2.6.23 made it VM_FAULT_LOCKED)."""

    flags: int = 0
    page_locked: bool = False
    reason: str = ""              # why it retried (the patch's PAGEFAULT_RETRY_IO)


@register
class PagefaultArgsPolicy(NopageRetry):
    """nopage_retry's page_not_uptodate, unchanged; only where the state lives differs."""

    name = "pagefault_args"
    kernel = "2.6.18 + Morton's struct pagefault_args (proposal)"
    source = "<20060915001151.75f9a71b.akpm@osdl.org>; later struct vm_fault (d0217ac04ca6)"
    summary = "nopage_retry with per-fault flags in a struct passed down the path"
    notebook = "04_pagefault_args"
    year = 2006

    def truncate_guard(self, f):
        return "page_lock"                         # the struct's page_locked boolean, in use

    def fault_begin(self, k, f):
        f.args = PagefaultArgs(flags=ALLOW_RETRY)    # do_page_fault fills in the struct

    def gup_begin(self, k, f):
        f.args = PagefaultArgs(flags=0)              # the caller holds mmap_sem: never drop it

    def fault_end(self, k, f):
        pass                                         # nothing to clear: the struct dies with the call

    def before_retry(self, k, f):
        f.args.flags = (f.args.flags & ~ALLOW_RETRY) | TRIED
        f.args.reason = "PAGEFAULT_RETRY_IO"

    def may_retry(self, f) -> bool:
        return bool(f.args.flags & ALLOW_RETRY)
