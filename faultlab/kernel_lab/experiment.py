"""The live experiment: one slow page, one writer, maybe one more reader.

Threads (lanes, in this order):

``reader`` (A)  after ``warmup_ms`` touches the slow page once, either
    ``path="fault"``: memcpy from the file mapping, an ordinary user fault.
        On Linux 6.x the fault runs under the per-VMA lock (mm/memory.c
        lock_vma_under_rcu, commit 50ee32537206, 6.4; file faults under it
        since 6.7) and mm/filemap.c filemap_fault(), finding the folio
        locked for I/O, calls lock_folio_maybe_drop_mmap(), which lets go of
        the lock before sleeping and returns VM_FAULT_RETRY (the retry idea
        is from 2.6.37, commit d065bd810b6d).  The mmap lock is never held
        across the read; only the retry after it takes the mmap lock for
        reading for a few microseconds (arch/x86/mm/fault.c
        do_user_addr_fault falls back to lock_mm_and_find_vma when a fault
        under the VMA lock returns VM_FAULT_RETRY); the tracepoints show it.
    ``path="procmem"``: pread on /proc/self/mem at the page's address.
        fs/proc/base.c mem_rw() -> mm/memory.c access_remote_vm() ->
        __access_remote_vm() takes mmap_read_lock_killable() and calls
        get_user_page_vma_remote() -> get_user_pages_remote() with no
        ``locked`` pointer, so mm/gup.c is_valid_gup_args() never sets
        FOLL_UNLOCKABLE (commit f04740f54594, 6.3) and the fault is not allowed to retry: the
        thread sleeps on the page's read holding the mmap lock for reading.
    then reads the page a few more times (``warm_access``, no I/O).
``mapper`` (B)  loops mmap + munmap of one anonymous page: the writer.
``reader3`` (C) (``third_reader``) loops a call that takes the mmap lock for
    reading: mincore (mm/mincore.c), madvise(MADV_WILLNEED) (mm/madvise.c),
    or a pread of a resident page through /proc/self/mem.

Why C queues although A only holds the lock for reading: a writer is
waiting, so the rwsem's WAITERS bit is set and a new reader fails the fast
path (RWSEM_READ_FAILED_MASK in kernel/locking/rwsem.c); in
rwsem_down_read_slowpath() a reader does not steal a lock that is owned by
readers (commit 2f06f702925b, "locking/rwsem: Prevent potential lock
starvation", 5.11), so it queues behind the writer, who waits for A's I/O.

Every blocking call goes through :class:`~.libc.Libc` (ctypes CDLL, GIL
released) and is timed with CLOCK_MONOTONIC on both sides.
"""
from __future__ import annotations

import bisect
import contextlib
import ctypes
import datetime
import os
import resource
import signal
import sys
import threading
import time
from dataclasses import dataclass

from . import native, tracefs
from .errors import LabError, LabTimeout, LabUnavailable
from .libc import (MADV_WILLNEED, MAP_ANONYMOUS, MAP_FAILED, MAP_PRIVATE, PAGE_SIZE,
                   PROT_READ, PROT_WRITE, Libc, monotonic_ns)
from .result import LabResult
from .slowfs import SlowMount, page_bytes

THIRD_KINDS = ("mincore", "madvise", "procmem")
INJECT = ("raise_after_mount", "kill_helper_during_access", "stop_helper_during_access",
          "interrupt_during_access")
START_TIMEOUT_S = 5.0
JOIN_TIMEOUT_S = 5.0
NBYTES = 64
WARM_ACCESSES = 5


@dataclass
class Plan:
    path: str
    delay_ms: int
    third: str | None = None
    duration_ms: int | None = None
    warmup_ms: int = 50
    tail_ms: int = 50
    gap_us: int = 1000
    timeout_s: float = 10.0
    tracepoints: bool | str = "auto"
    heartbeat: bool = False
    mountpoint: str | None = None


# -- the test seam -------------------------------------------------------------------
# Tests make a run fail on purpose, or swap the libc, through this context
# manager; measure()'s signature knows nothing about it.
_SEAM = {"inject": None, "libc": None}


@contextlib.contextmanager
def injected(inject: str | None = None, libc: Libc | None = None):
    """For tests: runs inside the ``with`` get ``inject`` (one of :data:`INJECT`)
    and use ``libc`` instead of :meth:`Libc.gil_releasing`."""
    if inject is not None and inject not in INJECT:
        raise ValueError(f"inject: must be one of {INJECT}, got {inject!r}")
    old = dict(_SEAM)
    _SEAM.update(inject=inject, libc=libc)
    try:
        yield
    finally:
        _SEAM.update(old)


class _Lane(threading.Thread):
    def __init__(self, lane: str, body, go: threading.Event, abort: threading.Event):
        super().__init__(name=f"faultlab-{lane}", daemon=True)
        self.lane, self.body, self.go, self.abort = lane, body, go, abort
        self.tid: int | None = None
        self.ready = threading.Event()
        self.done = threading.Event()
        self.ops: list = []
        self.error: BaseException | None = None

    def run(self) -> None:
        self.tid = threading.get_native_id()
        self.ready.set()
        try:
            if self.go.wait(START_TIMEOUT_S * 2) and not self.abort.is_set():
                self.body(self)
        except BaseException as e:          # reported by the main thread
            self.error = e
        finally:
            self.done.set()


def _oserror(what: str) -> OSError:
    err = ctypes.get_errno()
    return OSError(err, f"{what}: {os.strerror(err)}")


class _Run:
    """One measurement, step by step; :meth:`cleanup` undoes whatever was done."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.inject = _SEAM["inject"]
        self.L = _SEAM["libc"] or Libc.gil_releasing()
        self.loops = native.load() if plan.path == "fault" else None
        self.go, self.abort, self.stop, self.accessing = (threading.Event() for _ in range(4))
        self.mount = SlowMount(plan.delay_ms, plan.mountpoint)
        self.st = {"fd": -1, "memfd": -1, "addr": None, "anon": None, "trace": None,
                   "guard": False}
        self.lanes: list[_Lane] = []
        self.names: dict = {}
        self.beats: list[int] = []
        self.reader_info: dict = {}
        self.old_switch = sys.getswitchinterval()
        self.note = ""
        self.records: list = []
        self.reads: list = []
        self.t0_ns = 0

    # 1. the slow file, mapped; the page checked not to be in memory
    def mount_and_map(self) -> None:
        self.mount.start()
        if self.inject == "raise_after_mount":
            raise LabError("injected failure after mount")
        st, L = self.st, self.L
        st["fd"] = os.open(self.mount.file_path, os.O_RDONLY)
        st["addr"] = L.map_file(st["fd"], PAGE_SIZE)
        self.resident_before = L.resident(st["addr"])[0]
        if self.resident_before:
            raise LabError("slow page: already resident before the access, "
                           "so it would not be a major fault")
        try:
            st["memfd"] = os.open("/proc/self/mem", os.O_RDONLY)
        except OSError as e:
            raise LabUnavailable(f"/proc/self/mem: cannot open ({e.strerror})") from None
        st["anon"] = L.map_anon(PAGE_SIZE, touch=True)
        if self.loops is not None:
            # an ordinary fault on a file whose server died raises SIGBUS: the
            # guard (loops.c) turns it into an error return for the reader
            if self.loops.fl_guard_install() != 0:
                raise LabError("cannot install the SIGBUS guard for the fault path")
            st["guard"] = True

    # 2. the threads' bodies
    def make_lanes(self) -> None:
        plan, L, st, now = self.plan, self.L, self.st, monotonic_ns
        addr, memfd, anon = st["addr"], st["memfd"], st["anon"]
        buf = (ctypes.c_char * NBYTES)()
        buf3 = (ctypes.c_char * 8)()
        vec = (ctypes.c_ubyte * 1)()
        info, stop, abort, accessing = self.reader_info, self.stop, self.abort, self.accessing

        if plan.path == "fault":
            guarded = self.loops.fl_guarded_read

            def access():
                if guarded(addr, buf, NBYTES) != 0:
                    raise LabError("the access raised SIGBUS: the FUSE server stopped answering")
                return NBYTES
        else:
            def access():
                return L.pread(memfd, buf, NBYTES, addr)

        def reader(lane):
            if abort.wait(plan.warmup_ms / 1000.0):
                return
            ru0 = resource.getrusage(resource.RUSAGE_THREAD).ru_majflt
            accessing.set()
            t0 = now(); r = access(); t1 = now()
            err = ctypes.get_errno()
            info["major"] = resource.getrusage(resource.RUSAGE_THREAD).ru_majflt - ru0
            lane.ops.append(("slow_access", t0, t1))
            if r != NBYTES:
                raise OSError(err, f"reading /proc/self/mem at {addr:#x}: {os.strerror(err)}")
            info["data"] = bytes(buf)
            for _ in range(WARM_ACCESSES):      # the page is resident now: no I/O
                t0 = now(); access(); t1 = now()
                lane.ops.append(("warm_access", t0, t1))

        def mapper(lane):
            mm, mu, ops, gap = L.mmap, L.munmap, lane.ops, plan.gap_us / 1e6
            args = (None, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            while not stop.is_set():
                t0 = now(); p = mm(*args); t1 = now()
                ops.append(("mmap", t0, t1))
                if p is None or p == MAP_FAILED:
                    raise _oserror("mapper mmap")
                t0 = now(); r = mu(p, PAGE_SIZE); t1 = now()
                ops.append(("munmap", t0, t1))
                if r != 0:
                    raise _oserror("mapper munmap")
                if gap:
                    time.sleep(gap)

        def reader3(lane):
            kind, ops, gap = plan.third, lane.ops, plan.gap_us / 1e6
            call = {"mincore": lambda: L.mincore(anon, PAGE_SIZE, vec),
                    "madvise": lambda: L.madvise(anon, PAGE_SIZE, MADV_WILLNEED),
                    "procmem": lambda: L.pread(memfd, buf3, 8, anon) - 8}[kind]
            while not stop.is_set():
                t0 = now(); r = call(); t1 = now()
                ops.append((kind, t0, t1))
                if r != 0:
                    raise _oserror(f"reader3 {kind}")
                if gap:
                    time.sleep(gap)

        self.lanes = [_Lane("reader", reader, self.go, abort),
                      _Lane("mapper", mapper, self.go, abort)]
        if plan.third:
            self.lanes.append(_Lane("reader3", reader3, self.go, abort))

    # 3. threads started and named; tracing on; the heartbeat
    def start_threads(self) -> None:
        for lane in self.lanes:
            lane.start()
        for lane in self.lanes:
            if not lane.ready.wait(START_TIMEOUT_S):
                raise LabTimeout(f"thread {lane.lane}: did not start within {START_TIMEOUT_S} s")
        self.names = {lane.tid: lane.lane for lane in self.lanes}
        self.note = _start_trace(self.plan, self.st, self.names)
        if self.plan.heartbeat:
            threading.Thread(target=self._beat, name="faultlab-heartbeat", daemon=True).start()

    def _beat(self) -> None:
        """A pure-Python counter: its ticks show whether Python threads ran meanwhile."""
        if not self.go.wait(START_TIMEOUT_S * 2):
            return
        n, now = 0, monotonic_ns
        while not self.stop.is_set():
            n += 1
            if not n & 0xFF:
                self.beats.append(now())

    # 4. go; the injected failure, if a test asked for one
    def let_go(self) -> None:
        sys.setswitchinterval(0.0005)
        self.t0_ns = monotonic_ns()
        self.go.set()
        if self.inject in INJECT[1:]:
            self.accessing.wait(self._access_timeout())
            time.sleep(self.plan.delay_ms / 3000.0)
            if self.inject == "interrupt_during_access":
                raise KeyboardInterrupt
            if self.inject == "stop_helper_during_access":
                self.mount.stop_helper()
            else:
                self.mount.kill_helper()

    def _access_timeout(self) -> float:
        p = self.plan
        return p.warmup_ms / 1000 + 2 * p.delay_ms / 1000 + p.timeout_s

    # 5. the reader's slow access ends (or the run fails)
    def wait_for_access(self) -> None:
        reader = self.lanes[0]
        timeout = self._access_timeout()
        if not reader.done.wait(timeout):
            raise LabTimeout(f"reader: the access did not finish within {timeout:.1f} s "
                             f"(delay_ms={self.plan.delay_ms}); aborted")
        if reader.error is not None:
            extra = "" if self.mount.alive() else \
                f" (FUSE helper exited, code {self.mount.proc.returncode})"
            raise LabError(f"reader: {reader.error}{extra}")

    # 6. the loops run on for their tail, then stop
    def stop_loops(self) -> None:
        plan, lanes, now = self.plan, self.lanes, monotonic_ns
        if plan.duration_ms is not None:
            end_ns = self.t0_ns + plan.duration_ms * 1_000_000
        else:
            end_ns = lanes[0].ops[-1][2] + plan.tail_ms * 1_000_000
        while now() < end_ns and not any(lane.done.is_set() for lane in lanes[1:]):
            time.sleep(min(0.01, max(0.0, (end_ns - now()) / 1e9)))
        self.stop.set()
        for lane in lanes:
            lane.join(JOIN_TIMEOUT_S)
            if lane.is_alive():
                raise LabTimeout(f"thread {lane.lane}: still blocked {JOIN_TIMEOUT_S} s "
                                 "after stop; aborted")
            if lane.error is not None:
                raise LabError(f"{lane.lane}: {lane.error}")

    # 7. what the kernel and the server recorded; the bytes checked
    def collect(self) -> None:
        self.records = self.st["trace"].stop() if self.st["trace"] else []
        self.reads = self.mount.reads()
        if self.reader_info.get("data") != page_bytes(PAGE_SIZE)[:NBYTES]:
            raise LabError("reader: the bytes read do not match the slow file's content")

    def result(self) -> LabResult:
        return _build(self.plan, self.lanes, self.names, self.t0_ns, self.records, self.reads,
                      self.note, self.resident_before, self.reader_info.get("major"), self.beats)

    def cleanup(self, failed: bool) -> None:
        _cleanup(self.plan, self.L, self.mount, self.st, self.lanes,
                 (self.go, self.abort, self.stop), self.old_switch, failed, self.loops)


def run(plan: Plan) -> LabResult:
    """Run one measurement: the steps of :class:`_Run` in order, cleanup on every exit."""
    r = _Run(plan)
    failed = True
    try:
        r.mount_and_map()
        r.make_lanes()
        r.start_threads()
        r.let_go()
        r.wait_for_access()
        r.stop_loops()
        r.collect()
        failed = False
    finally:
        with _interrupts_deferred() as pending:
            r.cleanup(failed)
        if pending and not failed:
            raise KeyboardInterrupt
    return r.result()


def _start_trace(plan: Plan, st: dict, names: dict) -> str:
    """Start recording mmap_lock tracepoints if asked (True) or possible ("auto")."""
    if plan.tracepoints is False:
        return "tracepoints not requested"
    session = tracefs.TraceSession()
    try:
        session.open()
        session.start(sorted(names))
    except OSError as e:
        session.close()
        if plan.tracepoints is True:
            raise LabUnavailable(f"tracepoints: cannot record mmap_lock events ({e})") from None
        return f"tracepoints unavailable: {e}"
    st["trace"] = session
    return f"mmap_lock tracepoints recorded via {session.root}"


@contextlib.contextmanager
def _interrupts_deferred():
    """Hold back Ctrl-C (SIGINT) while cleaning up, so a second interrupt
    cannot leave the mount behind; the list says whether one came."""
    pending: list = []
    if threading.current_thread() is not threading.main_thread():
        yield pending
        return
    old = signal.signal(signal.SIGINT, lambda *a: pending.append(a))
    try:
        yield pending
    finally:
        signal.signal(signal.SIGINT, old)


def _cleanup(plan, L, mount, st, lanes, events, old_switch, failed, loops=None) -> None:
    """Undo everything, in an order that cannot fault or hang.

    Every step runs even when one before it failed: a dead FUSE helper makes
    ``close()`` on the file answer ENOTCONN (fuse_flush finds no server), and
    that must not skip the unmount.  Raises only if the run itself succeeded
    but something could not be undone, so a failure of the run is never
    hidden behind a cleanup error."""
    go, abort, stop = events
    abort.set(); stop.set(); go.set()
    problems: list[str] = []

    def step(what, fn, *args):
        try:
            fn(*args)
        except Exception as e:          # noqa: BLE001 - reported below, never hidden
            problems.append(f"{what}: {e}")

    step("release the helper", mount.release)       # sleeping reads answer now
    stuck = _join_all(lanes, JOIN_TIMEOUT_S / 2)
    if stuck and (plan.path == "procmem" or st.get("guard")):
        # The helper does not answer.  Under /proc/self/mem a dead server
        # only makes the read fail with EIO; under an ordinary fault it
        # raises SIGBUS, which the guard turns into an error return.
        step("stop the helper", mount.kill_helper)
        stuck = _join_all(lanes, JOIN_TIMEOUT_S / 2)
    sys.setswitchinterval(old_switch)
    if st["trace"] is not None:
        step("tracing", st["trace"].close)
    if not stuck:
        for key in ("addr", "anon"):
            if st[key] is not None:
                step(f"munmap {key}", L.unmap, st[key], PAGE_SIZE)
        for key in ("fd", "memfd"):
            if st[key] >= 0:
                # Linux frees the descriptor even when close() reports an
                # error (ENOTCONN from a dead server): never close it twice.
                fd, st[key] = st[key], -1
                try:
                    os.close(fd)
                except OSError:
                    pass
    # A thread still inside an unguarded fault on the FUSE file would get
    # SIGBUS if the server went away, so then the mount is only detached.
    step("unmount", mount.close, bool(stuck) and plan.path == "fault")
    if st.get("guard") and not stuck:
        st["guard"] = False
        step("SIGBUS guard", loops.fl_guard_remove)
    if mount.leftover:
        problems.append(f"mountpoint: {mount.leftover} is still mounted after cleanup")
    if problems and not failed:
        raise LabError("cleanup: " + "; ".join(problems))


def _inside_ops(lock_events: list, ops: list, slack_us: float = 1.0) -> list:
    """Keep the lock events that happened inside one of the thread's timed calls.

    The others come from the Python runtime itself (its allocator maps and
    unmaps arenas, thread start-up maps stacks): real, but not part of the
    experiment.  tracefs prints microseconds, hence the slack.
    """
    starts: dict[str, list] = {}
    ends: dict[str, list] = {}
    for o in sorted(ops, key=lambda o: o["start_us"]):
        starts.setdefault(o["task"], []).append(o["start_us"] - slack_us)
        ends.setdefault(o["task"], []).append(o["end_us"] + slack_us)
    kept = []
    for e in lock_events:
        i = bisect.bisect_right(starts.get(e[1], []), e[0]) - 1
        if i >= 0 and e[0] <= ends[e[1]][i]:
            kept.append(e)
    return kept


def _join_all(lanes, timeout_s: float) -> list[str]:
    deadline = time.monotonic() + timeout_s
    for lane in lanes:
        lane.join(max(0.0, deadline - time.monotonic()))
    return [lane.lane for lane in lanes if lane.is_alive()]


def _build(plan, lanes, names, t0_ns, records, reads, note, resident_before, major, beats):
    us = lambda ns: (ns - t0_ns) / 1000.0   # noqa: E731
    ops = [{"task": lane.lane, "kind": kind, "start_us": us(a), "end_us": us(b)}
           for lane in lanes for kind, a, b in lane.ops]
    ops.sort(key=lambda o: o["start_us"])
    lock_events = tracefs.to_events(records, names, t0_ns)
    kept = _inside_ops(lock_events, ops)
    return LabResult(
        path=plan.path, delay_ms=plan.delay_ms, third_reader=plan.third,
        kernel=os.uname().release,
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        params={"warmup_ms": plan.warmup_ms, "tail_ms": plan.tail_ms,
                "duration_ms": plan.duration_ms, "gap_us": plan.gap_us,
                "page_size": PAGE_SIZE, "bytes_read": NBYTES,
                "machine": os.uname().machine, "cpus": os.cpu_count(),
                "python": sys.version.split()[0],
                "lock_events_outside_ops": len(lock_events) - len(kept)},
        threads=[lane.lane for lane in lanes], ops=ops, lock_events=kept,
        tracepoints=bool(records), tracepoint_note=note,
        resident_before=resident_before, major_faults=major,
        fuse_reads=[(us(a), us(b)) for a, b, _, _ in reads],
        heartbeat=[us(t) for t in beats],
    )
