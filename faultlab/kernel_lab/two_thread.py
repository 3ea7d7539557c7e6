"""The live two-thread benchmark: Lespinasse's experiment on the running kernel.

The experiment behind commit d065bd810b6d (2.6.37, "mm: retry page fault
when blocking on disk transfer"; cover letter
``<1286265215-9025-1-git-send-email-walken@google.com>``): thread A reads
random pages of a file that is slow to read, thread B loops mmap/munmap.
Here:

``reader``  reads never-read pages of a FUSE file, in random order, one
    byte each, until the time is up; every read of the FUSE server sleeps
    ``disk_ms``.  The mapping has ``MADV_RANDOM`` (mm/filemap.c
    do_sync_mmap_readahead returns before any readahead when VM_RAND_READ
    is set) and the mount has ``max_readahead=0``, so each access brings in
    exactly the page it touched: a real major fault, one FUSE read (the
    server counts them; the result shows reads per access).
    ``path="fault"``: an ordinary load, a user page fault (6.x: under the
    per-VMA lock, which filemap_fault drops before waiting; see
    :mod:`.experiment`).  ``path="procmem"``: a pread of that address
    through /proc/self/mem (mm/memory.c __access_remote_vm holds
    mmap_read_lock across get_user_pages, which may not drop it).
``mapper``  loops mmap + munmap of one anonymous page (both take mmap_lock
    for writing).

``cpus`` places them: ``"split"`` pins reader and mapper to two different
CPUs, ``"same"`` pins both to one CPU, ``"free"`` leaves them to the
scheduler (sched_setaffinity(2) on each thread).

Both loops are C (``loops.c``, see :mod:`.native`): no Python runs between
two system calls of a timed loop.  Before the contended run,
:func:`calibrate` measures every cost the model's twin takes
(:func:`faultlab.kernel_lab.twin.predict_two_thread`, if the installed twin
has it); the twin never sees the contended result.

    from faultlab.kernel_lab import benchmark
    r = benchmark(path="procmem", disk_ms=18, seconds=5, cpus="split")
    r.summary()["mapper_per_s"], r.summary()["twin"]

Command line: ``python -m faultlab.kernel_lab benchmark --path procmem --cpus split``.
"""
from __future__ import annotations

import bisect
import ctypes
import datetime
import os
import random
import re
import statistics
import sys
import threading
import time
import dataclasses
from dataclasses import dataclass, field

from .. import record
from . import native, recorded, tracefs
from .errors import LabError, LabTimeout, LabUnavailable
from .libc import MAP_FAILED, MAP_SHARED, PAGE_SIZE, PROT_READ, Libc, monotonic_ns
from .slowfs import SlowMount

PATHS = ("procmem", "fault")
PLACEMENTS = ("split", "same", "free")
DISK_MS_RANGE = (1, 1000)
SECONDS_RANGE = (0.2, 60.0)
MADV_RANDOM = 1
LONG_CALL_US = 50            # mapper calls at least this long are kept one by one (the plots)
LONG_CALLS_KEPT = 200_000
FORMAT = "faultlab.kernel_lab.two_thread/1"

#: the calibration's keys, in order: the contract with twin.predict_two_thread
CALIBRATION_KEYS = ("disk_ms", "path", "read_us", "reader_relock_us", "reader_alone_per_s",
                    "mapper_alone_per_s", "mmap_us", "munmap_us", "minor_fault_us", "wakeup_us",
                    "wakeup_same_cpu_us", "slice_us", "hz", "ncpus", "clock_ns", "kernel")
#: keys a calibration recorded before they were measured may lack (the twin then says so)
LATER_KEYS = ("reader_relock_us",)


# ---------------------------------------------------------------- input
def _check(path, disk_ms, seconds, cpus):
    if path not in PATHS:
        raise ValueError(f"path: must be one of {PATHS}, got {path!r}")
    lo, hi = DISK_MS_RANGE
    if isinstance(disk_ms, bool) or not isinstance(disk_ms, int) or not lo <= disk_ms <= hi:
        raise ValueError(f"disk_ms: must be an integer from {lo} to {hi}, got {disk_ms!r}")
    lo, hi = SECONDS_RANGE
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) \
            or not lo <= seconds <= hi:
        raise ValueError(f"seconds: must be a number from {lo:g} to {hi:g}, got {seconds!r}")
    if cpus not in PLACEMENTS:
        raise ValueError(f"cpus: must be one of {PLACEMENTS}, got {cpus!r}")


def _placement(cpus: str) -> tuple[int, int]:
    """(reader CPU, mapper CPU); -1 = not pinned."""
    allowed = sorted(os.sched_getaffinity(0))
    if cpus == "free":
        return -1, -1
    if cpus == "same":
        return allowed[0], allowed[0]
    if len(allowed) < 2:
        raise LabUnavailable(f"cpus='split' needs two CPUs; this process may use {len(allowed)}")
    return allowed[0], allowed[1]


# ----------------------------------------------------------- the set-up
class _Rig:
    """The FUSE file, its mapping and /proc/self/mem; ``close()`` undoes all of it."""

    def __init__(self, disk_ms: int, pages: int, path: str, seed: int):
        self.L = Libc.gil_releasing()
        self.lib = native.load()
        self.mount = SlowMount(disk_ms, size=pages * PAGE_SIZE, max_readahead=0)
        self.pages, self.path = pages, path
        self.fd = self.memfd = -1
        self.addr = None
        self.guard = False
        order = list(range(pages))
        random.Random(seed).shuffle(order)
        self.order = order
        self.next = 0

    def open(self) -> None:
        self.mount.start()
        self.fd = os.open(self.mount.file_path, os.O_RDONLY)
        addr = self.L.mmap(None, self.pages * PAGE_SIZE, PROT_READ, MAP_SHARED, self.fd, 0)
        if addr in (None, MAP_FAILED):
            raise LabError(f"mmap of the FUSE file failed: {os.strerror(ctypes.get_errno())}")
        self.addr = addr
        if self.L.madvise(addr, self.pages * PAGE_SIZE, MADV_RANDOM) != 0:
            raise LabError(f"madvise(MADV_RANDOM): {os.strerror(ctypes.get_errno())}")
        if self.path == "procmem":
            try:
                self.memfd = os.open("/proc/self/mem", os.O_RDONLY)
            except OSError as e:
                raise LabUnavailable(f"/proc/self/mem: cannot open ({e.strerror})") from None
        else:
            if self.lib.fl_guard_install() != 0:
                raise LabError("cannot install the SIGBUS guard for the fault path")
            self.guard = True

    def take(self, n: int) -> list[int]:
        """The next ``n`` never-read pages."""
        out = self.order[self.next:self.next + n]
        self.next += len(out)
        return out

    def close(self, stuck: bool = False) -> list[str]:
        problems = []
        self.mount.release()
        if not stuck:
            if self.addr is not None:
                if self.L.munmap(self.addr, self.pages * PAGE_SIZE) != 0:
                    problems.append("munmap of the FUSE file failed")
                self.addr = None
            for key in ("fd", "memfd"):
                fd = getattr(self, key)
                setattr(self, key, -1)
                if fd >= 0:
                    try:
                        os.close(fd)      # Linux frees it even when this says ENOTCONN
                    except OSError:
                        pass
        self.mount.close(lazy_only=stuck and self.path == "fault")
        if self.guard and not stuck:
            self.lib.fl_guard_remove()
            self.guard = False
        if self.mount.leftover:
            problems.append(f"{self.mount.leftover} is still mounted")
        return problems


# ----------------------------------------------------------- one loop, in a thread
class _Loop(threading.Thread):
    """Runs one C loop (``fl_mapper`` or ``fl_reader``) in its own thread."""

    def __init__(self, name, fn, struct):
        super().__init__(name=f"faultlab-{name}", daemon=True)
        self.lane, self.fn, self.struct = name, fn, struct
        self.tid = None
        self.ready, self.go = threading.Event(), threading.Event()
        self.rc = None
        self.error = None

    def run(self):
        self.tid = threading.get_native_id()
        self.ready.set()
        try:
            if self.go.wait(30):
                self.rc = self.fn(ctypes.byref(self.struct))
        except BaseException as e:      # noqa: BLE001 - reported by the caller
            self.error = e


def _mapper_struct(cpu, long_cap=LONG_CALLS_KEPT):
    m = native.Mapper()
    m.cpu = cpu
    m.long_ns = LONG_CALL_US * 1000
    buf = (ctypes.c_uint64 * (3 * long_cap))()
    m.long_buf = ctypes.cast(buf, native.u64p)
    m.long_cap = long_cap
    return m, buf


def _reader_struct(rig, cpu, pages):
    rd = native.Reader()
    rd.cpu = cpu
    rd.memfd = rig.memfd
    rd.base = rig.addr
    rd.page_size = PAGE_SIZE
    order = (ctypes.c_uint32 * len(pages))(*pages)
    starts = (ctypes.c_uint64 * len(pages))()
    ends = (ctypes.c_uint64 * len(pages))()
    rd.order = ctypes.cast(order, native.u32p)
    rd.n_order = len(pages)
    rd.starts = ctypes.cast(starts, native.u64p)
    rd.ends = ctypes.cast(ends, native.u64p)
    return rd, (order, starts, ends)


def _run_loops(loops, seconds, timeout_s, on_ready=None):
    """Start the threads, let them go together for ``seconds``; return (start_ns, end_ns)."""
    for lp in loops:
        lp.start()
    for lp in loops:
        if not lp.ready.wait(5):
            raise LabTimeout(f"thread {lp.lane}: did not start within 5 s")
    if on_ready is not None:
        on_ready({lp.tid: lp.lane for lp in loops})
    start = monotonic_ns() + 20_000_000          # all threads are inside C by then
    end = start + int(seconds * 1e9)
    for lp in loops:
        lp.struct.start_ns, lp.struct.end_ns = start, end
        lp.go.set()
    for lp in loops:
        lp.join(max(0.0, (end - monotonic_ns()) / 1e9) + timeout_s)
        if lp.is_alive():
            raise LabTimeout(f"thread {lp.lane}: still inside its loop {timeout_s:g} s "
                             "after the end; aborted")
    return start, end


def _trace_hook(mode, trace: dict):
    """An ``on_ready`` for :func:`_run_loops` that records the mmap_lock tracepoints of
    the loops' threads into ``trace`` (its ``session``, ``names`` and ``note``).
    ``mode``: True (or raise LabUnavailable), False (nothing) or "auto" (where
    tracefs allows).  The caller stops and closes ``trace["session"]``."""
    def start(names):
        if mode is False:
            return
        s = tracefs.TraceSession(buffer_kb=16384)
        try:
            s.open()
            s.start(sorted(names))
        except OSError as e:
            s.close()
            if mode is True:
                raise LabUnavailable(f"tracepoints: cannot record mmap_lock events ({e})") from None
            trace["note"] = f"tracepoints unavailable: {e}"
            return
        trace["session"], trace["names"] = s, names
        trace["note"] = f"mmap_lock tracepoints recorded via {s.root}"
    return start


def _reader_failed(rig, rd, lane) -> LabError | None:
    if lane.error is not None:
        return LabError(f"reader: {lane.error}")
    if lane.rc == 0:
        return None
    dead = "" if rig.mount.alive() else " (the FUSE helper exited)"
    if rd.sigbus:
        return LabError("reader: the access raised SIGBUS: the FUSE server stopped answering"
                        f"{dead}")
    return LabError(f"reader: {os.strerror(rd.err) if rd.err else 'failed'}{dead}")


# ----------------------------------------------------------- calibration
def _median_us(values) -> float:
    return round(statistics.median(values) / 1000.0, 3)


def _measure_hz(interval_s: float = 0.5) -> int | None:
    """The kernel's tick rate, from ``jiffies`` in /proc/timer_list over an interval."""
    def jiffies():
        try:
            with open("/proc/timer_list") as f:
                for line in f:
                    m = re.match(r"^jiffies:\s*(\d+)", line)
                    if m:
                        return int(m[1])
        except OSError:
            return None
        return None
    j0, t0 = jiffies(), time.monotonic()
    if j0 is None:
        return None
    time.sleep(interval_s)
    j1, t1 = jiffies(), time.monotonic()
    if j1 is None:
        return None
    hz = (j1 - j0) / (t1 - t0)
    for nominal in (100, 250, 300, 1000):        # the values CONFIG_HZ may take
        if abs(hz - nominal) < 0.05 * nominal:
            return nominal
    return round(hz)


def _in_thread(fn, *args):
    """Run a C calibration call in a fresh thread (it pins the thread it runs in)."""
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("rc", fn(*args)), daemon=True)
    t.start()
    t.join(60)
    if t.is_alive() or out.get("rc", -1) < 0:
        raise LabError(f"calibration step {getattr(fn, '__name__', fn)} failed")
    return out["rc"]


def _costs(lib, cpu_a: int, cpu_b: int | None) -> dict:
    n = 20_000
    mm, mu = (ctypes.c_uint32 * n)(), (ctypes.c_uint32 * n)()
    _in_thread(lib.fl_syscall_costs, cpu_a, n, mm, mu)
    minor = (ctypes.c_uint32 * 4096)()
    _in_thread(lib.fl_minor_faults, cpu_a, 4096, minor)
    rounds = 200
    wake = None
    if cpu_b is not None:
        lat = (ctypes.c_uint32 * rounds)()
        _in_thread(lib.fl_wakeup, cpu_a, cpu_b, rounds, 200_000, lat)
        wake = _median_us(lat)
    lat_same = (ctypes.c_uint32 * rounds)()
    _in_thread(lib.fl_wakeup, cpu_a, cpu_a, rounds, 200_000, lat_same)
    cap = 4096
    ra, rb, counts = (ctypes.c_uint32 * cap)(), (ctypes.c_uint32 * cap)(), (ctypes.c_uint64 * 2)()
    _in_thread(lib.fl_slice, cpu_a, 1_000_000_000, 50_000, cap, ra, rb, counts)
    runs = list(ra[1:counts[0]]) + list(rb[1:counts[1]])    # the first began at thread start
    return {"mmap_us": _median_us(mm), "munmap_us": _median_us(mu),
            "minor_fault_us": _median_us(minor), "wakeup_us": wake,
            "wakeup_same_cpu_us": _median_us(lat_same),
            "slice_us": _median_us(runs) if runs else None,
            "clock_ns": int(lib.fl_clock_ns(100_000))}


def _alone(rig, path_cpu: int, mapper_cpu: int, seconds: float, timeout_s: float) -> dict:
    """The mapper alone, then the reader alone, each for ``seconds``; on the procmem
    path the reader's run records its mmap_lock tracepoints where tracefs allows (its
    relock gap)."""
    m, keep = _mapper_struct(mapper_cpu, long_cap=1)
    _run_loops([_Loop("mapper", rig.lib.fl_mapper, m)], seconds, timeout_s)
    if m.err:
        raise LabError(f"mapper: {os.strerror(m.err)}")
    pages = rig.take(int(seconds * 1000 / rig.mount.delay_ms) + 16)
    rd, keep2 = _reader_struct(rig, path_cpu, pages)
    lane = _Loop("reader", rig.lib.fl_reader, rd)
    trace = {"session": None, "records": []}
    mode = "auto" if rig.path == "procmem" else False    # the fault path's gap spans a read
    try:
        start, _ = _run_loops([lane], seconds, timeout_s + 2 * rig.mount.delay_ms / 1000,
                              on_ready=_trace_hook(mode, trace))
        if trace["session"] is not None:
            trace["records"] = trace["session"].stop()
    finally:
        if trace["session"] is not None:
            trace["session"].close()
    err = _reader_failed(rig, rd, lane)
    if err:
        raise err
    del keep, keep2
    n = rd.n
    durs = [rd.ends[i] - rd.starts[i] for i in range(n)]
    span = (rd.ends[n - 1] - rd.start_ns) / 1e9 if n else 0.0
    gaps = record.relock_gaps_us(tracefs.to_events(trace["records"], trace.get("names", {}), start),
                                 "reader")
    return {"mapper_alone_per_s": round(m.loops / max((m.last_ns - m.first_ns) / 1e9, 1e-9), 1),
            "reader_alone_per_s": round(n / span, 2) if span > 0 else None,
            "read_us": _median_us(durs) if durs else None,
            "reader_relock_us": round(statistics.median(gaps), 3) if gaps else None}


def calibrate(path: str = "procmem", disk_ms: int = 18, seconds: float = 1.0, *,
              cpus: str = "split", _rig=None) -> dict:
    """Measure on this machine every cost the twin of :func:`benchmark` needs.

    Nothing here runs two loops against each other: each number comes from
    one thing running alone.  The dict has exactly :data:`CALIBRATION_KEYS`
    (the contract with :func:`faultlab.kernel_lab.twin.predict_two_thread`;
    times are medians, in microseconds unless the name says otherwise, each
    including one clock read of ``clock_ns``):

    disk_ms             the FUSE server's sleep per read (as asked, ms)
    path                the reader's path the reader numbers were measured on
    read_us             one reader access alone, from the call to its return:
                        disk_ms plus the FUSE round trip and the fault
    reader_relock_us    path "procmem": the reader alone, from its mmap_lock
                        ``released`` to its next ``start_locking`` (the kernel's
                        tracepoints; None where tracefs cannot be used): the rest
                        of one access after the lock and the next access's way in
                        to it.  None on the fault path, whose reader takes
                        mmap_lock only after its read (the retry), so its gap
                        spans a whole read and decides no race
    reader_alone_per_s  the reader loop alone (no mapper), accesses per second
    mapper_alone_per_s  the mapper loop alone, mmap + munmap pairs per second
    mmap_us, munmap_us  one mmap / munmap of an anonymous page, alone
    minor_fault_us      the first write to a fresh anonymous page (do_anonymous_page)
    wakeup_us           futex_wake to the woken thread running, on another,
                        idle CPU (None with one CPU)
    wakeup_same_cpu_us  the same when the sleeper shares the waker's CPU and the
                        waker keeps running (wake-up preemption)
    slice_us            how long a CPU-bound thread runs before the scheduler
                        switches to another CPU-bound thread on its CPU
    hz                  the scheduler tick rate, from jiffies over 0.5 s
                        (/proc/timer_list; None where it cannot be read)
    ncpus               CPUs this process may run on
    clock_ns            one CLOCK_MONOTONIC read (inside every timed call)
    kernel              uname release

    ``seconds``: how long each loop runs alone (0.2..60).  ``cpus``: the
    placement whose CPUs the alone runs use (the reader on the reader's CPU,
    the mapper on the mapper's).  Raises as :func:`benchmark` does.
    """
    _check(path, disk_ms, seconds, cpus)
    cpu_r, cpu_m = _placement(cpus)
    allowed = sorted(os.sched_getaffinity(0))
    own = _rig is None
    rig = _rig or _Rig(disk_ms, _pages_needed(disk_ms, seconds), path, seed=0)
    try:
        if own:
            _available()
            rig.open()
        lib = rig.lib
        c = _costs(lib, allowed[0], allowed[1] if len(allowed) > 1 else None)
        alone = _alone(rig, cpu_r, cpu_m, seconds, timeout_s=10.0)
        cal = {"disk_ms": disk_ms, "path": path, **alone, **c,
               "hz": _measure_hz(), "ncpus": len(allowed), "kernel": os.uname().release}
    finally:
        if own:
            problems = rig.close()
            if problems and sys.exc_info()[0] is None:
                raise LabError("cleanup: " + "; ".join(problems))
    return {k: cal[k] for k in CALIBRATION_KEYS}


def _pages_needed(disk_ms: int, seconds: float) -> int:
    return int(seconds * 1000 / disk_ms * 1.5) + 64


def _available():
    from . import available        # the package imports this module: a cycle otherwise

    ok, why = available()
    if not ok:
        raise LabUnavailable(why)


# ----------------------------------------------------------- the benchmark
def benchmark(path: str = "procmem", disk_ms: int = 18, seconds: float = 5, cpus: str = "split",
              *, calibration: dict | bool = True, calibration_s: float | None = None,
              tracepoints: bool | str = False, seed: int = 0,
              timeout_s: float = 10.0) -> "BenchResult":
    """Run the two-thread benchmark once on this kernel; return a :class:`BenchResult`.

    path         "procmem" (pread through /proc/self/mem) or "fault" (an ordinary load)
    disk_ms      the FUSE server's sleep per read, 1..1000
    seconds      how long the two loops run together, 0.2..60
    cpus         "split" (two CPUs), "same" (one CPU) or "free" (unpinned)
    calibration  True: measure it first (:func:`calibrate`, each loop alone for
                 ``calibration_s``, default min(seconds, 1)); a dict: use that
                 one (from an earlier :func:`calibrate`); False: none (no twin)
    tracepoints  record the kernel's mmap_lock tracepoints for the two threads:
                 True (or raise), False, or "auto" (when tracefs allows)
    seed         the order in which the reader visits the file's pages

    Raises ValueError for bad input (naming the argument), LabUnavailable
    when this machine cannot run it (what to install), LabError / LabTimeout
    when a run fails; nothing stays mounted either way.
    """
    _check(path, disk_ms, seconds, cpus)
    if tracepoints not in (True, False, "auto"):
        raise ValueError(f"tracepoints: must be True, False or 'auto', got {tracepoints!r}")
    if calibration_s is None:
        calibration_s = min(float(seconds), 1.0)
    lo, hi = SECONDS_RANGE
    if isinstance(calibration_s, bool) or not isinstance(calibration_s, (int, float)) \
            or not lo <= calibration_s <= hi:
        raise ValueError(f"calibration_s: must be a number from {lo:g} to {hi:g}, "
                         f"got {calibration_s!r}")
    if isinstance(calibration, dict):
        missing = [k for k in CALIBRATION_KEYS if k not in calibration and k not in LATER_KEYS]
        if missing:
            raise ValueError(f"calibration: missing keys {missing}; pass calibrate()'s result, "
                             "True or False")
    elif calibration not in (True, False):
        raise ValueError(f"calibration: must be True, False or a dict from calibrate(), "
                         f"got {calibration!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed: must be an integer, got {seed!r}")
    native.load()
    _available()
    cpu_r, cpu_m = _placement(cpus)
    cal_s = calibration_s if calibration is True else 0.0
    rig = _Rig(disk_ms, _pages_needed(disk_ms, seconds + cal_s), path, seed)
    trace = {"session": None, "note": "tracepoints not requested", "records": []}
    stuck = False
    try:
        rig.open()
        if calibration is True:
            cal = calibrate(path, disk_ms, calibration_s, cpus=cpus, _rig=rig)
        else:
            cal = dict(calibration) if calibration else None
        m, keep_m = _mapper_struct(cpu_m)
        pages = rig.take(int(seconds * 1000 / disk_ms * 1.5) + 32)
        rd, keep_r = _reader_struct(rig, cpu_r, pages)
        reader, mapper = _Loop("reader", rig.lib.fl_reader, rd), _Loop("mapper", rig.lib.fl_mapper, m)

        start_trace = _trace_hook(tracepoints, trace)

        try:
            start, end = _run_loops([reader, mapper], seconds, timeout_s + 2 * disk_ms / 1000,
                                    on_ready=start_trace)
        except LabTimeout:
            stuck = True
            raise
        err = _reader_failed(rig, rd, reader)
        if err:
            raise err
        if mapper.error is not None or mapper.rc != 0:
            raise LabError(f"mapper: {mapper.error or os.strerror(m.err)}")
        if trace["session"] is not None:
            trace["records"] = trace["session"].stop()
        reads = rig.mount.reads()
        n = rd.n
        starts, ends = list(rd.starts[:n]), list(rd.ends[:n])
        long_calls = [tuple(keep_m[3 * i:3 * i + 3]) for i in range(m.long_n)]
        del keep_r
    finally:
        if trace["session"] is not None:
            trace["session"].close()
        problems = rig.close(stuck=stuck)
        if problems and sys.exc_info()[0] is None:
            raise LabError("cleanup: " + "; ".join(problems))

    us = lambda ns: (ns - start) / 1000.0       # noqa: E731
    kinds = ("mmap", "munmap")
    lock_events = tracefs.to_events(trace["records"], trace.get("names", {}), start)
    return BenchResult(
        path=path, cpus=cpus, disk_ms=disk_ms, seconds=float(seconds),
        kernel=os.uname().release,
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        params={"seed": seed, "reader_cpu": cpu_r, "mapper_cpu": cpu_m,
                "calibration_s": cal_s, "page_size": PAGE_SIZE,
                "long_call_us": LONG_CALL_US, "machine": os.uname().machine,
                "loadavg_1min": round(os.getloadavg()[0], 2),
                "python": sys.version.split()[0]},
        calibration=cal,
        reader_ops=[(us(a), us(b)) for a, b in zip(starts, ends)],
        mapper_loops=int(m.loops), mapper_span_us=(m.last_ns - m.first_ns) / 1000.0,
        mapper_max_us=m.max_ns / 1000.0, mapper_hist=_sparse(m.hist),
        mapper_long=[(us(a), us(b), kinds[k]) for a, b, k in long_calls],
        fuse_reads=[(us(a), us(b), off, ln) for a, b, off, ln in reads if a >= start],
        lock_events=lock_events, tracepoints=bool(trace["records"]),
        tracepoint_note=trace["note"], end_us=us(max([end] + ends)))


def _sparse(hist) -> dict:
    return {i: int(c) for i, c in enumerate(hist) if c}


# ----------------------------------------------------------- the result
@dataclass
class BenchResult:
    """One run of :func:`benchmark`, in the model's record format.

    ``events`` are ``(t_us, task, event, details)`` tuples like
    ``faultlab.record``'s, t_us from the moment both loops were let go:
    ``op_start``/``op_end`` for every reader access (``kind="access"``) and
    for every mapper call that took at least ``LONG_CALL_US`` (the short ones
    are counted in the histogram only: at hundreds of thousands per second
    they would not fit), ``io_wait_start``/``io_wait_end`` while the FUSE
    server held a read of the reader's, and the kernel's lock events when
    the tracepoints were recorded.
    """

    path: str
    cpus: str
    disk_ms: int
    seconds: float
    kernel: str
    date: str
    params: dict
    calibration: dict | None
    reader_ops: list               # (start_us, end_us) per access
    mapper_loops: int
    mapper_span_us: float
    mapper_max_us: float
    mapper_hist: dict              # loops.c histogram bucket -> calls
    mapper_long: list              # (start_us, end_us, kind) of the long calls
    fuse_reads: list               # (start_us, end_us, offset, length) per FUSE read
    lock_events: list = field(default_factory=list)
    tracepoints: bool = False
    tracepoint_note: str = ""
    end_us: float = 0.0
    threads: tuple = ("reader", "mapper")
    _prediction: dict | None = field(default=None, init=False, repr=False, compare=False)
    _first: dict | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def until_us(self) -> float:
        return self.end_us

    @property
    def events(self) -> list:
        ev = []
        held = self.path == "procmem"
        reads = sorted(self.fuse_reads)
        j = 0
        for a, b in self.reader_ops:
            ev.append((a, "reader", "op_start", (("kind", "access"),)))
            while j < len(reads) and reads[j][0] < a:
                j += 1
            if j < len(reads) and reads[j][0] <= b:
                ra, rb = reads[j][0], min(reads[j][1], b)
                ev.append((ra, "reader", "io_wait_start",
                           (("page", reads[j][2] // PAGE_SIZE), ("mmap_sem", held))))
                ev.append((rb, "reader", "io_wait_end", (("page", reads[j][2] // PAGE_SIZE),)))
            ev.append((b, "reader", "op_end", (("kind", "access"),)))
        for a, b, kind in self.mapper_long:
            ev.append((a, "mapper", "op_start", (("kind", kind),)))
            ev.append((b, "mapper", "op_end", (("kind", kind),)))
        ev.extend(self.lock_events)
        ev.sort(key=lambda e: e[0])
        return ev

    def reads_per_access(self) -> float | None:
        """FUSE reads that began inside a reader access, per access."""
        if not self.reader_ops:
            return None
        ops = sorted(self.reader_ops)
        starts = [a for a, _ in ops]
        inside = 0
        for r in self.fuse_reads:
            i = bisect.bisect_right(starts, r[0]) - 1
            if i >= 0 and r[0] <= ops[i][1]:
                inside += 1
        return round(inside / len(ops), 3)

    def relock_gaps_us(self) -> list:
        """From the tracepoints: for each reader ``released``, the time to its next
        ``start_locking`` (how soon the reader asks for mmap_lock again)."""
        return record.relock_gaps_us(self.lock_events, "reader")

    def reader_rate(self) -> float:
        """Reader accesses per second, from the start to the end of its last access."""
        span_s = self.reader_ops[-1][1] / 1e6 if self.reader_ops else 0.0
        return len(self.reader_ops) / span_s if span_s else 0.0

    def mapper_rate(self) -> float:
        """mmap + munmap pairs per second over the mapper's loop."""
        return self.mapper_loops / (self.mapper_span_us / 1e6) if self.mapper_span_us else 0.0

    def summary(self) -> dict:
        n = len(self.reader_ops)
        cal = self.calibration or {}
        out = {
            "path": self.path, "cpus": self.cpus, "disk_ms": self.disk_ms,
            "seconds": self.seconds, "kernel": self.kernel, "date": self.date,
            "reader_per_s": round(self.reader_rate(), 2),
            "reader_alone_per_s": cal.get("reader_alone_per_s"),
            "mapper_per_s": round(self.mapper_rate(), 1),
            "mapper_alone_per_s": cal.get("mapper_alone_per_s"),
            "mapper_max_ms": round(self.mapper_max_us / 1000.0, 3),
            "mapper_latency_us": native.percentiles_us(self._hist_list()),
            "mapper_loops": self.mapper_loops,
            "reader_accesses": n,
            "read_ms_median": round(statistics.median(b - a for a, b in self.reader_ops) / 1000.0, 3)
                              if n else None,
            "fuse_reads": len(self.fuse_reads),
            "reads_per_access": self.reads_per_access(),
            "tracepoints": self.tracepoints,
            "calibration": self.calibration,
        }
        gaps = self.relock_gaps_us()
        if gaps:
            out["reader_relock_us_median"] = round(statistics.median(gaps), 1)
        out["twin"] = self.twin()
        return out

    def _hist_list(self) -> list:
        h = [0] * native.HBUCKETS
        for k, v in self.mapper_hist.items():
            h[int(k)] = v
        return h

    def prediction(self) -> dict | None:
        """:func:`.twin.predict_two_thread` of this run's calibration (None without a
        calibration, or a twin that has none); a model run, made once per result, since
        ``summary()``, its readers and :func:`.twin.relock_race` all ask for it."""
        if not self.calibration:
            return None
        if self._prediction is None:
            try:
                from .twin import predict_two_thread
            except (ImportError, AttributeError):
                return None
            self._prediction = predict_two_thread(dict(self.calibration), self.path, self.cpus)
        return self._prediction

    def first_prediction(self) -> dict | None:
        """The first twin's prediction (:func:`prediction` of this calibration without the
        keys it did not have, :data:`LATER_KEYS`: no relock gap) for a ``procmem`` run
        whose calibration has a relock gap; None otherwise (a ``fault`` reader holds no
        mmap_lock across its read, so the gap decides no race there)."""
        if self.path != "procmem" or not (self.calibration or {}).get("reader_relock_us") \
                or self.prediction() is None:
            return None
        if self._first is None:
            from .twin import predict_two_thread
            cal = {k: v for k, v in self.calibration.items() if k not in LATER_KEYS}
            self._first = predict_two_thread(cal, self.path, self.cpus)
        return self._first

    def twin(self) -> dict:
        """The twin's prediction beside the measurement: ``mapper_per_s``,
        ``reader_per_s`` (predicted), ``mapper_ratio``, ``reader_ratio``
        (predicted / measured), ``relock_gap`` ("alone": the calibration measured
        the reader's relock gap; "absent": a procmem calibration without it, so this
        is the first twin; "not used": a fault run, whose twin needs none)
        and, for a ``procmem`` run with the gap, the first twin's ``first_mapper_per_s``
        and ``first_mapper_ratio``; ``{"absent": why}`` when there is none."""
        if not self.calibration:
            return {"absent": "no calibration was measured for this run"}
        pred = self.prediction()
        if pred is None:
            return {"absent": "the model's twin has no predict_two_thread() in this version"}
        mapper, reader = self.mapper_rate(), self.reader_rate()
        ratio = lambda p, m: round(p / m, 3) if m else None     # noqa: E731
        out = {"mapper_per_s": pred["mapper_per_s"], "reader_per_s": pred["reader_per_s"],
               "mapper_ratio": ratio(pred["mapper_per_s"], mapper),
               "reader_ratio": ratio(pred["reader_per_s"], reader),
               "relock_gap": ("alone" if self.calibration.get("reader_relock_us")
                              else "absent" if self.path == "procmem" else "not used")}
        first = self.first_prediction()
        if first is not None:
            out["first_mapper_per_s"] = first["mapper_per_s"]
            out["first_mapper_ratio"] = ratio(first["mapper_per_s"], mapper)
        return out

    # -------------------------------------------------------------- JSON
    def to_dict(self) -> dict:
        r3 = lambda x: round(x, 3)      # noqa: E731
        return {"format": FORMAT, "path": self.path, "cpus": self.cpus, "disk_ms": self.disk_ms,
                "seconds": self.seconds, "kernel": self.kernel, "date": self.date,
                "params": self.params, "calibration": self.calibration,
                "reader_ops": [[r3(a), r3(b)] for a, b in self.reader_ops],
                "mapper_loops": self.mapper_loops, "mapper_span_us": r3(self.mapper_span_us),
                "mapper_max_us": r3(self.mapper_max_us),
                "mapper_hist": {str(k): v for k, v in self.mapper_hist.items()},
                "mapper_long": [[r3(a), r3(b), k] for a, b, k in self.mapper_long],
                "fuse_reads": [[r3(a), r3(b), o, n] for a, b, o, n in self.fuse_reads],
                "lock_events": [[r3(t), task, ev, dict(d).get("write"), dict(d).get("success")]
                                for t, task, ev, d in self.lock_events],
                "tracepoints": self.tracepoints, "tracepoint_note": self.tracepoint_note,
                "end_us": r3(self.end_us)}

    @classmethod
    def from_dict(cls, d: dict) -> "BenchResult":
        if d.get("format") != FORMAT:
            raise ValueError(f"format: expected {FORMAT!r}, got {d.get('format')!r}")
        locks = []
        for t, task, ev, write, success in d.get("lock_events", []):
            det = (("write", write),) if success is None else (("write", write), ("success", success))
            locks.append((float(t), task, ev, det))
        return cls(path=d["path"], cpus=d["cpus"], disk_ms=d["disk_ms"], seconds=d["seconds"],
                   kernel=d["kernel"], date=d["date"], params=d["params"],
                   calibration=d["calibration"],
                   reader_ops=[tuple(x) for x in d["reader_ops"]],
                   mapper_loops=d["mapper_loops"], mapper_span_us=d["mapper_span_us"],
                   mapper_max_us=d["mapper_max_us"],
                   mapper_hist={int(k): v for k, v in d["mapper_hist"].items()},
                   mapper_long=[tuple(x) for x in d["mapper_long"]],
                   fuse_reads=[tuple(x) for x in d["fuse_reads"]],
                   lock_events=locks, tracepoints=d.get("tracepoints", False),
                   tracepoint_note=d.get("tracepoint_note", ""), end_us=d.get("end_us", 0.0))


# ----------------------------------------------------------- recorded runs
RECORD_NAME = "kernel_lab_two_thread.json"
RECORDED_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                             "data", RECORD_NAME)


def record_runs(runs, path_out=None, lock_events_ms: float | None = None) -> dict:
    """Write benchmark results to ``path_out`` (JSON; default ``kernel_lab_two_thread.json``
    in the current directory); returns the document written.

    ``lock_events_ms`` keeps only the tracepoint events of each run's first that many
    milliseconds (a mapper looping freely makes hundreds of thousands a second); the
    summaries are unaffected except ``reader_relock_us_median``, then taken from that window."""
    runs = list(runs)
    if lock_events_ms is not None:
        runs = [dataclasses.replace(r, lock_events=[e for e in r.lock_events
                                                    if e[0] <= lock_events_ms * 1000.0])
                for r in runs]
    out = recorded.out_path(path_out, RECORD_NAME)
    doc = {"format": FORMAT,
           "what": "faultlab kernel lab: the two-thread benchmark (a reader of a FUSE file whose "
                   "reads sleep disk_ms, beside an mmap/munmap loop; loops in C)",
           "kernel": os.uname().release, "machine": os.uname().machine,
           "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "lock_events_ms": lock_events_ms,
           "runs": [r.to_dict() for r in runs]}
    return recorded.write_doc(out, doc)


def load_recorded_runs(path=None) -> dict:
    """Recorded benchmark runs: ``{(path, cpus): BenchResult}`` (default: the run shipped
    in faultlab/data/, made on the machine and kernel its runs name)."""
    doc = recorded.read_doc(path, RECORDED_PATH, FORMAT, "a two-thread benchmark recording")
    return {(d["path"], d["cpus"]): BenchResult.from_dict(d) for d in doc["runs"]}
