"""The fault path, top to bottom, with the kernel's names (Linux 2.6.18).

    do_page_fault            arch/i386/mm/fault.c:328
      handle_mm_fault        include/linux/mm.h:744 -> mm/memory.c:2321 (__handle_mm_fault)
        handle_pte_fault     mm/memory.c:2264
          do_no_page         mm/memory.c:2090
            vma->vm_ops->nopage = filemap_nopage     mm/filemap.c:1357
              find_get_page, read-around, page_cache_read, page_not_uptodate

Every function is a SimPy generator: a blocking step is a visible
``yield``, CPU work is ``yield k.cpu(us)``, ``goto retry`` is a loop, and
``current`` is the explicit ``f.task``. mmap_sem is locked and unlocked
by hand (``down_read``/``up_read``): on a retry the callee may already
have dropped it, so a ``with`` block would release it twice.

What differs between the designs of the story lives in the policy
(``k.policy``), at the few places the kernel patches touched: the hooks of
the contract in policies/base.py (what do_page_fault arms before the first
pass, whether it tries a per-VMA lock first, what filemap_nopage does when
the page it needs is locked for I/O, how a missing page's read is submitted,
what the arch code changes before ``goto retry``). The path reads nothing
else of the policy.

Simplifications: read faults only (no write, COW or ->page_mkwrite path);
no OOM; one file, one VMA kind with ->nopage (the file), anonymous VMAs
(never faulted here) and a driver VMA whose ->nopage pins a file page with
get_user_pages (to show what a task-wide flag leaks into).
"""
from __future__ import annotations

from enum import Enum

from .mm import FILE_BASE, down_read, holds, up_read
from .pagecache import (lock_page, lock_page_killable, page_cache_release, trylock_page, unlock_page,
                        wait_on_page_locked, wait_on_page_locked_killable)
from .errors import ModelBug
from .record import FaultRecord, Outcome
from .signals import kill_event, return_to_user


class VM(Enum):
    """handle_mm_fault's answers (include/linux/mm.h:624-641 in 2.6.18, plus RETRY
    from the 2006 patch, 0x04, and 2.6.37's VM_FAULT_RETRY)."""

    OOM = "OOM"
    SIGBUS = "SIGBUS"
    MINOR = "MINOR"
    MAJOR = "MAJOR"
    RETRY = "RETRY"


# ->nopage's special answers (include/linux/mm.h), as sentinels
NOPAGE_SIGBUS = "NOPAGE_SIGBUS"
NOPAGE_RETRY = "NOPAGE_RETRY"      # the 2006 patch: ((struct page *) -2)
NOPAGE_REFAULT = "NOPAGE_REFAULT"  # 7f7bbbe50b8a (2.6.19): also -2, "Return to userspace, rerun"
RETRY_ALL = "RETRY_ALL"            # filemap_nopage's internal 'goto retry_all'
KILLED = "KILLED"                  # a killable sleep ended by SIGKILL


class Fault:
    """The model's bookkeeping for one fault (not a kernel structure).

    ``locked`` says whether this fault's task holds mmap_sem right now;
    ``args`` is where a policy keeps per-fault state of its own (the
    pagefault_args / vm_fault of the later designs); ``refault`` that
    ->nopage answered NOPAGE_REFAULT (the fault maps nothing);
    ``page_locked`` that ->nopage returned the page locked."""

    __slots__ = ("task", "address", "rec", "vma", "locked", "args", "gup", "vma_locked", "refault",
                 "page_locked")

    def __init__(self, task, address, rec, gup=False):
        self.task = task
        self.address = address
        self.rec = rec
        self.vma = None
        self.locked = False
        self.args = None
        self.gup = gup              # called from get_user_pages: the caller holds mmap_sem
        self.vma_locked = None      # the VMA whose per-VMA lock this fault holds (per_vma_lock)
        self.refault = False
        self.page_locked = False    # ->nopage returned the page locked (see page_came_locked)


def new_fault(k, task, address, gup=False, access=None):
    """A new fault record; ``access`` links it to the first fault of the same
    access (a refault: that fault's start time), else it starts an access of its own."""
    now = k.env.now
    rec = FaultRecord(task.name, address, now, via="gup" if gup else "fault",
                      access=now if access is None else access)
    k.rec.new_fault(rec)
    k.rec.emit(task.name, "fault_start", address=address, via=rec.via)
    return Fault(task, address, rec, gup=gup)


def end_fault(k, f, outcome):
    f.rec.end_us = k.env.now
    f.rec.outcome = outcome
    k.rec.emit(f.task.name, "fault_end", outcome=_NAME[outcome], attempts=f.rec.attempts)


_NAME = {o: o.value for o in Outcome}
# the arch code's switch on handle_mm_fault's answer; bad_area's SIGSEGV comes from
# before it (fault_passes returns it as is). VM and Outcome never compare equal.
_ARCH_OUTCOME = {VM.MINOR: Outcome.MINOR, VM.MAJOR: Outcome.MAJOR, VM.SIGBUS: Outcome.SIGBUS,
                 Outcome.SIGSEGV: Outcome.SIGSEGV, Outcome.KILLED: Outcome.KILLED}


# -- arch/i386/mm/fault.c -------------------------------------------------------

def do_page_fault(k, task, address):
    """The arch entry: take mmap_sem for read, find the VMA, handle the fault,
    and on RETRY go back to find_vma; drop mmap_sem at the end. Since 6.4
    (do_user_addr_fault) it first tries the fault under the VMA's own lock,
    when the policy has per-VMA locks, and falls back to mmap_sem (``lock_mmap:``)
    if that attempt says RETRY. Returns the outcome.

    The loop is the CPU's: a fault that ended without mapping anything
    (NOPAGE_REFAULT, policies/refault.py) returns to user space, where the
    access runs again (``reexecute_us``) and traps again: a new fault of the
    same access."""
    access = None
    while True:
        f = new_fault(k, task, address, access=access)
        k.policy.fault_begin(k, f)
        yield k.cpu(k.costs.fault_entry_us)
        vma = k.policy.lock_vma_under_rcu(k, f)
        if vma is not None:
            f.rec.attempts = 1
            f.vma = vma
            f.locked = True
            yield k.cpu(k.costs.walk_us + k.costs.find_get_page_us)
            ret = yield from handle_mm_fault(k, f, vma)
            if ret is not VM.RETRY:
                vma_end_read(k, f)
                f.locked = False
                return (yield from finish_fault(k, f, ret))
            if task.sigkill and k.policy.fatal_signal_on_retry(f):
                return (yield from finish_fault(k, f, Outcome.KILLED))   # fault_signal_pending
            k.rec.emit(task.name, "retry", attempt=f.rec.attempts)
            k.policy.vma_lock_retry(k, f)
        yield from down_read(k.mm, task)              # lock_mmap:
        f.locked = True
        ret = yield from fault_passes(k, f)
        outcome = yield from finish_fault(k, f, ret)
        if outcome is not Outcome.REFAULT:
            return outcome
        access = f.rec.access
        yield k.cpu(k.costs.reexecute_us)             # in user mode: the access runs again and traps


def fault_passes(k, f):
    """``retry:`` ... ``goto retry``: one pass per loop, mmap_sem held on entry."""
    while True:
        f.rec.attempts += 1                  # a pass after the first redoes find_vma and the walk
        # find_vma, the walk and filemap_nopage's first find_get_page, charged
        # at once (mmap_sem is held, so no writer can change what they see)
        yield k.cpu(k.pass_us)
        vma = k.mm.find_vma(f.address)
        if vma is None or vma.start > f.address:
            return Outcome.SIGSEGV                      # bad_area
        f.vma = vma
        ret = yield from handle_mm_fault(k, f, vma)
        if ret is not VM.RETRY:
            return ret
        if f.task.sigkill and k.policy.fatal_signal_on_retry(f):
            return Outcome.KILLED                       # fault_signal_pending: no rerun
        k.rec.emit(f.task.name, "retry", attempt=f.rec.attempts)
        k.policy.before_retry(k, f)
        if not f.locked:
            yield from down_read(k.mm, f.task)
            f.locked = True


def finish_fault(k, f, ret):
    """The switch on handle_mm_fault's answer, up_read, return to user -- where
    a pending fatal signal kills the task (signals.return_to_user)."""
    if f.locked:
        up_read(k.mm, f.task)
        f.locked = False
    k.policy.fault_end(k, f)
    outcome = Outcome.REFAULT if f.refault else _ARCH_OUTCOME.get(ret)
    if outcome is None:
        raise ModelBug(f"do_page_fault: handle_mm_fault returned {ret!r} (BUG())")
    f.rec.major = f.rec.major or outcome is Outcome.MAJOR
    yield k.cpu(k.costs.fault_exit_us)
    end_fault(k, f, outcome)
    if f.task.sigkill:
        return_to_user(k, f.task, "fault_signal_pending" if outcome is Outcome.KILLED else "return_to_user")
    if k.sched is not None:                          # the return to user: a preemption point
        yield from k.sched.preempt_point(f.task.name)
    return outcome


# -- mm/memory.c ---------------------------------------------------------------

def handle_mm_fault(k, f, vma):
    """__handle_mm_fault: the page-table walk (charged with find_vma above), then
    handle_pte_fault. No OOM in the model. (Like the kernel's inline wrapper it
    adds no frame: it hands back handle_pte_fault's generator.)"""
    return handle_pte_fault(k, f, vma)


def handle_pte_fault(k, f, vma):
    """The pte is not present: ->nopage for a file VMA. (Returns the generator
    to run, like handle_mm_fault.)"""
    if f.address in k.mm.ptes:
        return _answer(VM.MINOR)           # a sibling thread mapped it first: nothing to do
    return do_no_page(k, f, vma)


def _answer(ret):
    return ret
    yield                                  # (a generator that returns at once)


def do_no_page(k, f, vma):
    """Ask ->nopage for the page, then install the pte under the pte lock.

    Against a concurrent truncate, 2.6.18 samples mapping->truncate_count
    before ->nopage and rechecks it under the pte lock: changed (an
    unmap_mapping_range ran meanwhile) -> drop the page, ``goto retry``
    (->nopage again, which then sees the new i_size). Piggin's design
    (d00806b18315, 2.6.23) instead gets the page back locked
    (``page_came_locked``) and unlocks it only after the pte is set;
    truncate takes each page's lock. The policy's ``truncate_guard`` says which.
    (Since 3.15 a read fault on a file first maps the cached neighbours,
    do_read_fault -> do_fault_around, if the policy's kernel has it.)
    """
    if vma.kind == "file" and k.policy.fault_around(f):
        yield from do_fault_around(k, f, vma)
        if f.address in k.mm.ptes:                   # map_pages mapped it: VM_FAULT_NOPAGE, no ->fault
            return VM.MAJOR if f.rec.major else VM.MINOR
    guard = k.policy.truncate_guard(f) if vma.kind == "file" else None
    while True:                                      # retry:
        sequence = k.cache.truncate_count
        if vma.kind == "driver":
            new_page = yield from driver_nopage(k, f, vma)
        else:
            new_page = yield from filemap_nopage(k, f, vma)
        if new_page is NOPAGE_SIGBUS:
            return VM.SIGBUS
        if new_page is NOPAGE_RETRY:
            return VM.RETRY
        if new_page is NOPAGE_REFAULT:               # 2.6.19: VM_FAULT_MINOR, nothing mapped
            f.refault = True
            return VM.MINOR
        yield k.cpu(k.costs.map_us)                  # pte_offset_map_lock
        if guard == "truncate_count" and sequence != k.cache.truncate_count:
            page_cache_release(new_page)             # someone truncated: retry getting the page
            k.rec.emit(f.task.name, "truncate_retry", page=new_page.index)
            continue
        break
    if f.address in k.mm.ptes:                       # "One of our sibling threads was faster, back out."
        nopage_done(k, f, new_page)
        page_cache_release(new_page)
        return VM.MAJOR if f.rec.major else VM.MINOR
    if not new_page.uptodate and new_page.in_cache:
        raise ModelBug(f"{f.task.name}: mapping {new_page!r}, which is not uptodate")
    if vma.dead:
        k.policy.map_into_dead_vma(k, f, vma, new_page)   # a ModelBug unless broken on purpose
        nopage_done(k, f, new_page)
        page_cache_release(new_page)
        return VM.MAJOR if f.rec.major else VM.MINOR
    if vma.kind == "file" and not new_page.in_cache:
        k.policy.map_truncated_page(k, f, new_page)       # a ModelBug unless broken on purpose
    k.mm.ptes[f.address] = new_page                  # the nopage reference now belongs to the pte
    new_page.mapcount += 1
    k.rec.emit(f.task.name, "map", page=new_page.index)
    if new_page.fault_retry:                         # page_flag_retry's clear point (see there)
        clear_fault_retry(k, f, new_page)
    nopage_done(k, f, new_page)
    return VM.MAJOR if f.rec.major else VM.MINOR


FAULT_AROUND_PAGES = 16          # fault_around_bytes = 64 KiB of 4 KiB pages (mm/memory.c, 3.15+)
PTRS_PER_PTE = 512               # one page table: fault-around never crosses it


def do_fault_around(k, f, vma):
    """mm/memory.c do_fault_around (3.15+, Kirill Shutemov) with filemap_map_pages
    (mm/filemap.c): map every page of the fault's naturally aligned 16-page block
    (clipped to the VMA and to its page table) that is already in the page cache,
    uptodate and unlocked, and has no pte yet; pages not cached are left alone
    (no I/O). Costs: one radix-tree step per page looked at, one map per page mapped.
    Simplification: the window follows fault_around_bytes' default only (no
    debugfs knob, no large folios)."""
    lo = max(f.address & ~(FAULT_AROUND_PAGES - 1), vma.start, f.address & ~(PTRS_PER_PTE - 1))
    hi = min(lo + FAULT_AROUND_PAGES, vma.end, (f.address | (PTRS_PER_PTE - 1)) + 1)
    mapped = []
    for address in range(lo, hi):
        if address in k.mm.ptes:
            continue
        page = k.cache.lookup(vma.pgoff + (address - vma.start))
        if page is None or page.locked or not page.uptodate:
            continue
        page.count += 1
        page.mapcount += 1
        k.mm.ptes[address] = page
        mapped.append(page.index)
    yield k.cpu(k.costs.find_get_page_us * (hi - lo) + k.costs.map_us * len(mapped))
    if mapped:
        k.rec.emit(f.task.name, "fault_around", first=mapped[0], n=len(mapped))


def page_came_locked(f) -> bool:
    """Did ->nopage return the page locked? The boolean Morton wanted in
    pagefault_args (the struct's, where the fault carries one; 2.6.23's
    VM_FAULT_LOCKED)."""
    return f.args.page_locked if f.args is not None else f.page_locked


def nopage_done(k, f, page):
    """do_no_page's end: unlock a page ->nopage returned locked."""
    if page_came_locked(f):
        if f.args is not None:
            f.args.page_locked = False
        f.page_locked = False
        unlock_page(page)


def lock_nopage_page(k, f, page, pgoff):
    """filemap_nopage's end under Piggin's design (d00806b18315, 2.6.23):
    find_lock_page -- sleep for the lock if truncate (or a read) holds it --
    then, under the lock, the page must still be in the cache (else look
    again) and inside i_size ("Must recheck i_size under page lock"), else
    SIGBUS. Returns the page locked, RETRY_ALL or NOPAGE_SIGBUS."""
    if not page_came_locked(f) and not trylock_page(page):
        k.rec.emit(f.task.name, "page_lock_wait", page=page.index, mmap_sem=holds(k.mm, f.task))
        yield from lock_page(k.env, page)
        yield k.cpu(k.costs.wakeup_us)
        k.rec.emit(f.task.name, "page_lock_got", page=page.index)
    if not page.in_cache:                            # truncated while we waited
        unlock_page(page)
        page_cache_release(page)
        f.page_locked = False
        return RETRY_ALL
    if pgoff >= k.cache.i_size:
        unlock_page(page)
        page_cache_release(page)
        f.page_locked = False
        return NOPAGE_SIGBUS
    f.page_locked = True
    if f.args is not None:
        f.args.page_locked = True                    # ->nopage says so in the struct
    return page


# -- mm/filemap.c --------------------------------------------------------------

MMAP_LOTSAMISS = 100


def filemap_nopage(k, f, vma):
    """Return the file page for the fault, referenced and uptodate, or a NOPAGE_* code."""
    pgoff = vma.pgoff + (f.address - vma.start)
    cache, ra = k.cache, k.ra
    first = True
    did_readaround = False                           # a local, as in 2.6.18: a rerun starts afresh
    while True:                                      # retry_all: / retry_find:
        if pgoff >= cache.i_size:                    # outside_data_content (i_size read at retry_all)
            return NOPAGE_SIGBUS if f.locked else NOPAGE_RETRY   # (5.1+: dropped, so RETRY first)
        if not first:                                # (the first lookup was charged by the caller)
            yield k.cpu(k.costs.find_get_page_us)
        first = False
        page = cache.find_get_page(pgoff)
        if page is None:
            ra["mmap_miss"] += 1
            f.rec.major = True
            # "Do we miss much more than hit in this file?" Then no read-around
            # (goto no_cached_page); else read-around, if the window is not 0.
            lotsamiss = ra["mmap_miss"] > ra["mmap_hit"] + MMAP_LOTSAMISS
            did_readaround = did_readaround or not lotsamiss
            readaround = not lotsamiss and k.scenario.ra_pages > 0
            ret = yield from k.policy.cache_miss(k, f, pgoff, readaround)
            if ret is not None:
                return ret
            continue
        if not did_readaround and k.policy.counts_readahead_hit(f):
            ra["mmap_hit"] += 1
        if not page.uptodate:
            if k.policy.locked_page_is_major(f):     # 2.6.18's page_not_uptodate counts as major
                f.rec.major = True
            page = yield from k.policy.page_not_uptodate(k, f, page)
            if page is RETRY_ALL:
                continue
            if page is NOPAGE_RETRY or page is NOPAGE_REFAULT:
                return page
        if not f.locked:                             # the lock was let go on the way (Linux 5.1+):
            page_cache_release(page)                 # never map without it; retry instead
            return NOPAGE_RETRY
        if guard_is_page_lock(k, f):                 # 2.6.23+: returned locked
            page = yield from lock_nopage_page(k, f, page, pgoff)
            if page is RETRY_ALL:
                continue
        return page                                  # success: referenced (unlocked in 2.6.18)


def guard_is_page_lock(k, f) -> bool:
    return k.policy.truncate_guard(f) == "page_lock"


def clear_fault_retry(k, f, page):
    """ClearPageFaultRetry: the page that cost a fault its retry is mapped now."""
    page.fault_retry = False
    k.rec.emit(f.task.name, "page_flag", op="clear", page=page.index)


def do_page_cache_readahead(k, f, pgoff):
    """Put the read-around window into the cache, locked, and submit one read
    for the pages that were missing (mm/readahead.c); returns at once."""
    n = k.scenario.ra_pages
    start = pgoff - n // 2 if pgoff > n // 2 else 0
    end = min(start + n, k.cache.i_size)
    new = [k.cache.add_to_page_cache(i) for i in range(start, end) if k.cache.lookup(i) is None]
    yield k.cpu(k.costs.ra_submit_us + k.costs.ra_page_us * len(new))
    if new:
        k.disk.submit(f.task.name, new)


def page_cache_read(k, f, pgoff):
    """no_cached_page: read just this page (add_to_page_cache_lru: added locked and
    parked in this CPU's LRU-add pagevec; ->readpage)."""
    if k.cache.lookup(pgoff) is None:
        page = k.cache.add_to_page_cache(pgoff)
        k.pagevecs.lru_cache_add(f.task.name, page)      # add_to_page_cache_lru (pagevec.py)
        yield k.cpu(k.costs.ra_submit_us + k.costs.ra_page_us)
        k.disk.submit(f.task.name, [page])
    return None


def sleep_on_page(k, f, page, take_lock: bool, killable=False):
    """Sleep until the read of ``page`` completes: lock_page (take_lock) or
    wait_on_page_locked. Records the wait and whether mmap_sem was held across it.
    ``killable``: the _killable sleep, which SIGKILL ends; returns KILLED then
    (without the page lock), else None."""
    if take_lock and trylock_page(page) or not take_lock and not page.locked:
        return
    k.rec.emit(f.task.name, "io_wait_start", page=page.index, mmap_sem=holds(k.mm, f.task))
    sched = k.sched
    if sched is not None:
        sched.block(f.task.name)                     # asleep: its CPU goes to the next in line
    if killable:
        kill = kill_event(k, f.task)
        wait = lock_page_killable if take_lock else wait_on_page_locked_killable
        slept = yield from wait(k.env, page, kill)
        if slept is None:
            if sched is not None and (ev := sched.resume(f.task.name)) is not None:
                yield ev
            k.rec.emit(f.task.name, "io_wait_end", page=page.index, killed=True)
            return KILLED
    elif take_lock:
        slept = yield from lock_page(k.env, page)
    else:
        slept = yield from wait_on_page_locked(k.env, page)
    if sched is not None and (ev := sched.resume(f.task.name)) is not None:
        yield ev
    if slept:
        yield k.cpu(k.costs.wakeup_us)
    k.rec.emit(f.task.name, "io_wait_end", page=page.index)


def lock_page_and_check(k, f, page, killable=False):
    """The synchronous page_not_uptodate of 2.6.18: lock_page -- this is where
    the disk wait happens, under mmap_sem -- then look at what we got.
    ``killable`` (5.1+, lock_page_maybe_drop_mmap with FAULT_FLAG_KILLABLE):
    SIGKILL ends the wait; mmap_sem is dropped and the fault says RETRY, so
    that the arch code's fault_signal_pending sees it."""
    if (yield from sleep_on_page(k, f, page, take_lock=True, killable=killable)) is KILLED:
        page_cache_release(page)
        drop_mmap_sem(k, f)
        return NOPAGE_RETRY
    return page_locked_checks(k, f, page)


def page_locked_checks(k, f, page):
    """After lock_page: truncated meanwhile -> retry_all; uptodate -> success."""
    if not page.in_cache:
        unlock_page(page)
        page_cache_release(page)
        return RETRY_ALL
    if page.uptodate:
        unlock_page(page)
        return page
    raise ModelBug(f"{page!r} locked but not uptodate: read errors are not modelled")


def drop_mmap_sem(k, f):
    """up_read in the middle of a fault (release_fault_lock in today's kernels:
    the VMA lock instead, if that is what the fault holds). A get_user_pages
    caller holds mmap_sem itself and must never see it dropped."""
    if f.gup:
        k.rec.bug(f.task.name, "mmap_sem dropped under a get_user_pages caller that holds it")
    if f.vma_locked is not None:
        vma_end_read(k, f)
    else:
        up_read(k.mm, f.task)
    f.locked = False


def retake_mmap_sem(k, f):
    yield from down_read(k.mm, f.task)
    f.locked = True


def vma_end_read(k, f):
    vma, f.vma_locked = f.vma_locked, None
    vma.lock.release(f.task.name)
    k.rec.emit(f.task.name, "vma_unlock", vma=vma.id)


# -- get_user_pages and a driver that uses it -----------------------------------

def get_user_pages(k, task, address, caller_holds=True):
    """mm/memory.c get_user_pages (2.6.18) for one page, called with mmap_sem
    held for read: follow_page, and handle_mm_fault until the page is there.
    Any answer but MINOR/MAJOR/SIGBUS hits BUG() in its switch."""
    f = new_fault(k, task, address, gup=True)
    f.locked = caller_holds
    k.policy.gup_begin(k, f)
    page = k.mm.ptes.get(address)
    if page is not None:
        end_fault(k, f, Outcome.MINOR)
        return page
    f.rec.attempts = 1
    yield k.cpu(k.costs.walk_us + k.costs.find_get_page_us)
    vma = k.mm.find_vma(address)
    if vma is None or vma.start > address:
        end_fault(k, f, Outcome.SIGSEGV)
        return None
    f.vma = vma
    ret = yield from handle_mm_fault(k, f, vma)
    if ret is VM.RETRY:
        k.rec.bug(task.name, "VM_FAULT_RETRY returned to get_user_pages: BUG()")
        end_fault(k, f, Outcome.OOPS)
        return None
    end_fault(k, f, Outcome.SIGBUS if ret is VM.SIGBUS else
              (Outcome.MAJOR if f.rec.major else Outcome.MINOR))
    return k.mm.ptes.get(address)


def driver_nopage(k, f, vma):
    """A ->nopage that pins a page of the user's own file mapping with
    get_user_pages and returns it: a constructed case, not a known driver
    (drivers pin user buffers from ioctl, not from ->nopage), built to show
    what a task-wide flag leaks into. It runs inside do_page_fault, with
    mmap_sem held and the fault's per-task state still armed."""
    target = FILE_BASE + vma.pgoff                   # where the file is (or was) mapped
    page = yield from get_user_pages(k, f.task, target)
    if page is None:
        return NOPAGE_SIGBUS
    page.count += 1                                  # the driver's reference, handed to do_no_page
    return page
