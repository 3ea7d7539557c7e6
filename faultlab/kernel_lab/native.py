"""The compiled loops (loops.c): built on first use, cached per user, loaded with ctypes.

Why C: a loop written in Python runs Python code between two system calls,
and a thread waits for the GIL there while its sibling's loop holds it; that
inserts gaps of its own (milliseconds) into exactly the waits the lab
measures.  The loops in ``loops.c`` run whole, inside one ctypes call each,
and ``ctypes.CDLL`` drops the GIL for the length of the call.

Build: ``$CC`` (or ``cc``, ``gcc``) ``-O2 -shared -fPIC -pthread`` into
``$XDG_CACHE_HOME/faultlab`` (``~/.cache/faultlab``; a private directory in
the temp dir if that is not writable), never into the installed package.
The file name carries a hash of the source and the compiler, so an edited
source or another compiler builds afresh.  Without a compiler (or the C
library's headers) :func:`load` raises :class:`LabUnavailable` saying what
to install.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading

from .errors import LabUnavailable

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "loops.c")
ABI = 1
HBUCKETS = 4096
INSTALL_HINT = "install a C compiler and the C library headers (Debian/Ubuntu: apt-get install gcc libc6-dev)"

u64, i32, u32p, u64p = ctypes.c_uint64, ctypes.c_int32, ctypes.POINTER(ctypes.c_uint32), \
    ctypes.POINTER(ctypes.c_uint64)


class Mapper(ctypes.Structure):
    """``struct fl_mapper`` in loops.c, field for field."""
    _fields_ = [("cpu", i32), ("err", i32), ("start_ns", u64), ("end_ns", u64),
                ("long_ns", u64), ("long_cap", u64), ("long_buf", u64p), ("long_n", u64),
                ("loops", u64), ("first_ns", u64), ("last_ns", u64), ("max_ns", u64),
                ("hist", u64 * HBUCKETS)]


class Reader(ctypes.Structure):
    """``struct fl_reader`` in loops.c, field for field."""
    _fields_ = [("cpu", i32), ("memfd", i32), ("start_ns", u64), ("end_ns", u64),
                ("base", ctypes.c_void_p), ("page_size", u64), ("order", u32p),
                ("n_order", u64), ("starts", u64p), ("ends", u64p), ("n", u64),
                ("err", i32), ("sigbus", i32)]


_LOCK = threading.Lock()
_LIB = None


def compiler() -> str | None:
    """The C compiler to use: ``$CC``, else ``cc``, else ``gcc``; None if none."""
    for name in (os.environ.get("CC"), "cc", "gcc"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def cache_dir() -> str:
    """A directory of this user's that can hold the built library."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    for d in (os.path.join(base, "faultlab"),
              os.path.join(tempfile.gettempdir(), f"faultlab-{os.getuid()}")):
        try:
            os.makedirs(d, mode=0o700, exist_ok=True)
            st = os.stat(d)
            if st.st_uid == os.getuid() and os.access(d, os.W_OK):
                return d
        except OSError:
            continue
    raise LabUnavailable("no writable cache directory for the compiled loops "
                         "(set XDG_CACHE_HOME to a writable directory)")


def _version(cc: str) -> str:
    try:
        return subprocess.run([cc, "--version"], capture_output=True, text=True,
                              timeout=20).stdout.splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "?"


def library_path(cc: str) -> str:
    with open(SOURCE, "rb") as f:
        src = f.read()
    h = hashlib.sha256(src + _version(cc).encode() + os.uname().machine.encode()).hexdigest()[:16]
    return os.path.join(cache_dir(), f"kernel_lab_loops-{h}.so")


def build(cc: str | None = None) -> str:
    """Compile loops.c if the cache does not hold this version yet; return the .so path."""
    cc = cc or compiler()
    if cc is None:
        raise LabUnavailable(f"no C compiler found (looked for $CC, cc, gcc): {INSTALL_HINT}")
    out = library_path(cc)
    if os.path.exists(out):
        return out
    tmp = f"{out}.{os.getpid()}.tmp"
    cmd = [cc, "-O2", "-shared", "-fPIC", "-pthread", "-o", tmp, SOURCE]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as e:
        raise LabUnavailable(f"compiling the lab's loops failed ({e}): {INSTALL_HINT}") from None
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["no message"])[-1]
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise LabUnavailable(f"compiling the lab's loops failed ({last}): {INSTALL_HINT}")
    os.replace(tmp, out)
    return out


def load():
    """The loaded library (built first if needed), argument types set."""
    global _LIB
    with _LOCK:
        if _LIB is not None:
            return _LIB
        if not sys.platform.startswith("linux"):
            raise LabUnavailable(f"not Linux (sys.platform={sys.platform!r})")
        lib = ctypes.CDLL(build(), use_errno=True)
        if lib.fl_abi() != ABI:
            raise LabUnavailable("the cached loops library does not match loops.c; "
                                 f"delete {cache_dir()} and retry")
        vp, sz, i, u32 = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_uint32
        sig = {
            "fl_pin": ((i,), i),
            "fl_guard_install": ((), i),
            "fl_guard_remove": ((), i),
            "fl_guarded_read": ((vp, vp, sz), i),
            "fl_mapper": ((ctypes.POINTER(Mapper),), i),
            "fl_reader": ((ctypes.POINTER(Reader),), i),
            "fl_syscall_costs": ((i, u64, u32p, u32p), i),
            "fl_minor_faults": ((i, u64, u32p), i),
            "fl_clock_ns": ((u64,), u64),
            "fl_wakeup": ((i, i, u64, u64, u32p), i),
            "fl_slice": ((i, u64, u64, u64, u32p, u32p, u64p), i),
        }
        for name, (args, res) in sig.items():
            fn = getattr(lib, name)
            fn.argtypes, fn.restype = args, res
        del u32
        _LIB = lib
        return lib


def bucket_bounds(b: int) -> tuple[int, int]:
    """The nanosecond range ``[lo, hi)`` of histogram bucket ``b`` (loops.c hbucket)."""
    if b < 64:
        return b, b + 1
    e, m = b // 64 + 5, b % 64
    lo = (64 + m) << (e - 6)
    return lo, lo + (1 << (e - 6))


def percentiles_us(hist, qs=(50, 90, 99, 99.9)) -> dict:
    """Percentiles of a loops.c histogram, in microseconds (the bucket's lower
    bound: the smallest value such that at least q% of calls took no longer,
    to the histogram's resolution of about 1.5%)."""
    counts = list(hist)
    total = sum(counts)
    out = {}
    if total == 0:
        return {f"p{q:g}": None for q in qs}
    for q in qs:
        need = q / 100.0 * total
        acc = 0
        for b, c in enumerate(counts):
            acc += c
            if c and acc >= need:
                out[f"p{q:g}"] = round(bucket_bounds(b)[0] / 1000.0, 3)
                break
    return out
