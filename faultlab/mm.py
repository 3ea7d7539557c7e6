"""The address space: mm_struct, its VMAs, its page table and mmap_sem.

Mirrors include/linux/sched.h (struct mm_struct) and mm/mmap.c of Linux
2.6.18, reduced to what the story needs:

* ``vmas`` sorted by start; ``find_vma`` returns the first VMA that ends
  above the address (it may start above it too: the caller checks);
* ``ptes`` maps a virtual page to the page it maps (pte present);
* ``mmap_sem`` is the rw-semaphore of rwsem.py;
* ``seq`` is the sequence counter of the 2006 mail: bumped at every
  down_write; ``lock_seq`` is 6.4's ``mm_lock_seq``, bumped at
  mmap_write_unlock (since about 6.14, eb449bd96954, a true seqcount
  bumped at both lock and unlock: unverified, not modelled);
* ``users`` is mm_users: the threads sharing the mm.

A VMA is never reused: munmap removes it and marks it dead, so a fault
holding a pointer to it can tell (and the model can catch a mapping into
a dead VMA).

``down_read``/``up_read``/``down_write``/``up_write`` here are the traced
wrappers the fault path and syscalls call; they emit the mmap_lock
tracepoint events and charge the wake-up latency to a task that slept.
"""
from __future__ import annotations

import bisect
import itertools

from .errors import ModelBug
from .rwsem import RWSem

FILE_BASE = 0x10000        # virtual page where the shared file is mapped
DRIVER_BASE = 0x40000000  # virtual page of the driver mappings (fault.driver_nopage), above any file
ANON_BASE = 0x7F000000     # virtual pages handed out by mmap of anonymous memory


class VMA:
    __slots__ = ("id", "start", "end", "kind", "pgoff", "dead", "lock", "lock_seq")

    def __init__(self, vid: int, start: int, end: int, kind: str, pgoff: int = 0):
        self.id = vid
        self.start = start
        self.end = end          # exclusive, in pages
        self.kind = kind        # "file" (->nopage = filemap_nopage), "anon", or "driver" (see fault.driver_nopage)
        self.pgoff = pgoff
        self.dead = False
        self.lock = None        # per-VMA lock (per_vma_lock policy only)
        self.lock_seq = -1      # vm_lock_seq: equal to mm.lock_seq while write-locked

    def __repr__(self):
        return f"<VMA {self.id} {self.start:#x}-{self.end:#x} {self.kind}{' dead' if self.dead else ''}>"


class MM:
    def __init__(self, env, rec, rules: str, wakeup_us: float, file_pages: int, hz: int = 250):
        self.env = env
        self.rec = rec
        self.mmap_sem = RWSem(env, rules=rules, name="mmap_sem", wakeup_us=wakeup_us, hz=hz)
        self.wakeup_us = wakeup_us
        self.sched = None       # the CPU layer's run queues, if the scenario has CPUs (cpu.py)
        self.vmas: list[VMA] = []
        self._starts: list[int] = []
        self.ptes: dict[int, object] = {}
        self.seq = 0            # Morton's counter (bumped at down_write)
        self.lock_seq = 0       # mm_lock_seq (bumped at mmap_write_unlock, Linux 6.4+)
        self.users = 0
        self.file_pages = file_pages
        self._ids = itertools.count(1)
        self._anon = itertools.count(ANON_BASE)

    # -- VMAs -------------------------------------------------------------
    def insert_vma(self, start: int, end: int, kind: str, pgoff: int = 0) -> VMA:
        vma = VMA(next(self._ids), start, end, kind, pgoff)
        vma.lock = VmaLock(self.env)
        i = bisect.bisect(self._starts, start)
        self._starts.insert(i, start)
        self.vmas.insert(i, vma)
        return vma

    def remove_vma(self, vma: VMA) -> None:
        i = self.vmas.index(vma)
        del self.vmas[i], self._starts[i]
        vma.dead = True
        span = range(vma.start, vma.end)
        mapped = [v for v in (span if len(span) <= len(self.ptes) else self.ptes) if v in span and v in self.ptes]
        for vpage in mapped:                     # zap_pte_range: each pte drops its reference
            page = self.ptes.pop(vpage)
            page.mapcount -= 1
            page.count -= 1
            if page.cache is not None:
                page.cache.poke(page)

    def find_vma(self, address: int):
        """First VMA with end > address (mm/mmap.c), or None."""
        i = bisect.bisect(self._starts, address)
        for vma in self.vmas[max(i - 1, 0):]:
            if vma.end > address:
                return vma
        return None

    def new_anon_address(self) -> int:
        return next(self._anon)

    def file_vma(self):
        for vma in self.vmas:
            if vma.kind == "file":
                return vma
        return None


# -- the traced lock operations ------------------------------------------------

def down_read(mm: MM, task):
    """down_read_trylock, else down_read: queue and sleep. Returns what to
    ``yield from`` (nothing at all when the trylock succeeds)."""
    return _down(mm, task, False)


def down_write(mm: MM, task):
    """The same for writing; Morton's counter is bumped wherever it is taken."""
    return _down(mm, task, True)


_SIDE = {False: (("write", False),), True: (("write", True),)}   # the lock events' details


def _down(mm: MM, task, write: bool):
    rec = mm.rec
    rec.add(task.name, "start_locking", _SIDE[write])
    if mm.mmap_sem.trylock(task.name, write):
        mm.seq += write
        rec.add(task.name, "acquire_returned", _SIDE[write])
        return ()
    return _sleep(mm, task, write)


def _sleep(mm: MM, task, write: bool):
    """Queue on mmap_sem; a task that slept pays the wake-up latency before it runs."""
    req = mm.mmap_sem.request(task.name, write)
    if not req.triggered:
        sched = mm.sched
        if sched is not None:
            sched.block(task.name)              # asleep: its CPU goes to the next in line
        yield req
        if sched is not None and (ev := sched.resume(task.name)) is not None:
            yield ev                            # runnable: wait for the CPU
    if req.waited and not req.running:
        yield mm.env.timeout(mm.wakeup_us)
    mm.seq += write
    mm.rec.add(task.name, "acquire_returned", _SIDE[write])


def up_read(mm: MM, task):
    mm.rec.add(task.name, "released", _SIDE[False])
    mm.mmap_sem.unlock(task.name)


def up_write(mm: MM, task):
    if mm.mmap_sem.holders.get(task.name) is not True:
        raise ModelBug(f"up_write by {task.name}, which does not hold mmap_sem for write")
    mm.rec.add(task.name, "released", _SIDE[True])
    mm.mmap_sem.unlock(task.name)


def holds(mm: MM, task) -> bool:
    return task.name in mm.mmap_sem.holders


class VmaLock:
    """vma->vm_lock of Linux 6.4+ (include/linux/mm.h): readers only ever
    *try* to take it (vma_start_read fails rather than sleeps, and the fault
    falls back to mmap_sem); a writer, already holding mmap_sem for write,
    waits for the readers to leave (vma_start_write) and marks the VMA
    write-locked until mmap_write_unlock bumps mm_lock_seq."""

    def __init__(self, env):
        self.env = env
        self.readers: set[str] = set()
        self.writer_waiting = False
        self._drained = None

    def try_read(self, task: str) -> bool:
        """vma_start_read's down_read_trylock: fails while a writer waits."""
        if self.writer_waiting:
            return False
        if task in self.readers:
            raise ModelBug(f"vma lock: {task} takes it twice")
        self.readers.add(task)
        return True

    def release(self, task: str) -> None:
        if task not in self.readers:
            raise ModelBug(f"vma lock: {task} released a VMA lock it does not hold")
        self.readers.discard(task)
        if not self.readers and self._drained is not None:
            self._drained.succeed()
            self._drained = None

    def wait_for_readers(self):
        if self.readers:
            self.writer_waiting = True
            self._drained = self.env.event()
            yield self._drained
            self.writer_waiting = False
