"""Locker: a thread that loops a syscall taking mmap_sem for read."""
from __future__ import annotations

from dataclasses import dataclass

from ..schema import at_least, refuse
from ..syscalls import sys_read_locked
from . import ThreadKind, check_count, op_done, op_start, register


@register
@dataclass(frozen=True, slots=True)
class Locker(ThreadKind):
    """A thread that loops a syscall taking mmap_sem for *read* -- mincore or
    madvise -- holding it ``hold_us`` each time. One op is one syscall."""

    name: str = "locker"
    kind: str = "mincore"
    hold_us: float = 1.0
    think_us: float = 10.0
    count: int | None = None
    start_us: float = 0.0

    def check(self, s) -> None:
        p = self.where
        at_least(f"{p}.hold_us", self.hold_us, 0.0)
        at_least(f"{p}.think_us", self.think_us, 0.0)
        check_count(p, self.count)
        if self.count is None and self.think_us + self.hold_us <= 0:
            raise refuse(f"{p}.think_us", "a locker that loops until the run ends needs think_us > 0")

    def body(self, k, task):
        """One op: one read-locked syscall (mincore, madvise)."""
        while self.count is None or task.ops < self.count:
            op_start(task)
            yield from sys_read_locked(k, task, self.kind, self.hold_us)
            op_done(task)
            if self.think_us:
                yield k.env.timeout(self.think_us)
