"""Evictor: a separate process looping posix_fadvise(FADV_DONTNEED) over file pages."""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..pagecache import droppable
from ..schema import at_least, positive, refuse
from ..syscalls import sys_fadvise_dontneed
from . import ThreadKind, check_count, register


@register
@dataclass(frozen=True, slots=True)
class Evictor(ThreadKind):
    """A separate process looping posix_fadvise(FADV_DONTNEED) over file pages.

    It shares the file, not the mm: it never takes the victim's mmap_sem.
    One op is one fadvise call.
    """

    name: str = "evictor"
    first_page: int = 0
    n_pages: int = 1
    period_us: float = 50.0
    start_us: float = 0.0
    count: int | None = None

    shares_mm = False

    def check(self, s) -> None:
        p = self.where
        positive(f"{p}.period_us", self.period_us)
        positive(f"{p}.n_pages", self.n_pages, integer=True)
        at_least(f"{p}.first_page", self.first_page, 0, integer=True)
        if self.first_page + self.n_pages > s.file_pages:
            raise refuse(f"{p}.first_page", f"pages {self.first_page}..{self.first_page + self.n_pages - 1} "
                         f"are outside the file (0..{s.file_pages - 1})")
        check_count(p, self.count)

    def call_us(self, costs) -> float:
        """The CPU time of one fadvise call over the range."""
        return costs.fadvise_call_us + costs.fadvise_page_us * self.n_pages

    def body(self, k, task):
        """posix_fadvise(FADV_DONTNEED) every ``period_us``; each call drops, at
        the end of its fixed cost, the pages that may be dropped.

        The model sleeps through the calls at which nothing in the range could
        be dropped (waking when a page there loses a reference, its lock or a
        mapping), then runs the next call on the same period: the pages it
        drops, and when, are those of a loop that never skipped a call."""
        call = self.call_us(k.costs)
        period = max(self.period_us, call)
        t0 = k.env.now
        pages = range(self.first_page, self.first_page + self.n_pages)
        tick = 0
        while self.count is None or tick < self.count:
            if not any((p := k.cache.lookup(i)) is not None and
                       (droppable(p) or k.pagevecs.holds(task.name, p)) for i in pages):
                yield k.cache.wait_for_change()
                continue
            tick = max(tick, math.ceil((k.env.now - t0 - call) / period - 1e-9))
            if self.count is not None and tick >= self.count:
                break
            yield k.env.timeout(t0 + tick * period + call - k.env.now)
            sys_fadvise_dontneed(k, task, self.first_page, self.n_pages)
            tick += 1

    def completed_ops(self, k, task, until_us) -> int:
        """The calls a loop that never skipped one has completed by ``until_us``
        (the body sleeps through the calls that could drop nothing)."""
        call = self.call_us(k.costs)
        period = max(self.period_us, call)
        if until_us < self.start_us + call:
            return 0
        n = int((until_us - self.start_us - call) // period) + 1
        return n if self.count is None else min(n, self.count)
