"""The kernel lab: the mmap_sem convoy measured on the running kernel.

The model (faultlab) replays the 2006 report: a thread sleeping on a page's
I/O while holding mmap_sem for reading stalls every mmap/munmap, and then
every reader queued behind them.  On a current kernel the ordinary fault no
longer does that (VM_FAULT_RETRY since 2.6.37, commit d065bd810b6d; per-VMA
locks since 6.4), but a read through /proc/self/mem still does
(mm/memory.c __access_remote_vm holds mmap_read_lock around
get_user_pages, which may not drop it).  This package shows both, live:

    from faultlab import kernel_lab
    ok, why = kernel_lab.available()
    r = kernel_lab.measure(path="procmem", delay_ms=300, third_reader=True)
    r.summary()["writer_max_wait_ms"]        # about 300 on Linux 6.x
    kernel_lab.load_recorded()["fault"].summary()   # a run shipped with the package

The two-thread benchmark (a reader of a slow FUSE file beside an
mmap/munmap loop, the loops in C, pinned to CPUs as asked) and the
calibration its twin is built from::

    cal = kernel_lab.calibrate(path="procmem", disk_ms=18)
    r = kernel_lab.benchmark(path="procmem", disk_ms=18, seconds=5, cpus="split")
    r.summary()["mapper_per_s"], r.summary()["twin"]

Command line: ``python -m faultlab.kernel_lab {available,measure,record,benchmark}``.

Modules: :mod:`.slowfs` (FUSE server with slow reads), :mod:`.libc` (ctypes
calls that release the GIL), :mod:`.experiment` (threads and timing),
:mod:`.tracefs` (the kernel's mmap_lock tracepoints), :mod:`.result`
(:class:`LabResult`), :mod:`.recorded` (the shipped run), :mod:`.two_thread`
(the benchmark and its calibration), :mod:`.native` (loops.c, built on first use).
"""
from __future__ import annotations

import ctypes
import importlib.util
import os
import shutil
import sys
import threading

from ..schema import Spec
from . import experiment, slowfs
from .errors import LabError, LabTimeout, LabUnavailable
from .result import LabResult
from .recorded import load_recorded, record
from .two_thread import CALIBRATION_KEYS, BenchResult, benchmark, calibrate

__all__ = ["measure", "available", "LabResult", "LabError", "LabUnavailable",
           "LabTimeout", "load_recorded", "record", "PATHS", "THIRD_READERS",
           "benchmark", "calibrate", "BenchResult", "CALIBRATION_KEYS"]

PATHS = ("fault", "procmem")
THIRD_READERS = ("mincore", "madvise", "procmem")
DELAY_RANGE_MS = (1, 5000)
_RUN_LOCK = threading.Lock()      # one measurement at a time per process


def available() -> tuple[bool, str]:
    """Can the live experiment run here?  ``(True, "ok ...")`` or ``(False, reason)``."""
    if not sys.platform.startswith("linux"):
        return False, f"not Linux (sys.platform={sys.platform!r})"
    if not os.path.exists("/dev/fuse"):
        return False, "no /dev/fuse (FUSE is not available in this kernel or container)"
    fusermount = shutil.which("fusermount3")
    if fusermount is None:
        return False, "FUSE missing: fusermount3 not found (install fuse3, e.g. apt-get install fuse3)"
    if not os.access("/dev/fuse", os.R_OK | os.W_OK) and not _setuid_root(fusermount):
        return False, "no permission to open /dev/fuse (and fusermount3 is not setuid root)"
    if importlib.util.find_spec("mfusepy") is None:
        return False, "FUSE missing: the Python package mfusepy is not installed (pip install mfusepy)"
    if not _has_libfuse3():
        return False, "FUSE missing: libfuse3 not found (install fuse3 / libfuse3-3)"
    try:
        fd = os.open("/proc/self/mem", os.O_RDONLY)
    except OSError as e:
        return False, f"no /proc/self/mem ({e.strerror})"
    try:
        probe = ctypes.create_string_buffer(b"faultlab", 8)
        if os.pread(fd, 8, ctypes.addressof(probe)) != b"faultlab":
            return False, "/proc/self/mem does not read back this process's memory"
    except OSError as e:
        return False, f"/proc/self/mem is not readable ({e.strerror})"
    finally:
        os.close(fd)
    return True, f"ok (Linux {os.uname().release})"


def _setuid_root(path: str) -> bool:
    st = os.stat(path)
    return st.st_uid == 0 and bool(st.st_mode & 0o4000)


def _has_libfuse3() -> bool:
    for name in ("libfuse3.so.3", "libfuse3.so"):
        try:
            ctypes.CDLL(name)
            return True
        except OSError:
            continue
    return False


def _int_in(name, value, lo, hi, allow_none=False):
    """``value`` as a Python int in [lo, hi] (or None), else InputError naming ``name`` (faultlab.schema)."""
    return Spec("int", low=lo, high=hi, none_ok=allow_none).check(name, value)


def measure(path: str = "fault", delay_ms: int = 300, third_reader=False,
            duration_ms: int | None = None, *, tracepoints="auto",
            warmup_ms: int = 50, tail_ms: int = 50, gap_us: int = 1000,
            timeout_s: float = 10.0, mountpoint: str | None = None,
            heartbeat: bool = False) -> LabResult:
    """Run the experiment once on this machine and return a :class:`LabResult`.

    path         "fault" (ordinary access to the mapping) or "procmem"
                 (pread of that address through /proc/self/mem)
    delay_ms     how long the FUSE server sleeps in the page's read, 1..5000
    third_reader False, True (= "mincore"), "mincore", "madvise" or "procmem":
                 a thread that loops a call taking the mmap lock for reading
    duration_ms  how long the writer (and third reader) loop; default: until
                 ``tail_ms`` after the reader's access
    tracepoints  True (record the kernel's mmap_lock tracepoints or raise),
                 False, or "auto" (record them when tracefs allows it)
    warmup_ms, tail_ms  loop time before / after the slow access (0..10000)
    gap_us       pause between loop iterations (0..100000)
    timeout_s    extra time allowed beyond 2*delay before the lab aborts
    mountpoint   an empty directory for the FUSE mount (default: a temp dir)
    heartbeat    also run a pure-Python counter thread (``result.heartbeat``)

    ``path="fault"`` reads through a guarded load (loops.c, built on first
    use): if the FUSE server dies under the fault, the run ends with a
    LabError instead of the SIGBUS the kernel sends.

    Raises ValueError for bad input, LabUnavailable when this machine cannot
    run it, LabTimeout / LabError when a run fails; nothing stays mounted.
    """
    if path not in PATHS:
        raise ValueError(f"path: must be one of {PATHS}, got {path!r}")
    _int_in("delay_ms", delay_ms, *DELAY_RANGE_MS)
    if third_reader is True:
        third_reader = "mincore"
    elif third_reader is False or third_reader is None:
        third_reader = None
    elif third_reader not in THIRD_READERS:
        raise ValueError(f"third_reader: must be True, False or one of {THIRD_READERS}, "
                         f"got {third_reader!r}")
    _int_in("duration_ms", duration_ms, 1, 60000, allow_none=True)
    _int_in("warmup_ms", warmup_ms, 0, 10000)
    _int_in("tail_ms", tail_ms, 0, 10000)
    _int_in("gap_us", gap_us, 0, 100000)
    if tracepoints not in (True, False, "auto"):
        raise ValueError(f"tracepoints: must be True, False or 'auto', got {tracepoints!r}")
    Spec("real", "s", low=0.0, low_open=True, high=600.0).check("timeout_s", timeout_s)
    if mountpoint is not None:
        slowfs.check_mountpoint(os.fspath(mountpoint))
    ok, reason = available()
    if not ok:
        raise LabUnavailable(reason)
    plan = experiment.Plan(path=path, delay_ms=delay_ms, third=third_reader,
                           duration_ms=duration_ms, warmup_ms=warmup_ms, tail_ms=tail_ms,
                           gap_us=gap_us, timeout_s=float(timeout_s), tracepoints=tracepoints,
                           heartbeat=heartbeat,
                           mountpoint=None if mountpoint is None else os.fspath(mountpoint))
    if not _RUN_LOCK.acquire(timeout=timeout_s):
        raise LabError("measure: another measurement is still running in this process")
    try:
        return experiment.run(plan)
    finally:
        _RUN_LOCK.release()
