"""The record: what happened, when, to whom -- and everything read from it.

The model never prints. Every step that matters adds one event to a
``Recorder``; tables, plots, metrics and tests are all built from the record.
An event is a plain tuple ``(t_us, task, event, details)`` with ``details`` a
tuple of ``(key, value)`` pairs, so a trace can be compared, hashed or written
out byte for byte. Beside the events the recorder keeps one ``FaultRecord``
per fault and one ``SyscallRecord`` per write-locking syscall.

``EVENTS`` names every event the model emits, each with its meaning (a test
runs every preset under every policy and checks that exactly these are
emitted); ``LAB_EVENTS`` the ones only the kernel lab records.

Every reading of the record lives here, written as a *fold*: an object fed
one event at a time (``feed(event)``) that gives its answer at the end
(``result()``). ``fold(events, *folds)`` feeds a list; a run made with
``keep_events=False`` feeds its folds as each event is emitted and keeps no
list, so its memory does not grow with its length. Each fold says which
events it reads (``wants``; ``None`` for all of them).
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from enum import Enum

# -- the event names ------------------------------------------------------------

FAULT_START = "fault_start"
FAULT_END = "fault_end"
RETRY = "retry"
REVALIDATED = "revalidated"
MAP = "map"
VMA_LOCK = "vma_lock"
VMA_UNLOCK = "vma_unlock"
START_LOCKING = "start_locking"
ACQUIRE_RETURNED = "acquire_returned"
RELEASED = "released"
IO_SUBMIT = "io_submit"
IO_COMPLETE = "io_complete"
IO_WAIT_START = "io_wait_start"
IO_WAIT_END = "io_wait_end"
SYSCALL_START = "syscall_start"
SYSCALL_END = "syscall_end"
EVICT = "evict"
FAULT_AROUND = "fault_around"
LRU_DRAIN = "lru_drain"
KERNEL_BUG = "kernel_bug"
OP_START = "op_start"
OP_END = "op_end"
SIGNAL = "signal"
KILLED = "killed"
PAGE_FLAG = "page_flag"
TRUNCATE_RETRY = "truncate_retry"
PAGE_LOCK_WAIT = "page_lock_wait"
PAGE_LOCK_GOT = "page_lock_got"
TRUNCATE_START = "truncate_start"
UNMAP_RANGE = "unmap_range"
TRUNCATE_WAIT = "truncate_wait"
TRUNCATE_GOT = "truncate_got"
TRUNCATE_PAGE = "truncate_page"
TRUNCATE_END = "truncate_end"

# Lock events are named after the kernel's mmap_lock tracepoints
# (include/trace/events/mmap_lock.h, Linux 5.11, commit 2b5067a8143e).
EVENTS = {
    FAULT_START: "a task enters the fault path (via=fault: do_page_fault; via=gup: get_user_pages)",
    FAULT_END: "the fault is over (outcome=MINOR/MAJOR/SIGBUS/SIGSEGV/OOPS, attempts=passes made)",
    RETRY: "handle_mm_fault answered RETRY; the fault goes round again (attempt=the pass that ended)",
    REVALIDATED: "seqcount: mm->seq unchanged after the wait; the fault carries on without a rerun (seq=)",
    MAP: "do_no_page installed the pte of a file page (page=)",
    VMA_LOCK: "lock_vma_under_rcu read-locked the faulting VMA (vma=), no mmap_sem taken",
    VMA_UNLOCK: "the fault let go of its VMA's read lock (vma=)",
    START_LOCKING: "the task asks for mmap_sem (write= says which side)",
    ACQUIRE_RETURNED: "the task holds mmap_sem and runs again (write=)",
    RELEASED: "the task let go of mmap_sem (write=)",
    IO_SUBMIT: "a read request went to the disk (first=page, n=pages)",
    IO_COMPLETE: "that read finished: its pages are uptodate and unlocked (first=, n=)",
    IO_WAIT_START: "the task sleeps on a page locked for I/O (page=; mmap_sem= whether it holds mmap_sem)",
    IO_WAIT_END: "the task is awake and running again after that sleep (page=)",
    SYSCALL_START: "a mapper or locker thread enters a syscall (kind=mmap/munmap/mprotect/mincore/...)",
    SYSCALL_END: "that syscall returns (kind=)",
    EVICT: "fadvise(FADV_DONTNEED) dropped a page from the page cache (page=)",
    FAULT_AROUND: "do_fault_around (3.15+) mapped cached neighbours of the faulting page (first=, n=)",
    LRU_DRAIN: "a CPU's LRU-add pagevec was drained, its references released (cpu=, why=full/lru_add_drain, pages=)",
    KERNEL_BUG: "a broken-on-purpose design walked into a kernel bug (what=)",
    SIGNAL: "SIGKILL sent to the task (sig=; faultlab/signals.py)",
    KILLED: "the task died of it (where=user, return_to_user or fault_signal_pending)",
    PAGE_FLAG: "page_flag_retry's bit on a page (op=set, found: a fault met it and waits synchronously, clear)",
    TRUNCATE_RETRY: "do_no_page found truncate_count moved: page dropped, ->nopage again (page=)",
    PAGE_LOCK_WAIT: "->nopage sleeps for a page lock that someone else (truncate) holds (page=, mmap_sem=)",
    PAGE_LOCK_GOT: "it holds that page lock and runs again (page=)",
    TRUNCATE_START: "ftruncate begins (old=, new= sizes in pages; faultlab/truncate.py)",
    UNMAP_RANGE: "unmap_mapping_range: truncate_count bumped (truncate_count=), ptes zapped (zapped=)",
    TRUNCATE_WAIT: "truncate_inode_pages' second pass sleeps in lock_page (page=)",
    TRUNCATE_GOT: "it holds that page's lock and runs again (page=)",
    TRUNCATE_PAGE: "truncate_complete_page removed a page from the file (page=)",
    TRUNCATE_END: "ftruncate is done",
}
LAB_EVENTS = {
    OP_START: "the kernel lab: a thread starts one call (kind=mmap/munmap/mincore/slow_access/...)",
    OP_END: "the kernel lab: that call returned (kind=)",
}
LOCK_EVENTS = (START_LOCKING, ACQUIRE_RETURNED, RELEASED)
IO_WAIT_EVENTS = (IO_WAIT_START, IO_WAIT_END)


def format_event(ev) -> str:
    """One trace line, OSTEP style: time, task, event, details."""
    t, task, event, details = ev
    extra = " ".join(f"{k}={v}" for k, v in details)
    return f"{t:12.3f} {task:<10} {event:<18} {extra}".rstrip()


# -- what the recorder keeps per fault and per syscall -----------------------------------

class Outcome(Enum):
    """How a fault ended (the arch code's switch on handle_mm_fault's answer)."""

    MINOR = "MINOR"
    MAJOR = "MAJOR"
    SIGBUS = "SIGBUS"
    SIGSEGV = "SIGSEGV"
    OOPS = "OOPS"                  # the kernel hit BUG() (only a broken design gets here)
    REFAULT = "REFAULT"            # ended without a mapping, back to user to re-execute (NOPAGE_REFAULT)
    KILLED = "KILLED"              # a fatal signal ended the fault loop in the kernel (fault_signal_pending)
    UNFINISHED = "unfinished"


@dataclass(slots=True)
class FaultRecord:
    task: str
    page: int            # virtual page number that faulted
    start_us: float
    end_us: float | None = None
    attempts: int = 0    # passes through the fault path (1 = no retry; each later pass redoes the walk)
    major: bool = False
    outcome: Outcome = Outcome.UNFINISHED
    via: str = "fault"   # "fault" (do_page_fault) or "gup" (get_user_pages)
    access: float = 0.0  # start time of the first fault of the same access (a refault's link)

    @property
    def latency_us(self) -> float | None:
        return None if self.end_us is None else self.end_us - self.start_us


@dataclass(slots=True)
class SyscallRecord:
    task: str
    kind: str            # "mmap", "munmap", "mprotect", ...
    requested_us: float
    granted_us: float | None = None
    end_us: float | None = None

    @property
    def wait_us(self) -> float | None:
        return None if self.granted_us is None else self.granted_us - self.requested_us


# -- folds: the readings of the record ----------------------------------------------------

class Fold:
    """A reading of the record: ``feed(event)`` once per event in order, then ``result()``."""

    wants: frozenset | None = None       # the event names it reads; None: all

    def feed(self, event) -> None:
        raise NotImplementedError

    def result(self):
        raise NotImplementedError


def routes(folds) -> dict:
    """Event name -> the feed methods that read it; key ``None``: those for any other name."""
    names = set(EVENTS) | set(LAB_EVENTS)
    for f in folds:
        names |= set(f.wants or ())
    table = {name: [f.feed for f in folds if f.wants is None or name in f.wants] for name in names}
    table[None] = [f.feed for f in folds if f.wants is None]
    return table


def fold(events, *folds):
    """Feed every event to each fold; return the fold's result (a tuple of them for several)."""
    table = routes(folds)
    other = table[None]
    for ev in events:
        for feed in table.get(ev[2], other):
            feed(ev)
    results = tuple(f.result() for f in folds)
    return results[0] if len(results) == 1 else results


class Counts(Fold):
    """How many events of each of ``names``."""

    def __init__(self, names):
        self.counts = dict.fromkeys(names, 0)
        self.wants = frozenset(names)

    def feed(self, event):
        self.counts[event[2]] += 1

    def result(self) -> dict:
        return dict(self.counts)


class HeldAcrossIO(Fold):
    """Time threads slept on a page's read while holding mmap_sem, summed over
    threads (us): io_wait_start with mmap_sem=True to io_wait_end, or to
    ``until_us`` for a sleep still going at the end."""

    wants = frozenset(IO_WAIT_EVENTS)

    def __init__(self, until_us):
        self.until_us = until_us
        self.since, self.total = {}, 0.0

    def feed(self, event):
        t, task, name, details = event
        if name == IO_WAIT_START:
            if ("mmap_sem", True) in details:
                self.since[task] = t
        elif task in self.since:
            self.total += t - self.since.pop(task)

    def result(self) -> float:
        return self.total + sum(self.until_us - t for t in self.since.values())


class Signals(Fold):
    """Each SIGKILL sent: to whom and when, and when and where that thread died
    (``died_ms`` None: it never did -- stuck in the kernel, or it had exited)."""

    wants = frozenset((SIGNAL, KILLED))

    def __init__(self):
        self.sent, self.died = [], {}

    def feed(self, event):
        t, task, name, details = event
        if name == SIGNAL:
            self.sent.append((task, t))
        else:
            self.died[task] = (t, dict(details)["where"])

    def result(self) -> list:
        out = []
        for task, t in self.sent:
            t_died, where = self.died.get(task, (None, None))
            out.append({"thread": task, "sent_ms": round(t / 1000.0, 3),
                        "died_ms": None if t_died is None else round(t_died / 1000.0, 3), "where": where})
        return out


class Accesses(Fold):
    """Every access that faulted, per task in order: ``{"task", "start_us",
    "faults", "passes", "outcome"}``. A fault that ends REFAULT (NOPAGE_REFAULT:
    back to user space, the access runs again) leaves its access open, and the
    task's next fault belongs to it; so an access's ``faults`` are the faults
    the kernel counted for it (each refault one) and its ``passes`` the walks
    through find_vma (``attempts`` of each ended fault; for a fault still open
    at the end, its retries plus the walk under way). ``outcome`` is its last
    fault's ("unfinished" while one is open at the end). A fault inside a
    fault (get_user_pages from ->nopage) is an access of its own."""

    wants = frozenset((FAULT_START, FAULT_END, RETRY))

    def __init__(self):
        self.open, self.pending, self.done = {}, {}, []

    def feed(self, event):
        t, task, name, details = event
        stack = self.open.get(task)
        if name == FAULT_START:
            a = self.pending.pop(task, None) or {"task": task, "start_us": t, "faults": 0, "passes": 0,
                                                  "outcome": "unfinished"}
            self.open.setdefault(task, []).append([a, 0])
        elif not stack:
            return
        elif name == RETRY:
            stack[-1][1] += 1
        else:
            a, _ = stack.pop()
            d = dict(details)
            a["faults"] += 1
            a["passes"] += d["attempts"]
            if d["outcome"] == Outcome.REFAULT.value:
                self.pending[task] = a                # the access goes on: the CPU re-executes it
            else:
                a["outcome"] = d["outcome"]
                self.done.append(a)

    def result(self) -> list:
        """Ended accesses in the order they ended, then the unfinished ones."""
        rest = []
        for stack in self.open.values():
            for a, retries in stack:
                rest.append(dict(a, faults=a["faults"] + 1, passes=a["passes"] + retries + 1))
        rest += [dict(a) for a in self.pending.values()]
        return [dict(a) for a in self.done] + sorted(rest, key=lambda a: (a["start_us"], a["task"]))


class DetailCounts(Fold):
    """How many ``name`` events there were of each value of their detail ``key``
    (optionally only ``task``'s): for example the page_flag events by ``op``."""

    def __init__(self, name, key, task=None):
        self.key, self.task, self.counts = key, task, {}
        self.wants = frozenset((name,))

    def feed(self, event):
        if self.task is None or event[1] == self.task:
            v = dict(event[3]).get(self.key)
            self.counts[v] = self.counts.get(v, 0) + 1

    def result(self) -> dict:
        return dict(self.counts)


class TaskCounts(Counts):
    """How many events of each of ``names`` task ``task`` emitted."""

    def __init__(self, task, names):
        super().__init__(names)
        self.task = task

    def feed(self, event):
        if event[1] == self.task:
            self.counts[event[2]] += 1


class KernelBugs(Fold):
    """Every kernel bug, as ``{"t_us", "task", "bug"}``."""

    wants = frozenset((KERNEL_BUG,))

    def __init__(self):
        self.bugs = []

    def feed(self, event):
        t, task, _, details = event
        self.bugs.append({"t_us": t, "task": task, "bug": dict(details)["what"]})

    def result(self) -> list:
        return [dict(b) for b in self.bugs]


class LockRequests(Fold):
    """Every request for mmap_sem that was granted: ``(task, side, asked_us, got_us)``
    in the order they were granted (side "read" or "write"). A grant with no
    request seen (a recording that starts mid-way, or a downgrade) is left out."""

    wants = frozenset((START_LOCKING, ACQUIRE_RETURNED))

    def __init__(self):
        self.asked, self.rows = {}, []

    def feed(self, event):
        t, task, name, details = event
        if name == START_LOCKING:
            self.asked[task] = (t, "write" if dict(details).get("write") else "read")
        elif task in self.asked:
            t0, side = self.asked.pop(task)
            self.rows.append((task, side, t0, t))

    def result(self) -> list:
        return list(self.rows)


class LockWaits(LockRequests):
    """The longest wait for mmap_sem (request to grant, us) of each task, tasks sorted."""

    def __init__(self):
        super().__init__()
        self.worst = {}

    def feed(self, event):
        t, task, name, _ = event
        if name == START_LOCKING:
            self.asked[task] = t
        elif task in self.asked:
            wait = t - self.asked.pop(task)
            self.worst[task] = max(self.worst.get(task, 0.0), wait)

    def result(self) -> dict:
        return dict(sorted(self.worst.items()))


class RequestsPerFault(Fold):
    """``task``'s requests for mmap_sem (``start_locking``) up to the end of its
    last ended fault, and the faults it ended: ``(requests, faults)``. The
    requests of a fault still open when the run stops are left out."""

    wants = frozenset((START_LOCKING, FAULT_END))

    def __init__(self, task):
        self.task, self.asked, self.counted, self.faults = task, 0, 0, 0

    def feed(self, event):
        if event[1] != self.task:
            return
        if event[2] == START_LOCKING:
            self.asked += 1
        else:
            self.faults += 1
            self.counted = self.asked

    def result(self) -> tuple:
        return self.counted, self.faults


class FaultLatencies(Fold):
    """Latency (us) of every fault that ended, fault_start to fault_end, in the
    order they ended (a fault inside a fault -- get_user_pages from ->nopage --
    is paired with its own start)."""

    wants = frozenset((FAULT_START, FAULT_END))

    def __init__(self):
        self.open, self.latencies = {}, []

    def feed(self, event):
        t, task, name, _ = event
        if name == FAULT_START:
            self.open.setdefault(task, []).append(t)
        elif self.open.get(task):
            self.latencies.append(t - self.open[task].pop())

    def result(self) -> list:
        return list(self.latencies)


class Span(Fold):
    """The first and last time ``task`` recorded one of ``names``: ``(first, last)``,
    or None; ``n`` says how many it recorded."""

    def __init__(self, task, names):
        self.task, self.wants = task, frozenset(names)
        self.first = self.last = None
        self.n = 0

    def feed(self, event):
        if event[1] == self.task:
            if self.first is None:
                self.first = event[0]
            self.last = event[0]
            self.n += 1

    def result(self):
        return None if self.first is None else (self.first, self.last)


class RelockGaps(Fold):
    """For each ``released`` of ``task``, the time to its next ``start_locking``:
    how soon the task asks for mmap_sem again after letting it go (microseconds,
    in order). On the live kernel a reader with a CPU of its own asks again
    within microseconds; one that lost its CPU to the woken writer, milliseconds."""

    wants = frozenset((RELEASED, START_LOCKING))

    def __init__(self, task):
        self.task, self.pending, self.gaps = task, None, []

    def feed(self, event):
        t, task, name, _ = event
        if task != self.task:
            return
        if name == RELEASED:
            self.pending = t
        elif self.pending is not None:
            self.gaps.append(t - self.pending)
            self.pending = None

    def result(self) -> list:
        return self.gaps


class LockHolds(Fold):
    """Each hold of mmap_sem by ``task``, from its ``acquire_returned`` to its
    ``released``: ``(got_us, held_us)``, in order (a release with no grant seen is
    left out)."""

    wants = frozenset((ACQUIRE_RETURNED, RELEASED))

    def __init__(self, task):
        self.task, self.got, self.holds = task, None, []

    def feed(self, event):
        t, task, name, _ = event
        if task != self.task:
            return
        if name == ACQUIRE_RETURNED:
            self.got = t
        elif self.got is not None:
            self.holds.append((self.got, t - self.got))
            self.got = None

    def result(self) -> list:
        return self.holds


# One lane per thread; at any moment a thread is in exactly one of these
# states, the first that applies of:
STATES = ("running", "wait_read", "wait_write", "hold_read", "hold_write", "io", "held_io")
STATE_MEANINGS = {
    "held_io": "sleeping on a page's I/O while holding mmap_sem (the convoy's cause)",
    "io": "sleeping on a page's I/O, mmap_sem not held",
    "wait_write": "asked for mmap_sem for writing, not granted yet",
    "wait_read": "asked for mmap_sem for reading, not granted yet",
    "hold_write": "holding mmap_sem for writing",
    "hold_read": "holding mmap_sem for reading",
    "running": "anything else: user code, or kernel code outside mmap_sem",
}


def _state(lane) -> str:
    if lane["io"] is not None:
        return "held_io" if lane["io"] else "io"
    if lane["wait"] is not None:
        return "wait_" + lane["wait"]
    if lane["hold_write"]:
        return "hold_write"
    if lane["hold_read"]:
        return "hold_read"
    return "running"


_LANE_EVENTS = frozenset(LOCK_EVENTS + IO_WAIT_EVENTS)


class LaneStates(Fold):
    """Per thread, per state (``STATES``), the ``(start_us, duration_us)`` spans it spent there.

    Lanes are ``threads`` in order, then any other task that appears in the
    events. A trace that starts while a lock is held (a kernel-lab recording)
    may release what it never saw taken: that is ignored. ``io_wait_start``
    says whether mmap_sem was held (``mmap_sem``); without that detail, the
    lane's own lock events decide. ``result(end_us)``: a lane not running at
    the end stays in its state until ``end_us`` (default: the last event).
    """

    def __init__(self, threads=()):
        self.lanes = {name: None for name in threads}
        self.out = {}
        self.last_t = 0.0

    def feed(self, event):
        t, task, name, details = event
        self.last_t = t
        lane = self.lanes.get(task)
        if lane is None:
            lane = self.lanes[task] = {"wait": None, "hold_read": 0, "hold_write": 0, "io": None,
                                       "state": "running", "since": t, "last": t}
            self.out[task] = {s: [] for s in STATES}
        lane["last"] = t
        if name not in _LANE_EVENTS:
            return
        d = dict(details)
        if name == START_LOCKING:
            lane["wait"] = "write" if d.get("write") else "read"
        elif name == ACQUIRE_RETURNED:
            write = d.get("write", lane["wait"] == "write")
            if lane["wait"] is None and not write and lane["hold_write"]:
                lane["hold_write"] -= 1      # mmap_write_downgrade(): write -> read, no release between
            lane["wait"] = None
            if d.get("success", True):
                lane["hold_write" if write else "hold_read"] += 1
        elif name == RELEASED:
            key = "hold_write" if d.get("write") else "hold_read"
            lane[key] = max(0, lane[key] - 1)
        elif name == IO_WAIT_START:
            held = d.get("mmap_sem")
            lane["io"] = bool(held) if held is not None else bool(lane["hold_read"] or lane["hold_write"])
        else:
            lane["io"] = None
        new = _state(lane)
        if new != lane["state"]:
            if t > lane["since"]:
                self.out[task][lane["state"]].append((lane["since"], t - lane["since"]))
            lane["state"], lane["since"] = new, t

    def result(self, end_us=None) -> dict:
        end = self.last_t if end_us is None else end_us
        out = {}
        for task, lane in self.lanes.items():
            spans = {s: list(v) for s, v in self.out.get(task, {s: [] for s in STATES}).items()}
            if lane is not None:
                stop = lane["last"] if lane["state"] == "running" else max(end, lane["last"])
                if stop > lane["since"]:
                    spans[lane["state"]].append((lane["since"], stop - lane["since"]))
            out[task] = spans
        return out


# -- the same readings as one call each ---------------------------------------------------

def lock_requests(events) -> list:
    """Every granted request for mmap_sem: ``(task, side, asked_us, got_us)`` (see LockRequests)."""
    return fold(events, LockRequests())


def lock_waits(events) -> dict:
    """The longest wait for mmap_sem of each task, in us (see LockWaits)."""
    return fold(events, LockWaits())


def held_across_io_us(events, until_us) -> float:
    """Time slept on I/O holding mmap_sem, summed over threads (see HeldAcrossIO)."""
    return fold(events, HeldAcrossIO(until_us))


def fault_latencies_us(events) -> list:
    """Latency of every fault that ended, in us (see FaultLatencies)."""
    return fold(events, FaultLatencies())


def counts(events, names) -> dict:
    """How many events of each of ``names``."""
    return fold(events, Counts(names))


def count(events, name) -> int:
    """How many events called ``name``."""
    return fold(events, Counts((name,)))[name]


def relock_gaps_us(events, task) -> list:
    """See :class:`RelockGaps`."""
    return fold(events, RelockGaps(task))


def lock_holds_us(events, task) -> list:
    """See :class:`LockHolds`."""
    return fold(events, LockHolds(task))


def lane_states(events, threads=(), end_us=None) -> dict:
    """Per thread, per state, the spans it spent there (see LaneStates)."""
    lanes = LaneStates(threads)
    fold(events, lanes)
    return lanes.result(end_us)


# -- percentiles, exact, from a multiset ---------------------------------------------------

class Quantiles:
    """An exact multiset of numbers (value -> how often), for nearest-rank
    percentiles. It grows with the number of distinct values, not of values."""

    __slots__ = ("counts", "n")

    def __init__(self, values=()):
        self.counts, self.n = {}, 0
        for v in values:
            self.add(v)

    def add(self, value) -> None:
        self.counts[value] = self.counts.get(value, 0) + 1
        self.n += 1

    def percentiles(self, scale=1.0) -> dict:
        """Nearest-rank p50/p95/p99/max (the smallest value with at least q% of
        the values at or below it), divided by ``scale`` and rounded to 3
        places; zeros when empty."""
        if not self.n:
            return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
        keys = sorted(self.counts)
        below, total = [], 0
        for k in keys:
            total += self.counts[k]
            below.append(total)
        n = self.n

        def rank(q):                          # the ceil(q n / 100)-th smallest value
            r = min(n, max(1, -(-q * n // 100)))
            return keys[bisect.bisect_left(below, r)]
        return {"p50": round(rank(50) / scale, 3), "p95": round(rank(95) / scale, 3),
                "p99": round(rank(99) / scale, 3), "max": round(keys[-1] / scale, 3)}


def percentiles(values, scale=1.0) -> dict:
    """Nearest-rank p50/p95/p99/max of ``values`` (see Quantiles.percentiles)."""
    return Quantiles(values).percentiles(scale)


# -- the run's summary, folded from its records --------------------------------------------

class FaultStats:
    """The faults part of a summary, fed one FaultRecord at a time (``feed_fault``):
    ended faults as they end, unfinished ones at the end of the run. A pass
    after a fault's first redoes find_vma and the walk: redone walks are the
    sum of ``attempts - 1``."""

    __slots__ = ("completed", "major", "retries", "unfinished", "max_attempts", "outcomes", "latency")

    def __init__(self):
        self.completed = self.major = self.retries = self.unfinished = self.max_attempts = 0
        self.outcomes = dict.fromkeys(Outcome, 0)
        self.latency = Quantiles()

    def feed_fault(self, f) -> None:
        self.outcomes[f.outcome] += 1
        if f.attempts > 1:
            self.retries += f.attempts - 1
        if f.attempts > self.max_attempts:
            self.max_attempts = f.attempts
        if f.outcome is Outcome.UNFINISHED:
            self.unfinished += 1
            return
        self.completed += 1
        self.major += f.major
        self.latency.add(f.end_us - f.start_us)

    def result(self) -> dict:
        return {"completed": self.completed, "major": self.major, "retries": self.retries,
                "unfinished": self.unfinished, "max_attempts": self.max_attempts,
                "outcomes": {o.value: n for o, n in self.outcomes.items() if n},
                "latency_ms": self.latency.percentiles(1000.0)}


class SyscallStats:
    """The syscalls part of a summary, fed one ended SyscallRecord at a time."""

    __slots__ = ("completed", "wait")

    def __init__(self):
        self.completed = 0
        self.wait = Quantiles()

    def feed_syscall(self, s) -> None:
        self.completed += 1
        self.wait.add(s.granted_us - s.requested_us)

    def result(self) -> dict:
        return {"completed": self.completed, "wait_ms": self.wait.percentiles(1000.0)}


class RunFolds:
    """What a summary reads from the record: fault and syscall statistics, time
    held across I/O, kernel bugs, disk requests (the io_submit events)."""

    def __init__(self, until_us):
        self.faults = FaultStats()
        self.syscalls = SyscallStats()
        self.held = HeldAcrossIO(until_us)
        self.bugs = KernelBugs()
        self.disk = Counts((IO_SUBMIT,))
        self.signals = Signals()
        self.event_folds = (self.held, self.bugs, self.disk, self.signals)

    @classmethod
    def of(cls, until_us, events, faults, syscalls) -> "RunFolds":
        """The folds of a run that kept its record, fed afterwards."""
        folds = cls(until_us)
        fold(events, *folds.event_folds)
        for f in faults:
            folds.faults.feed_fault(f)
        for s in syscalls:
            if s.end_us is not None:
                folds.syscalls.feed_syscall(s)
        return folds


# -- the recorder ----------------------------------------------------------------------------

class Recorder:
    """Appends events and records; the only place the model writes what it did.

    The model calls ``emit``/``add`` for events, ``new_fault``/``new_syscall``
    when a fault or syscall begins (the fault path then fills its record in),
    and ``bug`` for a kernel bug. This one keeps everything in lists; a
    ``StreamRecorder`` keeps nothing and folds as it goes.
    """

    keep = True

    def __init__(self, env, folds=()):
        self.env = env                         # the simpy.Environment whose clock stamps events (us)
        self.events = []
        self.faults = []
        self.syscalls = []
        self.new_fault = self.faults.append
        self.new_syscall = self.syscalls.append
        self.folds = tuple(folds)              # fed the kept events at the end (``finish``)

    def emit(self, task: str, event: str, **details) -> None:
        self.events.append((self.env._now, task, event, tuple(details.items())))

    def add(self, task: str, event: str, details: tuple) -> None:
        """``emit`` with the details already a tuple of pairs (the lock events,
        many per fault, pass shared constants)."""
        self.events.append((self.env._now, task, event, details))

    def bug(self, task: str, what: str) -> None:
        """A kernel bug the policy walked into on purpose (for teaching)."""
        self.emit(task, KERNEL_BUG, what=what)

    # -- what the end of a run reads --
    def last_time(self):
        return self.events[-1][0] if self.events else None

    def open_faults(self) -> list:
        return [f for f in self.faults if f.end_us is None]

    def finish(self, until_us) -> RunFolds:
        """Feed the extra folds; the summary's folds are made when first asked for."""
        if self.folds:
            fold(self.events, *self.folds)
        return None


class StreamRecorder(Recorder):
    """Keeps no list: folds every event as it is emitted, every fault and syscall
    record when it ends. Its memory is the folds' and the open records'."""

    keep = False

    def __init__(self, env, folds=()):
        self.env = env
        self.events = self.faults = self.syscalls = None
        self.folds = tuple(folds)
        self.summary = None
        self._open_faults, self._open_syscalls = {}, {}
        self._table, self._other = {}, ()

    def start(self, until_us) -> None:
        """Set up the summary's folds (before the first event)."""
        self.summary = s = RunFolds(until_us)
        table = routes(s.event_folds + self.folds)
        table[FAULT_END].append(self._fault_ended)
        table[SYSCALL_END].append(self._syscall_ended)
        self._other = tuple(table.pop(None))
        self._table = {name: tuple(feeds) for name, feeds in table.items()}

    def emit(self, task, event, **details):
        feeds = self._table.get(event, self._other)
        if feeds:                                    # (most events feed no fold: no tuple made)
            ev = (self.env._now, task, event, tuple(details.items()))
            for feed in feeds:
                feed(ev)

    def add(self, task, event, details):
        feeds = self._table.get(event, self._other)
        if feeds:
            ev = (self.env._now, task, event, details)
            for feed in feeds:
                feed(ev)

    def new_fault(self, rec) -> None:
        self._open_faults.setdefault(rec.task, []).append(rec)

    def new_syscall(self, rec) -> None:
        self._open_syscalls.setdefault(rec.task, []).append(rec)

    def _fault_ended(self, event):
        self.summary.faults.feed_fault(self._open_faults[event[1]].pop())

    def _syscall_ended(self, event):
        self.summary.syscalls.feed_syscall(self._open_syscalls[event[1]].pop())

    def last_time(self):
        return None          # (nothing is kept; env.run(until) stops the clock at the end)

    def open_faults(self) -> list:
        return [f for recs in self._open_faults.values() for f in recs]

    def finish(self, until_us) -> RunFolds:
        for f in self.open_faults():
            self.summary.faults.feed_fault(f)
        return self.summary
