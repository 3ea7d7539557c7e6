"""Mapper: a thread that loops mmap + munmap of one anonymous page."""
from __future__ import annotations

from dataclasses import dataclass

from ..schema import at_least, refuse
from ..syscalls import sys_mmap_anon, sys_mprotect_anon, sys_munmap_anon
from . import ThreadKind, check_count, op_done, op_start, register


@register
@dataclass(frozen=True, slots=True)
class Mapper(ThreadKind):
    """A thread that loops mmap + munmap of one anonymous page (a writer of mmap_sem).

    With ``mprotect=True`` each iteration also mprotects the page. One op is one iteration.
    """

    name: str = "mapper"
    think_us: float = 2.0
    mprotect: bool = False
    count: int | None = None
    start_us: float = 0.0

    def check(self, s) -> None:
        p = self.where
        at_least(f"{p}.think_us", self.think_us, 0.0)
        check_count(p, self.count)
        if self.count is None and self.think_us <= 0:
            raise refuse(f"{p}.think_us", "a mapper that loops until the run ends needs think_us > 0")

    def body(self, k, task):
        """One op: mmap one anonymous page, (mprotect it,) munmap it."""
        while self.count is None or task.ops < self.count:
            op_start(task)
            yield from sys_mmap_anon(k, task)
            yield k.env.timeout(self.think_us)
            if self.mprotect:
                yield from sys_mprotect_anon(k, task)
                yield k.env.timeout(self.think_us)
            yield from sys_munmap_anon(k, task)
            op_done(task)
            yield k.env.timeout(self.think_us)
