"""ctypes doors into libc for every call that may sleep in the kernel.

Why ctypes, and why ``CDLL``: CPython threads run Python code one at a time
(the GIL).  A foreign function loaded through ``ctypes.CDLL`` drops the GIL
for the length of the call and takes it back afterwards; one loaded through
``ctypes.PyDLL`` (or ``ctypes.pythonapi``) keeps it.  A page fault taken
while the GIL is held (indexing an ``mmap`` object, ``ctypes.string_at``,
a ``PyDLL`` call) freezes every other Python thread for as long as the
fault sleeps, so a measurement built that way can no longer see one thread
waiting on another inside the kernel.  Every call the experiment makes that
can touch the slow page or the mmap lock therefore goes through a
:class:`Libc` built on ``CDLL``; :meth:`Libc.releases_gil` checks that, and
``tests/test_kernel_lab.py`` checks both the flag and the behaviour.

Which kernel lock each call takes (Linux 6.x):

- ``mmap``/``munmap``: the mmap lock for writing (mm/util.c vm_mmap_pgoff,
  mm/vma.c / mm/mmap.c __vm_munmap).
- ``mincore``: the mmap lock for reading, one page-table walk per chunk of
  up to PAGE_SIZE pages (mm/mincore.c, SYSCALL_DEFINE3(mincore)).
- ``madvise(MADV_WILLNEED)`` and ``MADV_COLD``: the mmap lock for reading
  (mm/madvise.c get_lock_mode); on recent 6.x kernels ``MADV_DONTNEED`` and
  ``MADV_FREE`` only take a per-VMA read lock there, so they would not queue.
- ``pread`` on ``/proc/self/mem``: fs/proc/base.c mem_rw() ->
  access_remote_vm() -> mm/memory.c __access_remote_vm(), which takes the
  mmap lock for reading and calls get_user_pages without a ``locked``
  pointer, so the fault inside may not drop the lock (see experiment.py).
- ``memcpy`` from a file mapping: an ordinary user fault; on 6.x it runs
  under the per-VMA lock and drops it while the page is read.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import time

PROT_READ = 0x1
PROT_WRITE = 0x2
MAP_SHARED = 0x01
MAP_PRIVATE = 0x02
MAP_ANONYMOUS = 0x20
MADV_WILLNEED = 3
MAP_FAILED = ctypes.c_void_p(-1).value

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

#: every function the experiment calls while another thread may be waiting
BLOCKING = ("mmap", "munmap", "memcpy", "pread", "mincore", "madvise")


def _load(kind):
    """Open libc with ``kind`` (CDLL or PyDLL); glibc first, then any libc."""
    try:
        return kind("libc.so.6", use_errno=True)
    except OSError:
        name = ctypes.util.find_library("c")
        if name is None:
            raise
        return kind(name, use_errno=True)


class Libc:
    """The handful of libc calls the lab needs, with argument types set."""

    def __init__(self, lib: ctypes.CDLL):
        self.lib = lib
        vp, sz, i = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int
        self.mmap = lib.mmap
        self.mmap.argtypes = (vp, sz, i, i, i, ctypes.c_int64)
        self.mmap.restype = vp
        self.munmap = lib.munmap
        self.munmap.argtypes = (vp, sz)
        self.munmap.restype = i
        self.memcpy = lib.memcpy
        self.memcpy.argtypes = (vp, vp, sz)
        self.memcpy.restype = vp
        self.pread = lib.pread
        self.pread.argtypes = (i, vp, sz, ctypes.c_int64)
        self.pread.restype = ctypes.c_ssize_t
        self.mincore = lib.mincore
        self.mincore.argtypes = (vp, sz, ctypes.POINTER(ctypes.c_ubyte))
        self.mincore.restype = i
        self.madvise = lib.madvise
        self.madvise.argtypes = (vp, sz, i)
        self.madvise.restype = i

    @classmethod
    def gil_releasing(cls) -> "Libc":
        """The one the lab uses: ``CDLL`` drops the GIL around each call."""
        return cls(_load(ctypes.CDLL))

    @classmethod
    def gil_holding(cls) -> "Libc":
        """The regression the tests must catch: ``PyDLL`` keeps the GIL."""
        return cls(_load(ctypes.PyDLL))

    def releases_gil(self) -> bool:
        """True if every blocking call is a plain CDLL function."""
        if isinstance(self.lib, ctypes.PyDLL) or not isinstance(self.lib, ctypes.CDLL):
            return False
        return all(not (getattr(self, n)._flags_ & ctypes._FUNCFLAG_PYTHONAPI)
                   for n in BLOCKING)

    # -- helpers used outside the timed loops --------------------------------
    def map_anon(self, length: int = PAGE_SIZE, touch: bool = False) -> int:
        addr = self.mmap(None, length, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        if addr in (None, MAP_FAILED):
            raise _oserror("mmap(anonymous)")
        if touch:
            ctypes.memset(addr, 0x5A, length)
        return addr

    def map_file(self, fd: int, length: int) -> int:
        addr = self.mmap(None, length, PROT_READ, MAP_SHARED, fd, 0)
        if addr in (None, MAP_FAILED):
            raise _oserror("mmap(file)")
        return addr

    def unmap(self, addr: int, length: int) -> None:
        if self.munmap(addr, length) != 0:
            raise _oserror("munmap")

    def resident(self, addr: int, length: int = PAGE_SIZE) -> list[bool]:
        """mincore(2): which pages of [addr, addr+length) are in memory."""
        pages = (length + PAGE_SIZE - 1) // PAGE_SIZE
        vec = (ctypes.c_ubyte * pages)()
        if self.mincore(addr, length, vec) != 0:
            raise _oserror("mincore")
        return [bool(v & 1) for v in vec]


def _oserror(what: str) -> OSError:
    err = ctypes.get_errno()
    return OSError(err, f"{what}: {os.strerror(err)}")


def monotonic_ns() -> int:
    """CLOCK_MONOTONIC, the clock tracefs's ``mono`` trace_clock uses too."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)
