"""The block device: requests, their latency, and how many run at once.

A read request covers the pages of one submission (a read-around window
or a single page). When it completes, every page it covered becomes
uptodate and is unlocked, as mpage_end_io_read does in fs/mpage.c
(2.6.18): SetPageUptodate, then unlock_page, which wakes the sleepers.

Latency comes from the disk's own random stream, so every policy run on
the same scenario and seed sees the same sequence of latencies.
"""
from __future__ import annotations

import math

import simpy

from .pagecache import unlock_page


class Disk:
    def __init__(self, env, rec, spec, rng):
        self.env = env
        self.rec = rec
        self.spec = spec
        self.rng = rng
        self.slots = simpy.Resource(env, capacity=spec.queue_depth)
        self.requests = 0

    def latency_us(self) -> float:
        s = self.spec
        mean = s.latency_ms * 1000.0
        if s.distribution == "fixed":
            return mean
        if s.distribution == "exponential":
            return self.rng.expovariate(1.0 / mean)
        return mean * math.exp(self.rng.gauss(0.0, s.sigma))    # lognormal, median = latency

    def submit(self, task_name: str, pages: list) -> None:
        """Start a read of ``pages`` (already in the cache, locked); returns at once."""
        self.requests += 1
        self.rec.emit(task_name, "io_submit", first=pages[0].index, n=len(pages))
        self.env.process(self._serve(task_name, pages))

    def _serve(self, task_name, pages):
        with self.slots.request() as slot:
            yield slot
            yield self.env.timeout(self.latency_us())
        for page in pages:
            page.uptodate = True
            unlock_page(page)
        self.rec.emit(task_name, "io_complete", first=pages[0].index, n=len(pages))
