"""What one live run produced, in the same record format as the model.

``events`` are ``(t_us, task, event, details)`` tuples, ``details`` a tuple
of ``(key, value)`` pairs, sorted by time, ``t_us`` counted from the moment
the threads were let go (see faultlab/record.py for the event names):

- ``op_start``/``op_end`` around every call a thread made (``kind`` says
  which: ``mmap``, ``munmap``, ``mincore``, ``madvise``, ``procmem``,
  ``slow_access``, ``warm_access``);
- ``io_wait_start``/``io_wait_end`` for the reader: while the FUSE server
  held the page's read request (its own CLOCK_MONOTONIC stamps), or the
  whole access if the server's log is missing; ``io_wait_start`` says
  (``mmap_sem``) whether the mmap lock is held across that wait;
- ``start_locking``/``acquire_returned``/``released`` from the kernel's
  mmap_lock tracepoints when they were recorded.

``ops`` has one dict per call: ``task``, ``kind``, ``start_us``, ``end_us``.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from .. import record

FORMAT = "faultlab.kernel_lab/1"


@dataclass
class LabResult:
    path: str                       # "fault" or "procmem"
    delay_ms: int
    third_reader: str | None        # None, "mincore", "madvise" or "procmem"
    kernel: str                     # uname release
    date: str                       # ISO 8601, UTC
    params: dict
    threads: list
    ops: list
    lock_events: list = field(default_factory=list)  # from the kernel's tracepoints
    tracepoints: bool = False       # kernel tracepoints were recorded
    tracepoint_note: str = ""
    resident_before: bool | None = None   # mincore said the page was in memory
    major_faults: int | None = None       # reader's ru_majflt delta over the access
    fuse_reads: list = field(default_factory=list)   # [start_us, end_us] per read
    heartbeat: list = field(default_factory=list)    # pure-Python thread ticks (t_us)
    events: list = field(init=False, repr=False)

    def __post_init__(self):
        self.events = build_events(self.ops, self.fuse_reads, self.lock_events,
                                   held_across_io=self.path == "procmem")

    def __repr__(self) -> str:
        s = self.summary()
        keys = ("path", "delay_ms", "third_reader", "kernel", "fault_ms",
                "writer_max_wait_ms", "reader3_max_wait_ms", "tracepoints")
        return "LabResult(" + ", ".join(f"{k}={s[k]!r}" for k in keys) + \
            f", ops={len(self.ops)}, events={len(self.events)})"

    # ----------------------------------------------------------------- views
    def ops_of(self, task: str, kinds=None) -> list[dict]:
        return [o for o in self.ops if o["task"] == task
                and (kinds is None or o["kind"] in kinds)]

    def access(self) -> dict | None:
        """The reader's slow access (the one that met the slow page)."""
        for o in self.ops_of("reader", ("slow_access",)):
            return o
        return None

    def summary(self) -> dict:
        acc = self.access()
        window = (acc["start_us"], acc["end_us"]) if acc else (0.0, 0.0)

        def longest(task):
            ds = [o["end_us"] - o["start_us"] for o in self.ops_of(task)]
            return round(max(ds) / 1000.0, 3) if ds else None

        def outside(o):      # did not overlap the slow access: a quiet cost
            return o["end_us"] < window[0] or o["start_us"] > window[1]

        costs = {}
        for o in self.ops:
            if o["task"] != "reader" and outside(o):
                costs.setdefault(o["kind"], []).append(o["end_us"] - o["start_us"])
        for o in self.ops_of("reader", ("warm_access",)):
            costs.setdefault("warm_access", []).append(o["end_us"] - o["start_us"])
        io = self.fuse_reads[0] if self.fuse_reads else window
        during = [o for o in self.ops_of("mapper")
                  if o["start_us"] > io[0] and o["end_us"] < io[1]]
        lock_waits = {k: round(v / 1000.0, 3) for k, v in record.lock_waits(self.events).items()}
        out = {
            "path": self.path,
            "delay_ms": self.delay_ms,
            "kernel": self.kernel,
            "date": self.date,
            "third_reader": self.third_reader,
            "fault_ms": round((window[1] - window[0]) / 1000.0, 3) if acc else None,
            "io_ms": (round((self.fuse_reads[0][1] - self.fuse_reads[0][0]) / 1000.0, 3)
                      if self.fuse_reads else None),
            "writer_max_wait_ms": longest("mapper"),
            "reader3_max_wait_ms": longest("reader3") if self.third_reader else None,
            "reader_ops": len(self.ops_of("reader")),
            "writer_ops": len(self.ops_of("mapper")),
            "reader3_ops": len(self.ops_of("reader3")) if self.third_reader else 0,
            "writer_ops_during_io": len(during),
            "major_faults": self.major_faults,
            "resident_before": self.resident_before,
            "tracepoints": self.tracepoints,
            "syscall_cost_us": {k: round(statistics.median(v), 3)
                                for k, v in sorted(costs.items())},
            "gap_us": self.params.get("gap_us"),
        }
        if lock_waits:
            out["lock_wait_ms"] = lock_waits
        return out

    # --------------------------------------------------------- serialisation
    def to_dict(self) -> dict:
        """Plain JSON-able dict; events are rebuilt from ops, reads and locks."""
        r3 = lambda x: round(x, 3)   # noqa: E731  (nanoseconds, in us)
        return {
            "format": FORMAT, "path": self.path, "delay_ms": self.delay_ms,
            "third_reader": self.third_reader, "kernel": self.kernel,
            "date": self.date, "params": self.params,
            "threads": list(self.threads),
            "ops_columns": ["task", "kind", "start_us", "end_us"],
            "ops": [[o["task"], o["kind"], r3(o["start_us"]), r3(o["end_us"])]
                    for o in self.ops],
            "lock_events_columns": ["t_us", "task", "event", "write", "success"],
            "lock_events": [[r3(t), task, ev, dict(d).get("write"), dict(d).get("success")]
                            for t, task, ev, d in self.lock_events],
            "tracepoints": self.tracepoints, "tracepoint_note": self.tracepoint_note,
            "resident_before": self.resident_before, "major_faults": self.major_faults,
            "fuse_reads": [[r3(a), r3(b)] for a, b in self.fuse_reads],
            "summary": self.summary(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "LabResult":
        if d.get("format") != FORMAT:
            raise ValueError(f"format: expected {FORMAT!r}, got {d.get('format')!r}")
        locks = []
        for t, task, ev, write, success in d.get("lock_events", []):
            det = (("write", write),) if success is None else \
                (("write", write), ("success", success))
            locks.append((float(t), task, ev, det))
        return cls(
            path=d["path"], delay_ms=d["delay_ms"], third_reader=d["third_reader"],
            kernel=d["kernel"], date=d["date"], params=d["params"],
            threads=list(d["threads"]),
            ops=[{"task": t, "kind": k, "start_us": float(a), "end_us": float(b)}
                 for t, k, a, b in d["ops"]],
            lock_events=locks,
            tracepoints=d.get("tracepoints", False),
            tracepoint_note=d.get("tracepoint_note", ""),
            resident_before=d.get("resident_before"),
            major_faults=d.get("major_faults"),
            fuse_reads=[tuple(r) for r in d.get("fuse_reads", [])],
        )


def build_events(ops: list, fuse_reads: list, lock_events: list,
                 held_across_io: bool = False) -> list:
    """The model-format event list: op and I/O events from ``ops`` and the
    server's read log, plus the kernel's lock events, sorted by time.

    ``io_wait_start`` carries ``mmap_sem`` like the model's: whether the
    reader sleeps on the I/O holding the mmap lock (the /proc/self/mem path).
    """
    events = []
    for o in sorted(ops, key=lambda o: o["start_us"]):
        task, kind, a, b = o["task"], o["kind"], o["start_us"], o["end_us"]
        events.append((a, task, record.OP_START, (("kind", kind),)))
        if kind == "slow_access":
            ra, rb = fuse_reads[0] if fuse_reads else (a, b)
            events.append((max(ra, a), task, record.IO_WAIT_START,
                           (("page", 0), ("mmap_sem", held_across_io))))
            events.append((min(rb, b), task, record.IO_WAIT_END, (("page", 0),)))
        events.append((b, task, record.OP_END, (("kind", kind),)))
    events.extend(lock_events)
    events.sort(key=lambda e: e[0])
    return events
