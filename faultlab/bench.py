"""``python -m faultlab bench``: how fast the model runs, against raw SimPy,
and what a long run costs in memory.

Prints, measured in the same run on the same machine:

* simulated faults per wall-clock second for threaded_app(n_readers=16);
* SimPy's raw rate of acquire/hold/release cycles on a simpy.Resource
  shared by 16 processes;
* their ratio (the goal is >= 0.25: one simulated fault costs at most
  about four raw resource cycles);
* the wall time of two_thread over 10 simulated seconds (goal < 0.3 s);
* the wall time per simulated second of two_thread under nopage_retry
  (whose mapper loops ~15,000 times a simulated second), keeping the
  record and keeping none (``keep_events=False``);
* the peak memory (VmHWM of a fresh process) of that run over 10 and
  100 simulated seconds without the record (goal: the same within 50 MB),
  unless ``memory=False``;
* each explorer's callback at its default settings: the model run, the
  figure and its PNG, and the whole update() laid out anew and drawn whole
  (the baseline), on a kept layout, on a kept background (what a new
  setting costs), and for a setting shown again; ratios to the baseline.

Figures are printed, never asserted: these machines are noisy. Each time
is the best of ``repeat`` runs.
"""
from __future__ import annotations

import io
import subprocess
import sys
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


def wall(scenario, **kw):
    t = time.perf_counter()
    run(scenario, **kw)
    return time.perf_counter() - t


_CHILD = """
import resource, faultlab
from faultlab.workloads import two_thread
faultlab.run(two_thread(policy="nopage_retry", until_ms={until_ms}), keep_events=False)
try:
    print([line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")][0])
except OSError:
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_memory_mb(until_ms) -> float:
    """Peak resident memory (MB) of a fresh Python that runs two_thread/nopage_retry
    for ``until_ms`` without keeping its events (faultlab imported too). Linux's
    VmHWM, which belongs to the new process; ru_maxrss would include this
    process's own size, inherited across fork and exec."""
    out = subprocess.run([sys.executable, "-c", _CHILD.format(until_ms=until_ms)], check=True,
                         capture_output=True, text=True).stdout
    return int(out.split()[-1]) / 1024.0


EXPLORER_MODES = ("laid out anew", "layout kept", "background kept", "shown again")


def _explorers():
    """name -> a fresh explorer at its default settings (the twin over the recorded runs)."""
    from . import widgets
    from .kernel_lab import load_recorded, twin
    makers = {name: (lambda cls=cls: cls(run_now=False)) for name, cls in widgets.EXPLORERS.items()}
    makers["twin"] = lambda: twin.explorer(load_recorded(), run_now=False)
    return makers


def explorer_callbacks(repeat=3) -> dict:
    """Explorer name -> {part or mode: best time (s)}. The parts of one answer: the model
    run, the figure (its Axes emptied and drawn into) and its PNG (on the kept layout and
    background). The modes, whole ``update()`` calls: the figure laid out anew and drawn
    whole (what every redraw cost before layouts were kept), on a kept layout but drawn
    whole (before backgrounds were kept), on a kept background (what a new setting costs
    now), and a setting shown again (``update(reuse=True)``)."""
    import matplotlib
    matplotlib.use("Agg")
    from contextlib import redirect_stdout

    from . import widgets

    def best(fn):
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            with redirect_stdout(io.StringIO()):        # display() outside a notebook prints a repr
                fn()
            times.append(time.perf_counter() - t)
        return min(times)

    out = {}
    for name, make in _explorers().items():
        ex = make()
        with redirect_stdout(io.StringIO()):
            ex.update()
        fig = ex._figure

        def anew():
            widgets._LAYOUTS.clear()
            fig.__dict__.pop("_faultlab_backgrounds", None)
            ex.update()

        def layout_kept():
            fig.__dict__.pop("_faultlab_backgrounds", None)
            ex.update()

        scenario = ex.last_result.scenario
        t = {"run": best(lambda: run(scenario)),
             "figure": best(lambda: ex.figure(ex.last_result))}
        t["PNG"] = best(lambda: widgets.png_bytes(ex.figure(ex.last_result))) - t["figure"]
        for mode, fn in zip(EXPLORER_MODES, (anew, layout_kept, ex.update, lambda: ex.update(reuse=True))):
            t[mode] = best(fn)
        out[name] = t
    return out


def main(repeat=3, memory=True):
    raw = max(raw_cycles() for _ in range(repeat))
    faults = max(fault_rate()[0] for _ in range(repeat))
    sync10 = min(wall(two_thread(policy="sync", until_ms=10000.0)) for _ in range(repeat))
    retry = two_thread(policy="nopage_retry", until_ms=1000.0)
    kept = min(wall(retry) for _ in range(repeat))
    folded = min(wall(retry, keep_events=False) for _ in range(repeat))
    print(f"threaded_app(n_readers=16), sync     {faults:12,.0f} simulated faults / s")
    print(f"simpy.Resource, 16 processes          {raw:12,.0f} acquire/hold/release cycles / s")
    print(f"ratio faults : raw cycles             {faults / raw:12.3f}   (goal >= 0.25)")
    print(f"two_thread sync, 10 simulated s       {sync10:12.3f} s wall (goal < 0.3)")
    print(f"two_thread nopage_retry, per simulated s, events kept      {kept:8.3f} s wall")
    print(f"two_thread nopage_retry, per simulated s, keep_events=False{folded:8.3f} s wall")
    if memory:
        m10, m100 = peak_memory_mb(10_000.0), peak_memory_mb(100_000.0)
        print(f"two_thread nopage_retry, keep_events=False, peak memory:  10 simulated s {m10:7.1f} MB, "
              f"100 simulated s {m100:7.1f} MB (goal: within 50 MB)")
    try:
        callbacks = explorer_callbacks(repeat)
    except ImportError as e:
        print(f"explorers: not measured ({e.name} is not installed)")
    else:
        base = EXPLORER_MODES[0]
        print(f"explorer callbacks, best of {repeat} (s; ratio to '{base}', drawn whole with a new layout):")
        for name, t in callbacks.items():
            modes = ", ".join(f"{m} {t[m]:.3f} ({t[m] / t[base]:.2f})" for m in EXPLORER_MODES[1:])
            print(f"explorer {name:<9} run {t['run']:.3f} figure {t['figure']:.3f} PNG {t['PNG']:.3f} | "
                  f"{base} {t[base]:.3f}, {modes}")
    return 0
