"""per_vma_lock: Linux 6.8 -- file read faults under a per-VMA lock.

Suren Baghdasaryan's per-VMA locks (6.4, anonymous VMAs; cover letter
<20230227173632.3292573-1-surenb@google.com>), extended to file-backed
read faults in 6.7 (12214eba1992). The arch code first tries
lock_vma_under_rcu(): find the VMA without mmap_lock and read-lock just
that VMA. vma_start_read fails -- it never sleeps -- if the VMA is
write-locked in the current mmap write cycle (vm_lock_seq ==
mm_lock_seq); mmap_write_unlock bumps mm_lock_seq, which unlocks every
VMA at once. A fault that must wait for I/O drops the VMA lock
(release_fault_lock), waits, and returns RETRY; the arch code then falls
back to the mmap_lock path (``lock_mmap:``). In 6.7 as released that pass
was still a first attempt and could drop mmap_lock again; 46e714c729c8
(6.8, and 6.7.y) sets FAULT_FLAG_TRIED when the attempt was major, so that
pass keeps mmap_lock. The model follows 6.8.

A writer changing some *other* VMA (the mapper's mmap/munmap) takes
mmap_lock for write but never meets these faults: that is the point.
"""
from . import register
from .multi_retry import MultiRetry
from .vm_fault_retry import FAULT_FLAG_TRIED


def lock_vma_under_rcu(k, f):
    """Find the VMA without mmap_lock and try to read-lock it; None on failure."""
    vma = k.mm.find_vma(f.address)
    if vma is None or vma.start > f.address or vma.kind != "file":
        return None
    if vma.lock_seq == k.mm.lock_seq:              # write-locked in this write cycle
        return None
    if not vma.lock.try_read(f.task.name):          # a writer is waiting for the readers
        return None
    f.vma_locked = vma
    k.rec.emit(f.task.name, "vma_lock", vma=vma.id)
    return vma


@register
class PerVmaLock(MultiRetry):
    name = "per_vma_lock"
    kernel = "6.8"
    source = "<20230227173632.3292573-1-surenb@google.com>; 12214eba1992; 46e714c729c8"
    summary = "fault under the VMA's own lock; fall back to mmap_lock on retry"
    era = "modern"
    notebook = "06_what_linux_did"
    year = 2023

    def lock_vma_under_rcu(self, k, f):
        return lock_vma_under_rcu(k, f)

    def vma_lock_retry(self, k, f):
        if f.rec.major:                            # 46e714c729c8: a major attempt makes the
            f.args.flags |= FAULT_FLAG_TRIED       # mmap_lock pass keep the lock
