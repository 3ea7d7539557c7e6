"""Notebook 07's helpers: running the lab or falling back to a recording, the
tables and yes/no facts it prints, and the answers of its exercises.

Every answer function takes the runs it talks about and returns text; the
notebook shows it behind a **Show answer** button (``faultlab.widgets.Reveal``).
"""
from __future__ import annotations

import dataclasses
import statistics

from .. import record, run as run_model
from . import twin, two_thread
from .errors import LabError

#: the benchmark settings notebook 07 runs live (and the recording was made with)
BENCH = {"disk_ms": 18, "seconds": 2.0}
ORDER = [(p, c) for p in ("procmem", "fault") for c in ("split", "same", "free")]


# ------------------------------------------------------ the single-access experiment
def single_access(delay_ms: int = 300, third_reader: str = "mincore"):
    """Both paths measured here if this machine can, else the shipped recording.

    Returns ``(runs, live, note)``: runs by path, whether they are live, and one line
    saying which runs are shown (and why not live, when they are recorded)."""
    from . import PATHS, available, load_recorded, measure

    ok, why = available()
    if ok:
        try:
            runs = {p: measure(path=p, delay_ms=delay_ms, third_reader=third_reader)
                    for p in PATHS}
            return runs, True, "Showing runs " + twin.label(runs["procmem"], live=True)
        except LabError as e:                 # includes LabUnavailable and LabTimeout
            why = f"the live run failed: {e}"
    runs = load_recorded()
    return runs, False, (f"No live run here ({why}); using the recorded run. Showing runs "
                         + twin.label(runs["procmem"]))


# ------------------------------------------------------ the two-thread benchmark
def benchmarks(live: bool = True, **settings):
    """The benchmark on both paths and all three placements.

    Live (``live=True`` and the machine can) or the recording shipped in
    faultlab/data/.  Returns ``(results, live, note)`` with results keyed by
    ``(path, cpus)``; ``settings`` override :data:`BENCH`."""
    from . import available

    why = "not asked to run live"
    if live:
        ok, why = available()
        if ok:
            cfg = {**BENCH, **settings}
            try:
                out = {}
                for path, cpus in ORDER:
                    if cpus == "split" and _ncpus() < 2:
                        continue
                    out[path, cpus] = two_thread.benchmark(
                        path=path, cpus=cpus, tracepoints=(path == "procmem" and cpus != "free")
                        and "auto", **cfg)
                return out, True, label(next(iter(out.values())), live=True)
            except LabError as e:
                why = f"the live run failed: {e}"
    rec = two_thread.load_recorded_runs()
    return rec, False, f"No live run here ({why}); using the recorded runs. " + \
        label(next(iter(rec.values())))


def _ncpus() -> int:
    import os
    return len(os.sched_getaffinity(0))


def label(r, live: bool = False) -> str:
    """Where a benchmark run comes from: kernel, date, parameters."""
    how = "measured live" if live else "recorded"
    return (f"{how} on Linux {r.kernel} ({r.params.get('machine', '?')}, "
            f"{(r.calibration or {}).get('ncpus', '?')} CPUs) on {r.date[:10]}: "
            f"disk_ms={r.disk_ms}, seconds={r.seconds:g} per placement, "
            f"calibration {r.params.get('calibration_s')} s per loop alone, "
            f"1-minute load average {r.params.get('loadavg_1min', '?')} at the start")


def table(results) -> str:
    """One line per run: the rates, the longest mapper call, reads per access."""
    head = (f"{'path':<8}{'cpus':<6}{'reader/s':>9}{'alone':>7}{'mapper/s':>11}{'alone':>9}"
            f"{'longest ms':>11}{'p50 us':>9}{'reads/access':>13}")
    lines = [head, "-" * len(head)]
    for (path, cpus), r in results.items():
        s = r.summary()
        lines.append(f"{path:<8}{cpus:<6}{s['reader_per_s']:>9.1f}{s['reader_alone_per_s']:>7.1f}"
                     f"{s['mapper_per_s']:>11.1f}{s['mapper_alone_per_s']:>9.0f}"
                     f"{s['mapper_max_ms']:>11.1f}{s['mapper_latency_us']['p50']:>9.1f}"
                     f"{s['reads_per_access']:>13}")
    return "\n".join(lines)


def waits_out_the_reads(result, share: float = 0.9) -> bool:
    """Is the mapper tied to the reads: does it spend at least ``share`` of its loop's
    time in calls that last at least half a median read (each a wait for mmap_lock
    while a read holds it), so that it loops only in what is left between reads?
    Read from the mapper's own calls (``mapper_long``), not from rates: how many
    loops fit between two reads is a race that moves from run to run."""
    half_read_us = 500.0 * result.summary()["read_ms_median"]
    waited = sum(b - a for a, b, _ in result.mapper_long if b - a >= half_read_us)
    return waited >= share * result.mapper_span_us


def facts(results) -> dict:
    """The benchmark's qualitative facts, True or False (None: that run, or a number it
    needs, is missing)."""
    def s(path, cpus):
        r = results.get((path, cpus))
        return r.summary() if r is not None else None

    def check(summary, test):
        try:
            return None if summary is None else bool(test(summary))
        except TypeError:            # a number is None (e.g. no access finished)
            return None

    ps, pm, fs = s("procmem", "split"), s("procmem", "same"), s("fault", "split")
    return {
        "procmem, separate CPUs: mapper waits out the reads (90% of its time)":
            check(results.get(("procmem", "split")), waits_out_the_reads),
        "procmem, separate CPUs: mapper's longest call lasts most of a read":
            check(ps, lambda x: x["mapper_max_ms"] >= 0.5 * x["read_ms_median"]),
        "procmem, one CPU: mapper at least 20x the reader's rate":
            check(pm, lambda x: x["mapper_per_s"] >= 20 * x["reader_per_s"]),
        "fault, separate CPUs: mapper keeps at least half its lone rate":
            check(fs, lambda x: x["mapper_per_s"] >= 0.5 * x["mapper_alone_per_s"]),
        "fault, separate CPUs: 99.9% of mapper calls under a tenth of a read":
            check(fs, lambda x: x["mapper_latency_us"]["p99.9"] < 100 * x["read_ms_median"]),
        "every run: one FUSE read per reader access":
            all(r.summary()["reads_per_access"] == 1.0 for r in results.values()),
    }


def facts_text(results) -> str:
    return "\n".join(f"{q:<72}{v!s:>6}" for q, v in facts(results).items())


def twin_table(results) -> str:
    """Measured against the twin (predicted from the calibration only), or why there is
    no twin; for ``procmem`` also the first twin (no relock gap), where the calibration
    has the gap, and a note for calibrations without it."""
    head = (f"{'path':<8}{'cpus':<6}{'mapper/s measured':>18}{'twin':>10}{'ratio':>7}"
            f"{'first twin':>12}{'ratio':>7}"
            f"{'reader/s measured':>19}{'twin':>8}{'ratio':>7}")
    lines = [head, "-" * len(head)]
    without_gap = []
    for (path, cpus), r in results.items():
        s = r.summary()
        t = s["twin"]
        if "absent" in t:
            return f"No twin to compare with: {t['absent']}."
        if t.get("relock_gap") == "absent":
            without_gap.append(f"{path} {cpus}")
        first = (f"{t['first_mapper_per_s']:>12.1f}{t['first_mapper_ratio']:>7.2f}"
                 if "first_mapper_per_s" in t else f"{'-':>12}{'-':>7}")
        lines.append(f"{path:<8}{cpus:<6}{s['mapper_per_s']:>18.1f}{t['mapper_per_s']:>10.1f}"
                     f"{t['mapper_ratio']:>7.2f}{first}{s['reader_per_s']:>19.1f}"
                     f"{t['reader_per_s']:>8.1f}{t['reader_ratio']:>7.2f}")
    if without_gap:
        lines.append(f"No relock gap in the calibration of {', '.join(without_gap)}: "
                     "its twin is the first twin.")
    return "\n".join(lines)


def twin_bands(results) -> dict:
    """The twin's mapper ratio (predicted/measured) against the goals of issue 11,
    as bands: "within" or "outside"; {} when there is no twin."""
    out = {}
    goals = {("procmem", "split"): (0.8, 1.25), ("procmem", "same"): (0.5, 2.0)}
    for key, (lo, hi) in goals.items():
        r = results.get(key)
        if r is None:
            continue
        t = r.summary()["twin"]
        if "absent" in t:
            return {}
        out[f"{key[0]}, {key[1]}: mapper ratio within {lo}-{hi}"] = lo <= t["mapper_ratio"] <= hi
    return out


def relock(results) -> str:
    """From the tracepoints: how soon the reader asks for mmap_lock again after letting go."""
    lines = []
    for (path, cpus), r in results.items():
        gaps = r.relock_gaps_us()
        if gaps:
            lines.append(f"{path:<8}{cpus:<6} median {statistics.median(gaps):9.1f} us, "
                         f"90th percentile {sorted(gaps)[int(0.9 * (len(gaps) - 1))]:9.1f} us "
                         f"({len(gaps)} accesses)")
    return "\n".join(lines) or "No run here has tracepoint events."


def relock_below(results, key, limit_us: float) -> bool | None:
    """Is the median released -> next start_locking gap of run ``key`` below ``limit_us``?"""
    r = results.get(key)
    gaps = r.relock_gaps_us() if r is not None else []
    return statistics.median(gaps) < limit_us if gaps else None


def window(r, span_ms: float = 60.0) -> tuple[float, float]:
    """A stretch of run ``r`` around its third reader access, for a timeline."""
    ops = r.reader_ops
    a = ops[min(2, len(ops) - 1)][0] / 1000.0 if ops else 0.0
    return a - 2.0, a - 2.0 + span_ms


# ------------------------------------------------------ exercise answers
def reader_lock_holds(recorded) -> dict:
    """Exercise 1: from the kernel's mmap_lock tracepoints in each recorded run, the
    reader's holds of mmap_lock that overlap its slow access: path -> a list of
    (from the access's start, how long held) in ms, in order."""
    out = {}
    for path in ("fault", "procmem"):
        lab = recorded[path]
        a = lab.access()
        lo, hi = a["start_us"], a["end_us"]
        out[path] = [((got - lo) / 1000.0, held / 1000.0)
                     for got, held in record.lock_holds_us(lab.events, "reader")
                     if got <= hi and got + held >= lo]
    return out


def lock_holds_text(recorded) -> str:
    """Exercise 1's answer: the reader's mmap_lock holds during the slow access, and why they differ."""
    holds = reader_lock_holds(recorded)
    lines = [f"{'path':<9}{'delay ms':>9}{'slow access ms':>16}{'mmap_lock holds':>17}{'first taken at ms':>19}"
             f"{'longest hold ms':>17}"]
    for path, hs in holds.items():
        lab = recorded[path]
        a = lab.access()
        lines.append(f"{path:<9}{lab.delay_ms:>9g}{(a['end_us'] - a['start_us']) / 1000.0:>16.3f}{len(hs):>17}"
                     f"{hs[0][0]:>19.3f}{max(h for _, h in hs):>17.3f}")
    return ("\n".join(lines)
            + "\n\nThe same page, the same slow file, the same kernel, and two opposite pictures. Through"
            + "\n/proc/self/mem, __access_remote_vm() takes mmap_lock for reading before it calls"
            + "\nget_user_pages_remote(), and passes no 'locked' pointer: the fault that get_user_pages makes"
            + "\nmay not drop the lock to wait for I/O (no FAULT_FLAG_ALLOW_RETRY). So the one hold starts"
            + "\nwith the access and lasts the whole read."
            + "\n\nThe ordinary fault takes mmap_lock only at the end, for microseconds. Its first attempt runs"
            + "\nunder the VMA's own lock, which the mmap_lock tracepoints do not see; finding the page not"
            + "\nyet read, it lets that lock go, waits for the read, and returns VM_FAULT_RETRY. The retry"
            + "\ntakes mmap_lock, finds the page in the page cache and maps it. The wait is in the trace as"
            + "\na gap, not as a hold.")


def designs_on_the_fault_path(recorded) -> str:
    """Exercise 2: the recorded fault-path run's twin under each fault design."""
    s = twin.twin_scenario(recorded["fault"])
    lines = [f"{'design':<16}{'mapper longest call ms':>24}{'reader3 longest call ms':>25}"]
    for policy in ("sync", "vm_fault_retry", "multi_retry", "per_vma_lock"):
        p = twin.predicted(run_model(dataclasses.replace(s, policy=policy)))
        lines.append(f"{policy:<16}{p['writer_max_wait_ms']:>24.3f}{p['reader3_max_wait_ms']:>25.3f}")
    return ("\n".join(lines)
            + "\n\nOnly sync: 2.6.18 held mmap_sem across the read. Every design since 2.6.37 drops the lock"
            + "\nbefore sleeping, so the fault path is quiet. What the /proc/self/mem path shows today is the"
            + "\nsync row, because get_user_pages there may not drop the lock.")


def gil_held(recorded) -> str:
    """Exercise 3: what a GIL-holding libc would have measured."""
    pred = twin.predicted(twin.run_twin(recorded["procmem"]))["writer_max_wait_ms"]
    return ("Measured: usually short, microseconds to a millisecond. While reader's pread sleeps with the\n"
            "GIL held, mapper cannot run the Python code that leads to its next mmap, so it never asks\n"
            "for mmap_lock during the read and none of its timed calls waits. The convoy is still\n"
            "there in the kernel's rules, but the measurement cannot see it.\n"
            f"The twin (no GIL in the model) predicts a longest call of {pred:.1f} ms.\n\n"
            "A disagreement like this points at the measurement, not at the kernel.\n"
            "tests/test_kernel_lab.py runs exactly this case on purpose and checks that a pure-Python\n"
            "counter thread stops ticking during the read: that is how the trap is caught.")


def placement(results) -> str:
    """Exercise 4: why one CPU frees the mapper, from the benchmark's own numbers."""
    lines = []
    for cpus in ("split", "same"):
        r = results.get(("procmem", cpus))
        if r is None:
            continue
        s = r.summary()
        per_read = s["mapper_per_s"] / s["reader_per_s"] if s["reader_per_s"] else float("nan")
        lines.append(f"procmem, cpus={cpus:<5}: {per_read:10.1f} mapper loops per reader access")
    return ("\n".join(lines) + "\n\n"
            "On separate CPUs the reader returns from its pread and asks for mmap_lock again within\n"
            "tens of microseconds, on a CPU of its own: often before the woken mapper has run, or\n"
            "after a few of its calls, so the mapper gets at most a few loops per read (a fraction\n"
            "of one when the reader usually wins the race for the free lock). On one CPU the woken\n"
            "mapper and the reader share the CPU: while the mapper runs the reader cannot ask for\n"
            "the lock again, and every loop the mapper makes in that time needs no wait at all. The\n"
            "lock rules are the same; what differs is who is on a CPU when the lock comes free.")
