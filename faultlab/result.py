"""What a run leaves behind, and the summary built from it.

A ``Result`` holds the record (events, fault and syscall records) -- or, for
a run made with ``keep_events=False``, only the folds that were fed as the
run went -- and what the kernel state says at the end (operations per
thread, the longest mmap_sem queue). ``summary()`` turns it into a plain
dict of rounded numbers, the same for the same scenario and seed whether the
events were kept or not, ready for JSON. Its keys:

- ``policy``, ``seed``, ``until_ms``: the scenario's;
- ``rwsem``: the rwsem rules that ran, ``"2.6.18"`` or ``"modern"`` (the scenario's pick, else the policy's era);
- ``faults``: ``completed`` (ended, any outcome), ``major`` (of those), ``retries``
  (passes after each fault's first, unfinished faults included), ``unfinished``,
  ``max_attempts``, ``outcomes`` (outcome -> count, only those that occurred),
  ``latency_ms`` (nearest-rank p50/p95/p99/max of ended faults);
- ``syscalls``: ``completed``, ``wait_ms`` (request to grant of mmap_sem, percentiles);
- ``threads``: per thread ``completed`` operations, ``ops_per_s``, ``unfinished`` (0 or 1);
- ``mmap_sem``: ``held_across_io_ms`` (summed over threads), ``max_queue``;
- ``redone_walks``: passes that redid find_vma and the walk (the same count as ``retries``);
- ``disk_requests``: read requests sent to the disk;
- ``kernel_bugs``: ``{"t_us", "task", "bug"}`` for each.
- ``signals`` (only when the scenario sends any): per SIGKILL, ``thread``, ``sent_ms``,
  ``died_ms`` (None: it never died) and ``where`` it was noticed (faultlab/signals.py).
"""
from __future__ import annotations

from .errors import InputError
from .policies import rwsem_rules
from .record import IO_SUBMIT, RunFolds, format_event, percentiles  # noqa: F401  (notebooks import percentiles here)


class Result:
    def __init__(self, scenario, until_us, threads, ops, unfinished_ops, max_queue,
                 events=None, faults=None, syscalls=None, folds=None):
        self.scenario = scenario
        self.until_us = until_us
        self.threads = threads                 # names, in the scenario's order
        self.ops = ops                         # thread -> operations completed
        self.unfinished_ops = unfinished_ops   # thread -> 1 if it was mid-operation at the end
        self.max_queue = max_queue
        self._events, self._faults, self._syscalls = events, faults, syscalls
        self._folds = folds                    # RunFolds: fed during the run, or made when first asked

    @classmethod
    def from_kernel(cls, k, until, folds=None):
        ops = {t.name: t.spec.completed_ops(k, t, until) for t in k.tasks}
        unfinished = {t.name: int(t.in_op) for t in k.tasks}
        return cls(scenario=k.scenario, until_us=until, threads=[t.name for t in k.tasks], ops=ops,
                   unfinished_ops=unfinished, max_queue=k.mm.mmap_sem.max_queue,
                   events=k.rec.events, faults=k.rec.faults, syscalls=k.rec.syscalls, folds=folds)

    # -- the record (a run with keep_events=True) --------------------------------
    @property
    def kept(self) -> bool:
        return self._events is not None

    def _kept(self, what):
        if self._events is None:
            raise InputError(f"{what}: this run was made with keep_events=False, so it kept only its "
                             f"summary; run it again with keep_events=True to see its {what}")
        return getattr(self, "_" + what)

    @property
    def events(self) -> list:
        return self._kept("events")

    @property
    def faults(self) -> list:
        return self._kept("faults")

    @property
    def syscalls(self) -> list:
        return self._kept("syscalls")

    @property
    def folds(self) -> RunFolds:
        if self._folds is None:
            self._folds = RunFolds.of(self.until_us, self._events, self._faults, self._syscalls)
        return self._folds

    @property
    def redone_walks(self) -> int:
        return self.folds.faults.retries

    @property
    def disk_requests(self) -> int:
        return self.folds.disk.result()[IO_SUBMIT]

    @property
    def kernel_bugs(self) -> list:
        return self.folds.bugs.result()

    # -- views -----------------------------------------------------------------
    def summary(self) -> dict:
        folds = self.folds
        faults = folds.faults.result()
        secs = self.until_us / 1e6
        return {
            "policy": self.scenario.policy,
            "rwsem": rwsem_rules(self.scenario),      # the rules that ran: "2.6.18" or "modern"
            "seed": self.scenario.seed,
            "until_ms": self.scenario.until_ms,
            "faults": faults,
            "syscalls": folds.syscalls.result(),
            "threads": {name: {"completed": self.ops[name],
                               "ops_per_s": round(self.ops[name] / secs, 3),
                               "unfinished": self.unfinished_ops[name]}
                        for name in self.threads},
            "mmap_sem": {"held_across_io_ms": round(folds.held.result() / 1000.0, 3),
                         "max_queue": self.max_queue},
            "redone_walks": faults["retries"],
            "disk_requests": self.disk_requests,
            "kernel_bugs": self.kernel_bugs,
        } | ({"signals": folds.signals.result()} if self.scenario.signals else {})

    def trace_lines(self, task=None, limit=None):
        """The trace as text lines, one event per line (optionally one task's)."""
        evs = [e for e in self.events if task is None or e[1] == task]
        return [format_event(e) for e in evs[:limit]]
