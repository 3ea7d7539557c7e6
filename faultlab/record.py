"""The record: what happened, when, to whom.

The model never prints. Every step that matters appends one event to a
`Recorder`; tables, plots, metrics and tests are all built from the record
afterwards. An event is a plain tuple ``(t_us, task, event, details)`` with
``details`` a tuple of ``(key, value)`` pairs, so a trace can be compared,
hashed or written out byte for byte.

Lock events are named after the kernel's mmap_lock tracepoints
(include/trace/events/mmap_lock.h, Linux 5.11, commit 2b5067a8143e):

- ``start_locking``     a task asks for the lock (``write`` says which side)
- ``acquire_returned``  the task holds it and is running again
- ``released``          the task let it go

Other events: ``op_start``/``op_end`` (one workload operation),
``fault_start``/``fault_end``, ``find_vma``, ``walk``, ``io_submit``,
``io_complete``, ``io_wait_start``/``io_wait_end`` (sleeping on a page lock
while its read is in flight), ``retry``, ``evict``, ``map``,
``syscall_start``/``syscall_end``, ``kernel_bug``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Outcome(Enum):
    """How a fault ended (the arch code's switch on handle_mm_fault's answer)."""

    MINOR = "MINOR"
    MAJOR = "MAJOR"
    SIGBUS = "SIGBUS"
    SIGSEGV = "SIGSEGV"
    OOPS = "OOPS"                  # the kernel hit BUG() (only a broken design gets here)
    UNFINISHED = "unfinished"


@dataclass(slots=True)
class FaultRecord:
    task: str
    page: int            # virtual page number that faulted
    start_us: float
    end_us: float | None = None
    attempts: int = 0    # passes through the fault path (1 = no retry)
    major: bool = False
    outcome: Outcome = Outcome.UNFINISHED
    redone_walks: int = 0
    via: str = "fault"   # "fault" (do_page_fault) or "gup" (get_user_pages)

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


@dataclass(slots=True)
class Recorder:
    """Appends events; the only place the model writes what it did."""

    env: object                        # the simpy.Environment whose clock stamps events (us)
    events: list = field(default_factory=list)
    faults: list = field(default_factory=list)
    syscalls: list = field(default_factory=list)
    kernel_bugs: list = field(default_factory=list)

    def emit(self, task: str, event: str, **details) -> None:
        self.events.append((self.env._now, task, event, tuple(details.items())))

    def add(self, task: str, event: str, details: tuple) -> None:
        """``emit`` with the details already a tuple of pairs (the lock events,
        many per fault, pass shared constants)."""
        self.events.append((self.env._now, task, event, details))

    def bug(self, task: str, what: str) -> None:
        """A kernel bug the policy walked into on purpose (for teaching)."""
        self.kernel_bugs.append({"t_us": self.env._now, "task": task, "bug": what})
        self.emit(task, "kernel_bug", what=what)


def format_event(ev) -> str:
    """One trace line, OSTEP style: time, task, event, details."""
    t, task, event, details = ev
    extra = " ".join(f"{k}={v}" for k, v in details)
    return f"{t:12.3f} {task:<10} {event:<18} {extra}".rstrip()
