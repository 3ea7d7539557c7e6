"""Evictor: a separate process looping posix_fadvise(FADV_DONTNEED) over file pages."""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..pagecache import droppable
from ..schema import MAX_EVICT_PAGES, MAX_FILE_PAGES, MAX_TIME_US, THINK_FLOOR_US, count, name, refuse, spec, start
from ..syscalls import sys_fadvise_dontneed
from . import ThreadKind, register


@register
@dataclass(frozen=True, slots=True)
class Evictor(ThreadKind):
    """A separate process looping posix_fadvise(FADV_DONTNEED) over file pages.

    It shares the file, not the mm: it never takes the victim's mmap_sem.
    One op is one fadvise call.
    """

    name: str = name("evictor")
    first_page: int = spec(0, "int", "", low=0, high=MAX_FILE_PAGES - 1, help="first page of the range")
    n_pages: int = spec(1, "int", "pages", low=1, high=MAX_EVICT_PAGES, help="pages in the range")
    period_us: float = spec(50.0, "real", "us", low=THINK_FLOOR_US, high=MAX_TIME_US,
                            ui=(0.1, 1000.0, "log"), help="time from one call to the next")
    start_us: float = start()
    count: int | None = count(None, "calls")

    shares_mm = False

    def check(self, s) -> None:
        p = self.where
        if self.first_page + self.n_pages > s.file_pages:
            raise refuse(f"{p}.first_page", f"pages {self.first_page}..{self.first_page + self.n_pages - 1} "
                         f"are outside the file (0..{s.file_pages - 1})")

    def max_ops(self, s) -> float:
        """None of the run's cost: the body runs a call only when a page of the
        range can be dropped, which takes another thread's read since the last
        call; it sleeps through the rest (see ``body``)."""
        return 0

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
