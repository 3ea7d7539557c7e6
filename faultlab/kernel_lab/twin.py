"""The model twin of a kernel-lab run: the same experiment, as a faultlab scenario.

A live run (:func:`faultlab.kernel_lab.measure`) has three lanes: ``reader``
touches one slow page once, ``mapper`` loops mmap + munmap of an anonymous
page, ``reader3`` (if any) loops mincore.  :func:`twin_scenario` builds the
scenario that replays it in the model, with the parameters the run measured,
and :func:`compare` runs it and sets the model's answers beside the
measurements:

    from faultlab.kernel_lab import load_recorded, twin
    runs = load_recorded()
    for row in twin.compare(runs):
        print(row)
    print(twin.text_table(twin.compare(runs)))

What is modelled
----------------
- The slow page: a one-page file (``file_pages=1``, no read-around,
  ``ra_pages=0``) on a disk whose every read takes exactly ``delay_ms``
  (``Disk(latency_ms=delay_ms, distribution="fixed")``), as the FUSE server
  sleeps ``delay_ms`` in its read.
- Today's lock rules: ``rwsem="modern"`` (kernel/locking/rwsem.c: a new
  reader queues when the lock is held by readers and a writer waits).
- The two paths of the reader, ``Reader(pattern="fixed", count=1)``
  starting when the measured slow access started:
  ``path="fault"`` -> ``via="fault"`` under policy ``per_vma_lock`` (the
  fault runs under the VMA's own lock, drops it to wait for the read and
  retries under mmap_lock with FAULT_FLAG_TRIED set, as Linux 6.8 does
  (46e714c729c8)); ``path="procmem"`` -> ``via="gup"``
  (the /proc/self/mem read: get_user_pages with mmap_lock held for reading
  across the I/O, no retry allowed).
- The writer: ``Mapper`` with ``Costs.mmap_us`` / ``Costs.munmap_us`` set
  from the medians the run measured (minus the model's syscall entry cost)
  and a think time that gives the measured loop period.
- The third reader: ``Locker(kind="mincore")`` holding the lock for the
  measured median mincore time, looping at the measured period.

What is simplified
------------------
- One CPU per thread and no scheduler: the model has no preemption, no
  timer slack and no other processes, so a measured tail (a call that took
  a millisecond because its thread was not scheduled) has no twin.  That is
  why the predicted waits on the fault path are a few microseconds while the
  measured longest call is tens of microseconds or more.
- A measured call is timed from user space around a ctypes call, so it
  includes the ctypes and Python overhead; the model charges the whole
  median to the time under the lock.
- The mapper's user time sits after both calls in the model
  (``Mapper.think_us`` is one number), after munmap alone in the lab; only
  the period matches, not the phase.
- The FUSE round trip (request to the server, reply, page-cache fill) is
  all in the disk latency; the wake-up after it is ``Costs.wakeup_us``.
- The lab reader's later ``warm_access`` reads are not modelled (the page is
  mapped then, so they cost nothing in the model).

A metric compares like with like: both sides take the longest call of the
lane, from entering the call to returning from it (during a convoy that is
the wait for mmap_lock), and the reader's access from its start to its end.
"""
from __future__ import annotations

import dataclasses
import math
import statistics

import matplotlib.pyplot as plt

from .. import plots, record
from ..rwsem import HZ
from ..scenario import HZ_CHOICES, Costs, Disk, Locker, Mapper, Reader, Scenario
from ..schema import THINK_FLOOR_US
from ..sim import run

PATH_POLICY = {"fault": "per_vma_lock", "procmem": "per_vma_lock"}   # today's fault path; a gup read ignores it
PATH_VIA = {"fault": "fault", "procmem": "gup"}
METRICS = ("writer_max_wait_ms", "reader3_max_wait_ms", "fault_ms", "writer_calls_during_io")
ENTRY_US = Costs().syscall_entry_us
_FALLBACK_COST_US = {"mmap": Costs().mmap_us, "munmap": Costs().munmap_us, "mincore": 1.0}


# -- what the run measured ----------------------------------------------------------

def _period_us(lab, task, kind):
    """Median time from one ``kind`` call of ``task`` to its next one, outside the slow access."""
    acc = lab.access()
    lo, hi = (acc["start_us"], acc["end_us"]) if acc else (math.inf, -math.inf)
    starts = [o["start_us"] for o in lab.ops_of(task, (kind,))]
    gaps = [b - a for a, b in zip(starts, starts[1:]) if b < lo or a > hi]
    return statistics.median(gaps) if gaps else None


def measured_params(lab) -> dict:
    """The numbers the twin takes from a run: costs, periods, start times (us)."""
    s = lab.summary()
    cost = s["syscall_cost_us"]
    acc = lab.access()
    first = {}
    for o in lab.ops:
        first.setdefault(o["task"], o["start_us"])
    third = lab.third_reader
    return {
        "path": lab.path,
        "delay_ms": lab.delay_ms,
        "reader_start_us": acc["start_us"] if acc else 0.0,
        "mmap_us": cost.get("mmap", _FALLBACK_COST_US["mmap"] + ENTRY_US),
        "munmap_us": cost.get("munmap", _FALLBACK_COST_US["munmap"] + ENTRY_US),
        "mapper_period_us": _period_us(lab, "mapper", "mmap") or float(lab.params.get("gap_us") or 1000),
        "mapper_start_us": first.get("mapper", 0.0),
        "reader3_kind": third,
        "reader3_us": cost.get(third, _FALLBACK_COST_US["mincore"] + ENTRY_US) if third else None,
        "reader3_period_us": (_period_us(lab, "reader3", third) or float(lab.params.get("gap_us") or 1000))
                             if third else None,
        "reader3_start_us": first.get("reader3", 0.0) if third else None,
        "until_us": max((o["end_us"] for o in lab.ops), default=0.0),
    }


# -- the twin -------------------------------------------------------------------------

def twin_scenario(lab, delay_ms: float | None = None, path: str | None = None) -> Scenario:
    """The faultlab scenario of a kernel-lab run, with its measured parameters.

    ``delay_ms`` and ``path`` override the run's own (to ask the twin "what
    if"); the thread names are the lab's lane names, in the lab's order.
    """
    p = measured_params(lab)
    path = path or lab.path
    if path not in PATH_VIA:
        raise ValueError(f"path: must be one of {tuple(PATH_VIA)}, got {path!r}")
    delay = float(p["delay_ms"] if delay_ms is None else delay_ms)
    if not delay > 0:
        raise ValueError(f"delay_ms: must be greater than 0, got {delay_ms!r}")
    costs = dataclasses.replace(Costs(), mmap_us=max(p["mmap_us"] - ENTRY_US, 0.0),
                                munmap_us=max(p["munmap_us"] - ENTRY_US, 0.0))
    busy = p["mmap_us"] + p["munmap_us"]          # one mmap + munmap, as measured
    threads = {
        "reader": Reader(name="reader", pattern="fixed", page=0, count=1, via=PATH_VIA[path],
                         think_us=0.0, start_us=p["reader_start_us"]),
        # Mapper thinks after each of its two calls: half the rest of the measured period each time
        "mapper": Mapper(name="mapper", think_us=max((p["mapper_period_us"] - busy) / 2.0, 0.1),
                         start_us=p["mapper_start_us"]),
    }
    if p["reader3_kind"]:
        if p["reader3_kind"] == "procmem":
            kind = "mincore"       # a resident page through /proc/self/mem: a short read-locked call
        else:
            kind = p["reader3_kind"]
        threads["reader3"] = Locker(name="reader3", kind=kind,
                                    hold_us=max(p["reader3_us"] - ENTRY_US, 0.0),
                                    think_us=max(p["reader3_period_us"] - p["reader3_us"], 0.1),
                                    start_us=p["reader3_start_us"])
    order = [t for t in lab.threads if t in threads] + [t for t in threads if t not in lab.threads]
    # until: the run's span, stretched if the twin's delay is longer than the run's
    until_us = p["until_us"] + max(delay - lab.delay_ms, 0.0) * 1000.0 + 1000.0
    return Scenario(
        policy=PATH_POLICY[path],
        threads=tuple(threads[t] for t in order),
        file_pages=1, cached_pages=0, ra_pages=0,
        disk=Disk(latency_ms=delay, distribution="fixed"),
        costs=costs, rwsem="modern", seed=0,
        until_ms=math.ceil(until_us) / 1000.0,
        name=f"twin of the kernel lab ({path}, {delay:g} ms)",
    )


def run_twin(lab, delay_ms: float | None = None, path: str | None = None):
    """Run :func:`twin_scenario` and return the model's Result."""
    return run(twin_scenario(lab, delay_ms=delay_ms, path=path))


def predicted(result) -> dict:
    """The twin's numbers, defined as the lab defines them (ms, rounded to 3 places)."""
    until = result.until_us
    entry = result.scenario.costs.syscall_entry_us

    def longest(task):
        calls = [(s.end_us if s.end_us is not None else until) - s.requested_us + entry
                 for s in result.syscalls if s.task == task]
        return round(max(calls) / 1000.0, 3) if calls else None

    reader = next((t for t in result.scenario.threads if t.name == "reader"), None)
    faults = [f for f in result.faults if f.task == "reader"]
    fault_ms = None
    if reader is not None and faults:
        end = faults[-1].end_us if faults[-1].end_us is not None else until
        fault_ms = round((end - reader.start_us) / 1000.0, 3)
    io = record.Span("reader", record.IO_WAIT_EVENTS)
    record.fold(result.events, io)
    during = None
    if io.n >= 2:
        lo, hi = io.result()
        during = sum(1 for s in result.syscalls if s.task == "mapper" and s.end_us is not None
                     and s.requested_us - entry > lo and s.end_us < hi)
    return {
        "writer_max_wait_ms": longest("mapper"),
        "reader3_max_wait_ms": longest("reader3"),
        "fault_ms": fault_ms,
        "writer_calls_during_io": during,
    }


def measured(lab) -> dict:
    """The run's numbers for the same metrics (from ``lab.summary()``)."""
    s = lab.summary()
    return {"writer_max_wait_ms": s["writer_max_wait_ms"],
            "reader3_max_wait_ms": s["reader3_max_wait_ms"],
            "fault_ms": s["fault_ms"],
            "writer_calls_during_io": s["writer_ops_during_io"]}


def _ratio(pred, meas):
    if pred is None or meas is None or meas == 0:
        return None
    return round(pred / meas, 3)


def compare(labs, delay_ms: float | None = None) -> list[dict]:
    """Measured vs predicted, one row per (path, metric).

    ``labs``: one LabResult, or a dict path -> LabResult (as ``load_recorded()``
    gives). Rows: ``{"path", "metric", "measured", "predicted", "ratio"}``,
    ``ratio`` = predicted / measured (None when measured is 0 or missing).
    """
    runs = labs.values() if isinstance(labs, dict) else [labs]
    rows = []
    for lab in runs:
        meas = measured(lab)
        pred = predicted(run_twin(lab, delay_ms=delay_ms))
        for m in METRICS:
            if m == "reader3_max_wait_ms" and not lab.third_reader:
                continue
            rows.append({"path": lab.path, "metric": m, "measured": meas[m],
                         "predicted": pred[m], "ratio": _ratio(pred[m], meas[m])})
    return rows


def text_table(rows, digits: int = 1) -> str:
    """The rows of :func:`compare` as a fixed-width text table (numbers rounded)."""
    def fmt(v, d):
        if v is None:
            return "-"
        if isinstance(v, int):
            return str(v)
        return f"{v:.{d}f}"
    head = ("path", "metric", "measured", "predicted", "predicted/measured")
    body = [(r["path"], r["metric"], fmt(r["measured"], 3 if r["metric"] != "fault_ms" else digits),
             fmt(r["predicted"], 3 if r["metric"] != "fault_ms" else digits), fmt(r["ratio"], 2))
            for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    line = lambda cells: "  ".join(c.ljust(w) if i < 2 else c.rjust(w)   # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(b) for b in body])


# -- the twin of the live two-thread benchmark: a prediction from the calibration --------

TWO_THREAD_PLACEMENTS = ("split", "same", "free")
TWIN_READS = 10            # simulated time: at least this many lone reader periods ...
TWIN_MAX_LOOPS = 50_000    # ... and at most this many lone mapper loops (or 2 s), whichever is longer


def two_thread_twin(calibration: dict, path: str, cpus: str) -> Scenario:
    """The scenario that predicts :func:`faultlab.kernel_lab.benchmark` from its
    calibration alone (``calibrate()``'s dict: every number measured with one
    loop running by itself; never the contended run).

    - the reader: random pages, each a miss with no read-around (the lab's
      MADV_RANDOM); its lone loop period (``reader_alone_per_s``) is split in
      two: the time from its ``mmap_read_unlock`` to its next
      ``mmap_read_lock`` (``reader_relock_us``, measured alone from the
      tracepoints: the rest of the ``pread`` after the lock, the return to
      user space, the C loop's two clock reads and the next ``pread``'s way
      in), which the twin spends outside the lock as the reader's
      ``think_us``, and the rest, which the disk takes (the FUSE sleep, its
      round trip and the fault; ``read_us``, a median, is not used: the
      period's mean is what sets a rate).  A calibration without
      ``reader_relock_us`` (no tracefs, or recorded before it was measured)
      leaves only the two clock reads outside the lock, as the first twin
      did, and so does ``path="fault"`` (its reader takes mmap_lock only for
      the retry after its read: no gap of that kind);
      ``path="procmem"``: a get_user_pages read holding mmap_lock across the
      I/O (/proc/self/mem, no retry), ``path="fault"``: an ordinary fault
      under ``per_vma_lock`` (6.8); the modern rwsem rules either way;
    - the mapper: mmap and munmap cost their lone medians (``mmap_us``,
      ``munmap_us``, each with its clock read taken off), and its user time is
      what is left of its lone loop period (``mapper_alone_per_s``);
    - a woken thread runs ``wakeup_us`` after its wake-up (the measured
      wake-up onto an idle CPU; ``wakeup_same_cpu_us`` where there is no
      second CPU);
    - ``cpus``: ``"split"`` two CPUs, one thread each; ``"same"`` one CPU
      for both; ``"free"`` two CPUs, no affinity (faultlab.cpu); the slice is
      the measured ``slice_us``;
    - the simulated time: TWIN_READS lone reader periods, or TWIN_MAX_LOOPS
      lone mapper loops up to 2 s if that is longer (a free-running mapper
      costs the simulation one event per step).

    - ``hz``: the machine's tick rate as the calibration measured it (it sets
      the rwsem's RWSEM_WAIT_TIMEOUT, DIV_ROUND_UP(HZ, 250) jiffies), if it
      is one of the CONFIG_HZ choices, else the default 250.

    Not taken from the calibration: the kernel's fault-path costs inside the
    model (its defaults, a few microseconds)."""
    from ..cpu import CPUs

    if path not in PATH_VIA:
        raise ValueError(f"path: must be one of {tuple(PATH_VIA)}, got {path!r}")
    if cpus not in TWO_THREAD_PLACEMENTS:
        raise ValueError(f"cpus: must be one of {TWO_THREAD_PLACEMENTS}, got {cpus!r}")
    missing = [k for k in ("reader_alone_per_s", "mapper_alone_per_s", "mmap_us",
                           "munmap_us", "slice_us") if not calibration.get(k)]
    if missing:
        raise ValueError(f"calibration: needs {', '.join(missing)} (a positive number each)")
    clock_us = (calibration.get("clock_ns") or 0.0) / 1000.0
    mmap_us = max(float(calibration["mmap_us"]) - clock_us, 0.01)
    munmap_us = max(float(calibration["munmap_us"]) - clock_us, 0.01)
    wakeup_us = calibration.get("wakeup_us") or calibration.get("wakeup_same_cpu_us") or Costs().wakeup_us
    reader_period = 1e6 / float(calibration["reader_alone_per_s"])
    relock_us = calibration.get("reader_relock_us") if path == "procmem" else None
    reader_user_us = float(relock_us) if relock_us else max(2 * clock_us, 0.05)
    mapper_period = 1e6 / float(calibration["mapper_alone_per_s"])
    hz = calibration.get("hz") if calibration.get("hz") in HZ_CHOICES else HZ
    costs = dataclasses.replace(Costs(), mmap_us=mmap_us, munmap_us=munmap_us, syscall_entry_us=0.0,
                                wakeup_us=float(wakeup_us))
    placement = {"split": CPUs(n=2, affinity=(("reader", 0), ("mapper", 1)),
                               slice_us=float(calibration["slice_us"])),
                 "same": CPUs(n=1, affinity=(("reader", 0), ("mapper", 0)),
                              slice_us=float(calibration["slice_us"])),
                 "free": CPUs(n=2, slice_us=float(calibration["slice_us"]))}[cpus]
    return Scenario(
        policy="per_vma_lock", rwsem="modern", hz=hz, ra_pages=0, file_pages=1 << 24, seed=0,
        disk=Disk(latency_ms=(reader_period - reader_user_us) / 1000.0, distribution="fixed"),
        costs=costs, cpus=placement,
        threads=(Reader(name="reader", pattern="cold", via=PATH_VIA[path], think_us=reader_user_us),
                 Mapper(name="mapper", think_us=max((mapper_period - mmap_us - munmap_us) / 2.0, THINK_FLOOR_US))),
        until_ms=round(max(TWIN_READS * reader_period, min(2e6, TWIN_MAX_LOOPS * mapper_period)) / 1000.0, 3),
        name=f"twin of the live two-thread benchmark ({path}, {cpus})")


def predict_two_thread(calibration: dict, path: str, cpus: str) -> dict:
    """The model's prediction of the live two-thread benchmark, from its
    calibration only (:func:`two_thread_twin`): ``mapper_per_s`` (mmap +
    munmap pairs per second), ``reader_per_s`` (accesses per second),
    ``mapper_max_ms`` (the mapper's longest syscall), and what ran."""
    scenario = two_thread_twin(calibration, path, cpus)
    result = run(scenario)
    s = result.summary()
    done = [c for c in result.syscalls if c.task == "mapper" and c.end_us is not None]
    longest = max((c.end_us - c.requested_us for c in done), default=0.0)
    gaps = record.relock_gaps_us(result.events, "reader")
    return {"mapper_per_s": s["threads"]["mapper"]["ops_per_s"],
            "reader_per_s": s["threads"]["reader"]["ops_per_s"],
            "mapper_max_ms": round(longest / 1000.0, 3),
            "reader_relock_us": round(statistics.median(gaps), 3) if gaps else None,
            "path": path, "cpus": cpus, "policy": scenario.policy, "rwsem": scenario.rwsem,
            "until_ms": scenario.until_ms}


def relock_race(result) -> dict | None:
    """Why the twin of a ``procmem`` run gives the mapper the rate it does: the race,
    at each of the reader's up_read, between the reader asking for mmap_lock again
    and the woken mapper running. From ``result`` (a live or recorded
    :class:`~faultlab.kernel_lab.two_thread.BenchResult` with tracepoints):
    ``measured_relock_us`` (median released -> next start_locking of the reader,
    from the kernel's tracepoints, in the contended run), ``alone_relock_us``
    (the same with the reader running alone: the calibration's
    ``reader_relock_us``, None in a calibration without it), ``twin_relock_us``
    (the same in the twin's run), ``wakeup_us`` (the calibration's wake-up onto
    an idle CPU, which the twin charges the woken mapper), and the mapper loops
    per reader access, measured and predicted. None for a ``fault`` run (its
    reader holds no mmap_lock while it waits) or one without tracepoint gaps or
    a calibration.

    The twin's reader asks again ``reader_relock_us`` after its up_read (two
    clock reads where the calibration lacks it). If that comes before the woken
    mapper runs, the reader steals the lock (rwsem_down_read_slowpath), the
    mapper fails, and it gets the lock only by HANDOFF, one syscall per two
    reads; if the mapper runs first it takes the free lock and loops until the
    reader asks again. The kernel's gap is the rest of the pread after
    mmap_read_unlock (copy out in mem_rw, mmput, free_page, the return to user)
    and the next pread's way in (mem_rw's page allocation, fs/proc/base.c). The
    twin charges one median for each side of the race (no spread), so it
    decides the race the same way at every read."""
    gaps = result.relock_gaps_us()
    cal = result.calibration or {}
    if result.path != "procmem" or not gaps or not cal:
        return None
    pred = result.prediction()
    s = result.summary()
    reads = s["reader_per_s"] or None
    return {"path": result.path, "cpus": result.cpus,
            "measured_relock_us": round(statistics.median(gaps), 1),
            "alone_relock_us": cal.get("reader_relock_us"),
            "twin_relock_us": pred["reader_relock_us"],
            "wakeup_us": cal.get("wakeup_us") or cal.get("wakeup_same_cpu_us"),
            "measured_loops_per_read": round(s["mapper_per_s"] / reads, 2) if reads else None,
            "twin_loops_per_read": round(pred["mapper_per_s"] / pred["reader_per_s"], 2)
                                   if pred["reader_per_s"] else None}


def relock_race_text(results) -> str:
    """``relock_race`` of each run that has tracepoint gaps, one line each."""
    lines = []
    for r in results.values():
        x = relock_race(r)
        if x is None:
            continue
        alone = (f"alone {x['alone_relock_us']:.1f} us" if x["alone_relock_us"] is not None
                 else "alone: not in this calibration")
        lines.append(f"{x['path']:<8}{x['cpus']:<6} reader asks again after {x['measured_relock_us']:.1f} us "
                     f"({alone}; twin {x['twin_relock_us']:.2f} us); the mapper's wake-up "
                     f"{x['wakeup_us']:.1f} us; "
                     f"mapper loops per read: measured {x['measured_loops_per_read']}, "
                     f"twin {x['twin_loops_per_read']}")
    return "\n".join(lines) or "No run here has tracepoint gaps and a calibration."


# -- verdicts and figures for the notebook ---------------------------------------------

def label(lab, live: bool = False) -> str:
    """One line saying where a run comes from: kernel, date and parameters."""
    p = lab.params
    third = f"third reader {lab.third_reader}" if lab.third_reader else "no third reader"
    how = "measured live" if live else "recorded"
    return (f"{how} on Linux {lab.kernel} ({p.get('machine', '?')}, {p.get('cpus', '?')} CPUs) "
            f"on {lab.date[:10]} with delay_ms={lab.delay_ms}, {third}, "
            f"gap_us={p.get('gap_us')}, warmup_ms={p.get('warmup_ms')}, "
            f"tracepoints={'yes' if lab.tracepoints else 'no'}")


def verdicts(lab, share: float = 0.8) -> dict:
    """Yes/no answers from a run's numbers that do not depend on the run's noise.

    ``share``: a lane "waited about the whole delay" if its longest call took
    at least this share of ``delay_ms``; it "did not wait" if it took under
    a tenth of it.
    """
    s = lab.summary()
    d = float(lab.delay_ms)
    w, r3 = s["writer_max_wait_ms"] or 0.0, s["reader3_max_wait_ms"]
    out = {
        "path": lab.path,
        "major fault on the slow page": s["major_faults"] == 1,
        "access took about the delay": s["fault_ms"] is not None and share * d <= s["fault_ms"] <= 2 * d,
        "writer waited about the whole delay": w >= share * d,
        "writer barely waited (< delay/10)": w < d / 10,
        "writer calls completed during the read": s["writer_ops_during_io"] > 0,
    }
    if r3 is not None:
        out["third reader waited about the whole delay"] = r3 >= share * d
    return out


def side_by_side(lab, result=None, start_ms=None, end_ms=None, axes=None):
    """Two timelines, one above the other on the same time axis: the run, then its twin.
    ``axes``: the two Axes (top, bottom; sharing x) to draw into, else a new figure."""
    if result is None:
        result = run_twin(lab)
    lo = start_ms if start_ms is not None else 0.0
    hi = end_ms if end_ms is not None else max(plots.end_us(lab), plots.end_us(result)) / 1000.0
    if axes is None:
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 5.6), sharex=True, layout="constrained")
    else:
        top, bottom = axes
        fig = top.figure
    plots.timeline(lab, ax=top, start_ms=lo, end_ms=hi, legend=False,
                   title=f"measured: {lab.path}, Linux {lab.kernel}, delay {lab.delay_ms} ms")
    plots.timeline(result, ax=bottom, start_ms=lo, end_ms=hi, legend=True,
                   title=f"twin: {result.scenario.policy}, "
                         f"{'get_user_pages' if lab.path == 'procmem' else 'fault'}, "
                         f"disk {result.scenario.disk.latency_ms:g} ms")
    top.set_xlabel("")
    return fig


LOCK_EVENTS = record.LOCK_EVENTS + record.IO_WAIT_EVENTS


def lock_trace(lab, start_ms: float, end_ms: float, tasks=None) -> list[str]:
    """The run's mmap_lock tracepoint events (and the reader's I/O wait) in a
    window, one trace line each, as ``Result.trace_lines()`` prints the model's."""
    lo, hi = start_ms * 1000.0, end_ms * 1000.0
    return [record.format_event(e) for e in lab.events
            if e[2] in LOCK_EVENTS and lo <= e[0] <= hi and (tasks is None or e[1] in tasks)]


# -- an explorer: the twin with another delay, another path, another design ------------

TWIN_POLICIES = ("per_vma_lock", "multi_retry", "vm_fault_retry", "sync")


def explorer(runs, **values):
    """A ``faultlab.widgets`` explorer over the twin of ``runs`` (path -> LabResult).

    Controls: which run (path), the delay the twin's disk takes, the fault
    design and the rw-semaphore rules.  The figure puts the measured run
    above the twin; the table sets the measured numbers beside the twin's.
    """
    from ..widgets import TwinExplorer     # widgets imports this module (and ipywidgets)

    return TwinExplorer(runs, **values)
