"""The threads of a scenario: what each does, op after op.

A thread is a SimPy process. Readers and scripts share the mm (they are
threads of one process); the evictor is another process that shares only
the file. Each thread draws from its own random stream, so changing the
policy changes no thread's choices (common random numbers).
"""
from __future__ import annotations

import math

from .fault import get_user_pages
from .mm import DRIVER_BASE, FILE_BASE, down_read, holds, up_read
from .pagecache import droppable
from .scenario import Evictor, Locker, Mapper, Reader, Script
from .syscalls import (sys_fadvise_dontneed, sys_mmap_anon, sys_mmap_file, sys_mprotect_anon,
                       sys_munmap_anon, sys_munmap_file, sys_read_locked)


class Task:
    """task_struct, the little of it the model needs."""

    __slots__ = ("name", "spec", "flags", "rng", "anon", "ops", "in_op", "shares_mm")

    def __init__(self, spec, rng, shares_mm=True):
        self.name = spec.name
        self.spec = spec
        self.flags = 0           # current->flags (PF_FAULT_MAYRETRY lives here)
        self.rng = rng
        self.anon = []           # the anonymous VMAs this thread has mapped
        self.ops = 0             # operations completed
        self.in_op = False
        self.shares_mm = shares_mm


def start(k, task):
    spec = task.spec
    body = {Reader: reader, Mapper: mapper, Locker: locker, Evictor: evictor, Script: script}[type(spec)]
    return k.env.process(_after(k, task, spec.start_us, body(k, task, spec)))


def _after(k, task, delay, gen):
    if delay:
        yield k.env.timeout(delay)
    yield from gen
    if task.shares_mm:
        k.mm.users -= 1              # exit_mm -> mmput: the thread no longer uses the mm


def touch(k, task, page, via="fault"):
    """A load from file page ``page``: nothing if its pte is present, else a
    fault (or, via get_user_pages, a read of /proc/self/mem). Returns what to
    ``yield from`` (it adds no generator frame of its own)."""
    address = FILE_BASE + page
    if address in k.mm.ptes:
        return ()
    if via == "gup":
        return access_process_vm(k, task, address)
    return k.policy.do_page_fault(k, task, address)


def access_process_vm(k, task, address):
    """mem_read (fs/proc/base.c) -> access_process_vm (mm/memory.c, 2.6.18):
    down_read, get_user_pages, up_read; mmap_sem held across any I/O."""
    yield k.cpu(k.costs.syscall_entry_us)
    yield from down_read(k.mm, task)
    yield from get_user_pages(k, task, address)
    if holds(k.mm, task):
        up_read(k.mm, task)


def _op(task):
    task.in_op = True


def _done(task):
    task.in_op = False
    task.ops += 1


# -- readers ---------------------------------------------------------------------

def next_page(k, task, spec) -> int:
    if spec.pattern == "fixed":
        return spec.page
    draw = task.rng.random()
    if spec.pattern == "mixed" and draw >= spec.miss_ratio:
        return k.next_hot_page()
    return k.next_cold_page(task.rng)


def reader(k, task, spec):
    while spec.count is None or task.ops < spec.count:
        page = next_page(k, task, spec)
        _op(task)
        yield from touch(k, task, page, spec.via)
        _done(task)
        if spec.think_us:
            yield k.env.timeout(spec.think_us)


def mapper(k, task, spec):
    """One op: mmap one anonymous page, (mprotect it,) munmap it."""
    while spec.count is None or task.ops < spec.count:
        _op(task)
        yield from sys_mmap_anon(k, task)
        yield k.env.timeout(spec.think_us)
        if spec.mprotect:
            yield from sys_mprotect_anon(k, task)
            yield k.env.timeout(spec.think_us)
        yield from sys_munmap_anon(k, task)
        _done(task)
        yield k.env.timeout(spec.think_us)


def locker(k, task, spec):
    """One op: one read-locked syscall (mincore, madvise)."""
    while spec.count is None or task.ops < spec.count:
        _op(task)
        yield from sys_read_locked(k, task, spec.kind, spec.hold_us)
        _done(task)
        if spec.think_us:
            yield k.env.timeout(spec.think_us)


def evictor(k, task, spec):
    """posix_fadvise(FADV_DONTNEED) every ``period_us``; each call drops, at
    the end of its fixed cost, the pages that may be dropped.

    The model sleeps through the calls at which nothing in the range could
    be dropped (waking when a page there loses a reference, its lock or a
    mapping), then runs the next call on the same period: the pages it
    drops, and when, are those of a loop that never skipped a call."""
    c = k.costs
    call = c.fadvise_call_us + c.fadvise_page_us * spec.n_pages
    period = max(spec.period_us, call)
    t0 = k.env.now
    pages = range(spec.first_page, spec.first_page + spec.n_pages)
    tick = 0
    while spec.count is None or tick < spec.count:
        if not any((p := k.cache.lookup(i)) is not None and droppable(p) for i in pages):
            yield k.cache.wait_for_change()
            continue
        tick = max(tick, math.ceil((k.env.now - t0 - call) / period - 1e-9))
        if spec.count is not None and tick >= spec.count:
            break
        yield k.env.timeout(t0 + tick * period + call - k.env.now)
        sys_fadvise_dontneed(k, task, spec.first_page, spec.n_pages)
        tick += 1


def evictor_calls(spec, costs, t_end_us) -> int:
    """How many fadvise calls a periodic evictor has completed by ``t_end_us``."""
    call = costs.fadvise_call_us + costs.fadvise_page_us * spec.n_pages
    period = max(spec.period_us, call)
    if t_end_us < spec.start_us + call:
        return 0
    n = int((t_end_us - spec.start_us - call) // period) + 1
    return n if spec.count is None else min(n, spec.count)


# -- scripts -----------------------------------------------------------------------

def script(k, task, spec):
    for step in spec.steps:
        what = step[0]
        _op(task)
        if what == "think":
            yield k.env.timeout(step[1])
        elif what == "touch":
            yield from touch(k, task, step[1])
        elif what == "gup":
            yield from touch(k, task, step[1], via="gup")
        elif what == "touch_pinned":
            yield from k.policy.do_page_fault(k, task, DRIVER_BASE + step[1])
        else:
            yield from {"munmap_file": sys_munmap_file, "remap_file": sys_mmap_file,
                        "mmap": sys_mmap_anon, "munmap": sys_munmap_anon,
                        "mprotect": sys_mprotect_anon}[what](k, task)
        _done(task)
