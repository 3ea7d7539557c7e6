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

from .disk import Disk
from .mm import FILE_BASE, MM
from .pagecache import PageCache
from .policies import get_policy
from .result import Result
from .errors import ModelBug
from .threads import Task, start
from .record import Outcome, Recorder


def stream(seed: int, name: str) -> random.Random:
    """An independent random stream per source, fixed by (seed, name)."""
    return random.Random(f"faultlab:{seed}:{name}")


class Kernel:
    """Everything one run shares: the 'kernel' the threads run in."""

    def __init__(self, scenario):
        self.scenario = scenario
        self.env = env = simpy.Environment()
        self.cpu = env.timeout               # ``yield k.cpu(us)``: spend us of CPU time
        self.rec = Recorder(env=env)
        self.costs = c = scenario.costs
        self.pass_us = c.find_vma_us + c.walk_us + c.find_get_page_us   # one pass up to the page lookup
        self.policy = get_policy(scenario.policy)
        self.mm = MM(env, self.rec, scenario.rwsem, scenario.costs.wakeup_us, scenario.file_pages)
        self.cache = PageCache(env)
        self.cache.preload(scenario.cached_pages)
        self.disk = Disk(env, self.rec, scenario.disk, stream(scenario.seed, "disk"))
        self.ra = {"mmap_miss": 0, "mmap_hit": 0}        # file->f_ra, shared by all mappers
        self.redone_walks = 0
        self.shared = {}                                  # state a thread kind shares between its threads (its setup)
        self.mm.insert_vma(FILE_BASE, FILE_BASE + scenario.file_pages, "file")
        self.tasks = []
        for spec in scenario.threads:
            task = Task(spec, stream(scenario.seed, f"thread:{spec.name}"), shares_mm=spec.shares_mm)
            self.tasks.append(task)
            self.mm.users += task.shares_mm
            spec.setup(self)


def run(scenario) -> Result:
    """Run one scenario to its end and return its Result."""
    scenario.check()
    k = Kernel(scenario)
    for task in k.tasks:
        start(k, task)
    until = scenario.until_ms * 1000.0
    # The record holds hundreds of thousands of small tuples; the cyclic
    # garbage collector would walk all of them again and again while they
    # pile up. Nothing the run makes needs it before the run ends.
    collecting = gc.isenabled()
    gc.disable()
    try:
        k.env.run(until=until)
    finally:
        if collecting:
            gc.enable()
    check_end(k, until)
    return Result.from_kernel(k, until)


def check_end(k, until):
    """Invariants at the end of every run (a failure is a model bug)."""
    open_faults = {}
    for f in k.rec.faults:
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
        if not page.uptodate:
            raise ModelBug(f"{page!r} is mapped but not uptodate")
    if k.rec.events and k.rec.events[-1][0] > until:
        raise ModelBug("an event was recorded after the end of the run")
