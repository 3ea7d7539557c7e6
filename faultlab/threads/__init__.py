"""The threads of a scenario: the kinds of thread, and the little they share.

A thread is a SimPy process. Readers, mappers, lockers and scripts share
the mm (they are threads of one process); the evictor is another process
that shares only the file. Each thread draws from its own random stream,
so changing the policy changes no thread's choices (common random numbers).

A thread kind is one class in one module of this package: a frozen
dataclass (what a user writes, ``Reader(think_us=5.0)``) that subclasses
``ThreadKind`` and is registered with ``@register``. It carries

- its fields; each field's type, unit and range are declared on the field
  (``schema.spec`` metadata) and checked for it before ``check`` runs;
- ``check(scenario)``: what its fields must satisfy together and against
  the scenario (a page inside the file), raising ``schema.refuse(...)``;
- ``body(k, task)``: the generator the thread runs; each operation is
  bracketed by ``op_start(task)`` / ``op_done(task)``;
- ``max_ops(scenario)``: an estimate of the most operations it can run,
  which bounds a run's cost (``Scenario.check_cost``);
- optionally ``setup(k)`` (kernel state the kind needs before any thread
  runs), ``completed_ops(k, task, until_us)`` (if it counts its operations
  some other way), and ``shares_mm = False`` for a separate process.

To add a kind: write ``faultlab/threads/<kind>.py`` with that class (the
package finds every module in it), export the class from
``faultlab/__init__.py``, and add tests: one that runs it, and one per
refusal its ``check`` makes (tests/test_bad_input.py).
"""
from __future__ import annotations

import importlib
import math
import pkgutil

import simpy

from ..fault import do_page_fault, get_user_pages
from ..mm import FILE_BASE, down_read, holds, up_read
from ..schema import check_fields, normalize, refuse
from ..signals import TaskExit, exited

KINDS: dict = {}          # kind name -> class, in the order the modules are found


def register(cls):
    """Class decorator: a thread kind, known by its lower-case class name."""
    name = cls.__name__.lower()
    if name in KINDS:
        raise ValueError(f"thread kind {name!r} is registered twice")
    KINDS[name] = cls
    return cls


class ThreadKind:
    """What every thread kind has; the subclasses are frozen dataclasses
    with at least the fields ``name`` and ``start_us``."""

    __slots__ = ()
    shares_mm = True          # a thread of the process (False: a process of its own)

    def __post_init__(self):
        normalize(self)

    def check_all(self, scenario) -> None:
        """Raise InputError naming the first bad field (as threads[name].field)."""
        check_fields(self, f"{self.where}.")
        self.check(scenario)

    @property
    def where(self) -> str:
        """How messages name this thread's fields."""
        return f"threads[{self.name}]"

    def check(self, scenario) -> None:
        """The kind's own checks."""

    def setup(self, k) -> None:
        """Prepare the kernel before any thread runs (called once per thread)."""

    def body(self, k, task):
        """The thread's life: a generator of SimPy events."""
        raise NotImplementedError

    def completed_ops(self, k, task, until_us) -> int:
        """Operations completed by the end of the run."""
        return task.ops

    def max_ops(self, scenario) -> float:
        """An estimate of the most operations this thread can run in ``scenario``
        (math.inf if it could loop without simulated time passing)."""
        raise NotImplementedError(f"{type(self).__name__} must say how many operations it may run (max_ops)")

    def run_us(self, scenario) -> float:
        """How long this thread can run: from its start to the end of the run."""
        return max(scenario.until_ms * 1000.0 - self.start_us, 0.0)


def loop_ops(run_us, period_us, count=None) -> float:
    """The operations of a loop of at least ``period_us`` each over ``run_us``, at most ``count``."""
    n = math.inf if period_us <= 0 else math.floor(run_us / period_us) + 1
    return n if count is None else min(n, count)


class Task:
    """task_struct, the little of it the model needs."""

    __slots__ = ("name", "spec", "flags", "rng", "anon", "ops", "in_op", "shares_mm",
                 "sigkill", "kill_event", "proc", "dead")

    def __init__(self, spec, rng, shares_mm=True):
        self.name = spec.name
        self.spec = spec
        self.flags = 0           # current->flags (PF_FAULT_MAYRETRY lives here)
        self.rng = rng
        self.anon = []           # the anonymous VMAs this thread has mapped
        self.ops = 0             # operations completed
        self.in_op = False
        self.shares_mm = shares_mm
        self.sigkill = False     # SIGKILL pending (signals.py)
        self.kill_event = None   # fires at SIGKILL, for killable sleeps
        self.proc = None         # the SimPy process running this thread
        self.dead = False


def start(k, task):
    """Start ``task``'s body after its ``start_us``; returns the SimPy process."""
    spec = task.spec
    task.proc = k.env.process(_after(k, task, spec.start_us, spec.body(k, task)))
    return task.proc


def _after(k, task, delay, gen):
    try:
        if delay:
            yield k.env.timeout(delay)
        if k.sched is not None and (ev := k.sched.resume(task.name)) is not None:
            yield ev                         # the new thread waits for its CPU (cpu.py)
        yield from gen
    except TaskExit as death:                # SIGKILL noticed in the kernel (signals.py)
        exited(k, task, death.args[0])
    except simpy.Interrupt:                  # SIGKILL while in user space
        exited(k, task, "user")
    if k.sched is not None:
        k.sched.exit(task.name)
    if task.shares_mm:
        k.mm.users -= 1              # exit_mm -> mmput: the thread no longer uses the mm


def op_start(task):
    """The thread begins one operation."""
    task.in_op = True


def op_done(task):
    """The thread finished one operation."""
    task.in_op = False
    task.ops += 1
    if task.sigkill:                 # back in user space with SIGKILL pending: die here
        raise TaskExit("return_to_user")


def touch(k, task, page, via="fault"):
    """A load from file page ``page``: nothing if its pte is present, else a
    fault (or, via get_user_pages, a read of /proc/self/mem). Returns what to
    ``yield from`` (it adds no generator frame of its own)."""
    address = FILE_BASE + page
    if address in k.mm.ptes:
        return ()
    if via == "gup":
        return access_process_vm(k, task, address)
    return do_page_fault(k, task, address)


def access_process_vm(k, task, address):
    """mem_read (fs/proc/base.c) -> access_process_vm (mm/memory.c, 2.6.18):
    down_read, get_user_pages, up_read; mmap_sem held across any I/O."""
    yield k.cpu(k.costs.syscall_entry_us)
    yield from down_read(k.mm, task)
    yield from get_user_pages(k, task, address)
    if holds(k.mm, task):
        up_read(k.mm, task)
    if k.sched is not None:              # the read returns to user: a preemption point
        yield from k.sched.preempt_point(task.name)


def kind_names() -> str:
    return ", ".join(cls.__name__ for cls in KINDS.values())


for _m in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_m.name}")

__all__ = ["KINDS", "Task", "ThreadKind", "access_process_vm", "loop_ops", "op_done", "op_start", "refuse",
           "register", "start", "touch"] + [cls.__name__ for cls in KINDS.values()]
globals().update({cls.__name__: cls for cls in KINDS.values()})
