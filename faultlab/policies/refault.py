"""refault: Herrenschmidt's return-to-user retry, applied to filemap_nopage.

Benjamin Herrenschmidt's NOPAGE_RETRY, the code quoted at the top of
Morton's mail of 15 Sep 2006 (<20060915001151.75f9a71b.akpm@osdl.org>):
->nopage answers a special value and do_no_page turns it into
VM_FAULT_MINOR, so the fault ends *without mapping anything*; the task
goes all the way back to user space, the CPU executes the access again and
takes a fresh fault. Morton renamed it NOPAGE_REFAULT because it returns
to user space (<20061005160634.5932ba78.akpm@osdl.org>); it went in as
7f7bbbe50b8a (6 Oct 2006, for spufs; the commit names InfiniBand and DRM
too). Hugh Dickins asked for exactly this in the filemap case as well:
drop mmap_sem while nopage waits for the I/O, then go right back out to
user space (<Pine.LNX.4.64.0609231421110.25804@blonde.wat.veritas.com>).

This policy is that application: at filemap_nopage's ``page_not_uptodate``,
if the page is locked for its read, up_read(mmap_sem),
wait_on_page_locked() holding the page reference, drop the reference and
return NOPAGE_REFAULT -- mmap_sem is *not* retaken (the arch code's up_read
is skipped: the fault no longer holds it). What follows is the ordinary
way out and in again: fault_exit_us (return to user), reexecute_us (the
access runs again), fault_entry_us and a fresh down_read that queues
behind any writer, find_vma, the walk, find_get_page. (The loop of
faults is the CPU's, in fault.do_page_fault.)

What it shows:
* every attempt is a fault of its own, ending REFAULT (the kernel counts it
  in min_flt and the perf page-fault events); ``FaultRecord.access`` links
  the attempts of one access;
* retries are unlimited, and the window in which FADV_DONTNEED can drop the
  page is the whole trip out and back in (Morton's "wake up, get scheduled,
  take mmap_sem" window, <20060920105317.7c3eb5f4.akpm@osdl.org>);
* a pending SIGKILL is delivered at each return to user space, so a
  looping task stays killable, unlike an in-kernel ``goto retry`` loop.

Simplifications: mark_page_accessed before returning (Dickins's note) has
no effect in the model (no LRU: FADV_DONTNEED ignores it there too);
a get_user_pages fault cannot return to user space (the kernel's
get_user_pages would loop on VM_FAULT_MINOR with mmap_sem held), so it
waits synchronously, as 2.6.18.
"""
from ..fault import NOPAGE_REFAULT, drop_mmap_sem, lock_page_and_check, page_locked_checks, sleep_on_page
from ..pagecache import page_cache_release, trylock_page
from . import register
from .base import Policy


@register
class Refault(Policy):
    name = "refault"
    kernel = "2.6.19 NOPAGE_REFAULT (7f7bbbe50b8a) applied to filemap_nopage (proposal)"
    source = "7f7bbbe50b8a; <Pine.LNX.4.64.0609231421110.25804@blonde.wat.veritas.com>"
    summary = "drop mmap_sem, wait, return to user space and fault again (every time)"
    notebook = "02_nopage_retry"
    year = 2006
    era = "2.6.18"                      # the rwsem rules of its time

    def page_not_uptodate(self, k, f, page):
        if f.gup:                                  # get_user_pages: no way back to user space
            return (yield from lock_page_and_check(k, f, page))
        if trylock_page(page):                     # nobody is reading it: carry on as before
            return page_locked_checks(k, f, page)
        drop_mmap_sem(k, f)                        # up_read
        yield from sleep_on_page(k, f, page, take_lock=False)   # wait_on_page_locked, page held
        page_cache_release(page)
        return NOPAGE_REFAULT                      # VM_FAULT_MINOR: back to user space
