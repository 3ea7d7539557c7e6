"""What a run leaves behind, and the summary built from it.

A ``Result`` holds the record (events, fault and syscall records, kernel
bugs a broken-on-purpose policy walked into) and a few counters the
kernel state kept. ``summary()`` turns it into a plain dict of rounded
numbers, the same for the same scenario and seed, ready for JSON.
"""
from __future__ import annotations

from dataclasses import dataclass

from .record import Outcome, format_event


def percentiles(values, scale=1.0) -> dict:
    """Nearest-rank p50/p95/p99/max, rounded; zeros for an empty list."""
    if not values:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
    v = sorted(values)
    n = len(v)

    def rank(q):
        return v[min(n - 1, max(0, -(-q * n // 100) - 1))]
    return {"p50": round(rank(50) / scale, 3), "p95": round(rank(95) / scale, 3),
            "p99": round(rank(99) / scale, 3), "max": round(v[-1] / scale, 3)}


def held_across_io_us(events, until_us) -> float:
    """Time threads spent waiting for a page's read while holding mmap_sem, summed
    over threads, from the record: io_wait_start with mmap_sem=True to io_wait_end
    (or to the end of the run)."""
    since, total = {}, 0.0
    for t, task, event, details in events:
        if event == "io_wait_start" and ("mmap_sem", True) in details:
            since[task] = t
        elif event == "io_wait_end" and task in since:
            total += t - since.pop(task)
    return total + sum(until_us - t for t in since.values())


@dataclass
class Result:
    scenario: object
    until_us: float
    events: list
    faults: list
    syscalls: list
    kernel_bugs: list
    threads: list                      # names, in the scenario's order
    ops: dict                          # thread -> operations completed
    unfinished_ops: dict               # thread -> 1 if it was mid-operation at the end
    max_queue: int
    redone_walks: int
    disk_requests: int

    @classmethod
    def from_kernel(cls, k, until):
        ops = {t.name: t.spec.completed_ops(k, t, until) for t in k.tasks}
        unfinished = {t.name: int(t.in_op) for t in k.tasks}
        return cls(scenario=k.scenario, until_us=until, events=k.rec.events, faults=k.rec.faults,
                   syscalls=k.rec.syscalls, kernel_bugs=k.rec.kernel_bugs,
                   threads=[t.name for t in k.tasks], ops=ops, unfinished_ops=unfinished,
                   max_queue=k.mm.mmap_sem.max_queue,
                   redone_walks=k.redone_walks, disk_requests=k.disk.requests)

    # -- views -----------------------------------------------------------------
    def summary(self) -> dict:
        done = [f for f in self.faults if f.outcome is not Outcome.UNFINISHED]
        sys_done = [s for s in self.syscalls if s.end_us is not None]
        secs = self.until_us / 1e6
        return {
            "policy": self.scenario.policy,
            "seed": self.scenario.seed,
            "until_ms": self.scenario.until_ms,
            "faults": {
                "completed": len(done),
                "major": sum(f.major for f in done),
                "retries": sum(max(f.attempts - 1, 0) for f in self.faults),
                "unfinished": len(self.faults) - len(done),
                "max_attempts": max((f.attempts for f in self.faults), default=0),
                "outcomes": {o.value: sum(f.outcome is o for f in self.faults) for o in Outcome
                             if any(f.outcome is o for f in self.faults)},
                "latency_ms": percentiles([f.end_us - f.start_us for f in done], 1000.0),
            },
            "syscalls": {
                "completed": len(sys_done),
                "wait_ms": percentiles([s.granted_us - s.requested_us for s in sys_done], 1000.0),
            },
            "threads": {name: {"completed": self.ops[name],
                               "ops_per_s": round(self.ops[name] / secs, 3),
                               "unfinished": self.unfinished_ops[name]}
                        for name in self.threads},
            "mmap_sem": {"held_across_io_ms": round(held_across_io_us(self.events, self.until_us) / 1000.0, 3),
                         "max_queue": self.max_queue},
            "redone_walks": self.redone_walks,
            "disk_requests": self.disk_requests,
            "kernel_bugs": [dict(b) for b in self.kernel_bugs],
        }

    def trace_lines(self, task=None, limit=None):
        """The trace as text lines, one event per line (optionally one task's)."""
        evs = [e for e in self.events if task is None or e[1] == task]
        return [format_event(e) for e in evs[:limit]]
