"""Mapper: a thread that loops mmap + munmap of one anonymous page."""
from __future__ import annotations

from dataclasses import dataclass

from ..schema import count, name, refuse, spec, start, think
from ..syscalls import sys_mmap_anon, sys_mprotect_anon, sys_munmap_anon
from . import ThreadKind, loop_ops, op_done, op_start, register


@register
@dataclass(frozen=True, slots=True)
class Mapper(ThreadKind):
    """A thread that loops mmap + munmap of one anonymous page (a writer of mmap_sem).

    With ``mprotect=True`` each iteration also mprotects the page. One op is one iteration.
    """

    name: str = name("mapper")
    think_us: float = think(2.0, "user time after each syscall")
    mprotect: bool = spec(False, "bool", help="also mprotect the page each iteration")
    count: int | None = count(None, "iterations")
    start_us: float = start()

    def check(self, s) -> None:
        if self.count is None and self.think_us <= 0:
            raise refuse(f"{self.where}.think_us", "a mapper that loops until the run ends needs think_us > 0")

    def max_ops(self, s) -> float:
        """Each iteration: its syscalls' CPU time and a think time after each."""
        c = s.costs
        calls = [c.mmap_us, c.munmap_us] + ([c.mprotect_us] if self.mprotect else [])
        return loop_ops(self.run_us(s), sum(calls) + len(calls) * (c.syscall_entry_us + self.think_us),
                        self.count)

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
