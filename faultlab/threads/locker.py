"""Locker: a thread that loops a syscall taking mmap_sem for read."""
from __future__ import annotations

from dataclasses import dataclass

from ..schema import MAX_COST_US, THINK_FLOOR_US, count, name, refuse, spec, start, think
from ..syscalls import sys_read_locked
from . import ThreadKind, loop_ops, op_done, op_start, register

KINDS = ("mincore", "madvise")


@register
@dataclass(frozen=True, slots=True)
class Locker(ThreadKind):
    """A thread that loops a syscall taking mmap_sem for *read* -- mincore or
    madvise -- holding it ``hold_us`` each time. One op is one syscall."""

    name: str = name("locker")
    kind: str = spec("mincore", "choice", choices=KINDS, help="the syscall")
    hold_us: float = spec(1.0, "real", "us", low=0.0, high=MAX_COST_US, help="time the syscall holds mmap_sem for read")
    think_us: float = think(10.0, "user time between two syscalls")
    count: int | None = count(None, "syscalls")
    start_us: float = start()

    def check(self, s) -> None:
        if self.count is None and self.think_us + self.hold_us < THINK_FLOOR_US:
            raise refuse(f"{self.where}.think_us", f"a locker that loops until the run ends needs "
                         f"think_us + hold_us >= {THINK_FLOOR_US}")

    def max_ops(self, s) -> float:
        return loop_ops(self.run_us(s), s.costs.syscall_entry_us + self.hold_us + self.think_us, self.count)

    def body(self, k, task):
        """One op: one read-locked syscall (mincore, madvise)."""
        while self.count is None or task.ops < self.count:
            op_start(task)
            yield from sys_read_locked(k, task, self.kind, self.hold_us)
            op_done(task)
            if self.think_us:
                yield k.env.timeout(self.think_us)
