"""The syscalls that write-lock the mm, and fadvise.

mm/mmap.c and mm/mprotect.c (2.6.18): sys_mmap, sys_munmap and
sys_mprotect do down_write(&mm->mmap_sem), change the VMAs and page
tables, and up_write. The time between is the syscall's CPU cost.
posix_fadvise(FADV_DONTNEED) (mm/fadvise.c) never touches mmap_sem: it
calls invalidate_mapping_pages on the file (mm/truncate.c).

Simplification: munmap holds mmap_sem for write for its whole cost under
every policy; since about Linux 4.20 it downgrades to read for the zap.

Under per-VMA locking (Linux 6.4+) a writer also write-locks each VMA it
changes (vma_start_write, which waits for that VMA's readers), and
mmap_write_unlock bumps mm_lock_seq, unlocking all of them at once.
"""
from __future__ import annotations

from .mm import FILE_BASE, down_read, down_write, up_read, up_write
from .record import SyscallRecord


def _syscall(k, task, kind, cost_us, change=None, write=True):
    """Take mmap_sem (for write, or for read), make the change, spend the
    syscall's CPU time holding the lock, let it go. Returns the record."""
    rec = SyscallRecord(task.name, kind, k.env.now)
    k.rec.new_syscall(rec)
    k.rec.emit(task.name, "syscall_start", kind=kind)
    yield k.env.timeout(k.costs.syscall_entry_us)
    rec.requested_us = k.env.now
    yield from (down_write if write else down_read)(k.mm, task)
    rec.granted_us = k.env.now
    if change is not None:
        yield from change()
    yield k.env.timeout(cost_us)
    if write:
        up_write(k.mm, task)
        k.mm.lock_seq += 1             # vma_end_write_all (6.4+); harmless before
    else:
        up_read(k.mm, task)
    rec.end_us = k.env.now
    k.rec.emit(task.name, "syscall_end", kind=kind)
    if k.sched is not None:                          # the return to user: a preemption point
        yield from k.sched.preempt_point(task.name)
    return rec


def sys_read_locked(k, task, kind, hold_us):
    """mincore / madvise: mmap_read_lock, walk the range, mmap_read_unlock."""
    return (yield from _syscall(k, task, kind, hold_us, write=False))


def vma_start_write(k, vma):
    """Write-lock one VMA (Linux 6.4+): wait for its readers, then mark it."""
    yield from vma.lock.wait_for_readers()
    vma.lock_seq = k.mm.lock_seq


def sys_mmap_anon(k, task):
    def change():
        start = k.mm.new_anon_address()
        task.anon.append(k.mm.insert_vma(start, start + 1, "anon"))
        yield from ()
    return (yield from _syscall(k, task, "mmap", k.costs.mmap_us, change))


def sys_munmap_anon(k, task):
    def change():
        if task.anon:
            vma = task.anon.pop(0)
            yield from vma_start_write(k, vma)
            k.mm.remove_vma(vma)
    return (yield from _syscall(k, task, "munmap", k.costs.munmap_us, change))


def sys_mprotect_anon(k, task):
    def change():
        if task.anon:
            yield from vma_start_write(k, task.anon[0])
    return (yield from _syscall(k, task, "mprotect", k.costs.mprotect_us, change))


def sys_munmap_file(k, task):
    def change():
        vma = k.mm.file_vma()
        if vma is not None:
            yield from vma_start_write(k, vma)
            k.mm.remove_vma(vma)
    return (yield from _syscall(k, task, "munmap", k.costs.munmap_us, change))


def sys_mmap_file(k, task):
    def change():
        if k.mm.file_vma() is None:
            k.mm.insert_vma(FILE_BASE, FILE_BASE + k.scenario.file_pages, "file")
        yield from ()
    return (yield from _syscall(k, task, "mmap", k.costs.mmap_us, change))


def sys_fadvise_dontneed(k, task, first, n):
    """invalidate_mapping_pages over [first, first+n): drop what may be dropped; the
    pagevec_release after the batch drains the caller's own CPU's LRU-add pagevec
    (mm/truncate.c, mm/swap.c, 2.6.18), after the pages were tested."""
    from .pagecache import invalidate_page
    dropped = []
    found = False
    for index in range(first, first + n):
        page = k.cache.lookup(index)
        found = found or page is not None
        if page is not None and invalidate_page(k.cache, page):
            dropped.append(index)
    for index in dropped:
        k.rec.emit(task.name, "evict", page=index)
    if found:
        k.pagevecs.lru_add_drain(task.name)   # pagevec_release -> __pagevec_release (own CPU only)
    return dropped
