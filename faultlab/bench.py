"""``python -m faultlab bench``: how fast the model runs, against raw SimPy.

Prints, measured in the same run on the same machine:

* simulated faults per wall-clock second for threaded_app(n_readers=16);
* SimPy's raw rate of acquire/hold/release cycles on a simpy.Resource
  shared by 16 processes;
* their ratio (the goal is >= 0.25: one simulated fault costs at most
  about four raw resource cycles);
* the wall time of two_thread over 10 simulated seconds (goal < 0.3 s),
  and of the same under nopage_retry, whose mapper loops ~15,000 times a
  simulated second.

Figures are printed, never asserted: these machines are noisy. Each is
the best of ``repeat`` runs.
"""
from __future__ import annotations

import time

import simpy

from .sim import run
from .workloads import threaded_app, two_thread


def raw_cycles(n_procs=16, until=200_000.0):
    """Acquire, hold for 1 time unit, release, think 1 unit: cycles per wall second."""
    env = simpy.Environment()
    res = simpy.Resource(env, capacity=1)
    done = [0]

    def proc():
        while True:
            with res.request() as req:
                yield req
                yield env.timeout(1.0)
            done[0] += 1
            yield env.timeout(1.0)
    for _ in range(n_procs):
        env.process(proc())
    t = time.perf_counter()
    env.run(until=until)
    return done[0] / (time.perf_counter() - t)


def fault_rate(until_ms=300.0):
    t = time.perf_counter()
    r = run(threaded_app(policy="sync", n_readers=16, until_ms=until_ms))
    wall = time.perf_counter() - t
    return len(r.faults) / wall, len(r.faults)


def wall(scenario):
    t = time.perf_counter()
    run(scenario)
    return time.perf_counter() - t


def main(repeat=3):
    raw = max(raw_cycles() for _ in range(repeat))
    faults = max(fault_rate()[0] for _ in range(repeat))
    sync10 = min(wall(two_thread(policy="sync", until_ms=10000.0)) for _ in range(repeat))
    retry1 = min(wall(two_thread(policy="nopage_retry", until_ms=1000.0)) for _ in range(repeat))
    print(f"threaded_app(n_readers=16), sync     {faults:12,.0f} simulated faults / s")
    print(f"simpy.Resource, 16 processes          {raw:12,.0f} acquire/hold/release cycles / s")
    print(f"ratio faults : raw cycles             {faults / raw:12.3f}   (goal >= 0.25)")
    print(f"two_thread sync, 10 simulated s       {sync10:12.3f} s wall (goal < 0.3)")
    print(f"two_thread nopage_retry, 1 simulated s{retry1:12.3f} s wall")
    return 0
