"""One run of the model: build the kernel state, start the threads, run, check.

``run(scenario)`` is the whole public entry. It validates the scenario,
builds one ``Kernel`` (the SimPy environment, the mm, the page cache, the
disk, the policy, the recorder), starts one process per thread, runs to
``until_ms`` and returns a ``Result`` built from the record.
"""
from __future__ import annotations

import gc
import random

import simpy

from . import signals
from .disk import Disk
from .mm import FILE_BASE, MM
from .pagecache import PageCache
from .cpu import Sched
from .pagevec import Pagevecs
from .policies import get_policy, rwsem_rules
from .result import Result
from .errors import InputError, ModelBug
from .scenario import check_scenario
from .threads import Task, start
from .record import Outcome, Recorder, StreamRecorder


def stream(seed: int, name: str) -> random.Random:
    """An independent random stream per source, fixed by (seed, name)."""
    return random.Random(f"faultlab:{seed}:{name}")


class Kernel:
    """Everything one run shares: the 'kernel' the threads run in."""

    def __init__(self, scenario, keep_events=True, folds=()):
        self.scenario = scenario
        self.env = env = simpy.Environment()
        self.cpu = env.timeout               # ``yield k.cpu(us)``: spend us of CPU time
        self.rec = (Recorder if keep_events else StreamRecorder)(env, folds)
        self.costs = c = scenario.costs
        self.pass_us = c.find_vma_us + c.walk_us + c.find_get_page_us   # one pass up to the page lookup
        self.policy = get_policy(scenario.policy)
        self.mm = MM(env, self.rec, rwsem_rules(scenario), scenario.costs.wakeup_us, scenario.file_pages,
                     hz=scenario.hz)
        self.cache = PageCache(env, scenario.file_pages)
        self.cache.preload(scenario.cached_pages)
        names = [t.name for t in scenario.threads]
        self.sched = None if scenario.cpus is None else Sched(env, scenario.cpus, names)
        self.mm.sched = self.mm.mmap_sem.sched = self.sched
        cpu_index = {name: i for i, name in enumerate(names)}              # one CPU per thread
        self.pagevecs = Pagevecs(self, scenario.drain,
                                 cpu_index.__getitem__ if self.sched is None else self.sched.cpu_of)
        self.disk = Disk(env, self.rec, scenario.disk, stream(scenario.seed, "disk"))
        self.ra = {"mmap_miss": 0, "mmap_hit": 0}        # file->f_ra, shared by all mappers
        self.shared = {}                                  # state a thread kind shares between its threads (its setup)
        self.mm.insert_vma(FILE_BASE, FILE_BASE + scenario.file_pages, "file")
        self.tasks = []
        for spec in scenario.threads:
            task = Task(spec, stream(scenario.seed, f"thread:{spec.name}"), shares_mm=spec.shares_mm)
            self.tasks.append(task)
            self.mm.users += task.shares_mm
            spec.setup(self)


def run(scenario, keep_events=True, folds=(), progress=None) -> Result:
    """Run one scenario to its end and return its Result.

    ``keep_events=False`` keeps no record: the summary is folded from each
    event as it is emitted (the same summary as a full run's) and memory
    does not grow with the run's length. ``folds``: more ``record.Fold``s
    to feed every event (as emitted, or from the kept list at the end).
    ``progress``: called with the fraction of simulated time done, about a
    hundred times. A run that keeps its events is refused early (an
    InputError naming until_ms) if its record would outgrow
    ``KEEP_LIMIT_MB``; see ``keep_check``.
    """
    check_scenario(scenario)
    k = Kernel(scenario, keep_events=keep_events, folds=folds)
    until = scenario.until_ms * 1000.0
    if not keep_events:
        k.rec.start(until)
    for task in k.tasks:
        start(k, task)
    signals.start(k)
    # The record holds hundreds of thousands of small tuples; the cyclic
    # garbage collector would walk all of them again and again while they
    # pile up. Nothing the run makes needs it before the run ends.
    collecting = gc.isenabled()
    if keep_events:
        gc.disable()
    try:
        advance(k, until, keep_check if keep_events else None, progress)
    finally:
        if collecting:
            gc.enable()
    check_end(k, until)
    return Result.from_kernel(k, until, k.rec.finish(until))


# -- running in legs: a look at the record now and then ------------------------

KEEP_LIMIT_MB = 2048          # a kept record larger than this is refused
BYTES_PER_EVENT = 200         # a kept event with its share of the fault and syscall records (measured
                              # with tracemalloc: 150-200 bytes on two_thread and threaded_app)
CHECK_EVENTS = 50_000         # the size is checked until this many events are kept
CHECK_FIRST_US = 1000.0       # first check after 1 simulated ms, then at 2, 4, 8, ... ms


def keep_check(k, until):
    """After a leg: refuse the run if its record, extrapolated from the events
    kept so far to the whole of ``until``, would outgrow KEEP_LIMIT_MB.
    Returns False once enough events are kept for the estimate to hold."""
    n = len(k.rec.events)
    estimate = n * until / k.env.now
    mb = estimate * BYTES_PER_EVENT / 1e6
    if mb > KEEP_LIMIT_MB:
        raise InputError(
            f"until_ms: keeping every event of this run would take about {mb:,.0f} MB "
            f"(about {estimate:,.0f} events over {until / 1000:g} ms; the limit is {KEEP_LIMIT_MB:,} MB); "
            f"run it with keep_events=False (the same summary, no event list) or a shorter until_ms")
    return n < CHECK_EVENTS


def advance(k, until, check=None, progress=None):
    """``env.run(until)`` in legs: ``check(k, until)`` after legs ending at
    1, 2, 4, 8, ... simulated ms (while it returns True), ``progress(fraction)``
    after each hundredth. A leg's end is an extra SimPy event at that time,
    before any other event there; the order of all others is unchanged."""
    env = k.env
    next_check = CHECK_FIRST_US if check else None
    hundredth = 1
    while env.now < until:
        ends = [until]
        if next_check is not None:
            ends.append(next_check)
        if progress is not None:
            ends.append(until * hundredth / 100)
        leg = min(ends)
        env.run(until=leg)
        if next_check is not None and leg >= next_check:
            next_check = next_check * 2 if check(k, until) else None
        if progress is not None:
            while hundredth <= 100 and until * hundredth / 100 <= leg:
                hundredth += 1
            progress(env.now / until)


def check_end(k, until):
    """Invariants at the end of every run (a failure is a model bug)."""
    open_faults = {}
    for f in k.rec.faults if k.rec.keep else k.rec.open_faults():
        if f.end_us is None:
            if f.outcome is not Outcome.UNFINISHED:
                raise ModelBug(f"fault of {f.task} has no end but outcome {f.outcome}")
            open_faults.setdefault(f.task, 0)
            open_faults[f.task] += 1
        elif f.end_us > until:
            raise ModelBug(f"fault of {f.task} ended after the run")
    busy = {t.name for t in k.tasks if t.in_op}
    for name in open_faults:
        if name not in busy:
            raise ModelBug(f"{name} has an unfinished fault but is not in an operation")
    for page in k.mm.ptes.values():
        if not page.uptodate and not (k.policy.injects_bugs and not page.in_cache):
            raise ModelBug(f"{page!r} is mapped but not uptodate")   # (a truncated page: a recorded bug)
    last = k.rec.last_time()
    if last is not None and last > until:
        raise ModelBug("an event was recorded after the end of the run")
