"""Experiments over many runs: the livelock map, the seqcount sweep, the
history table, and the model against published numbers.

Each function runs the model and returns plain data; plots and notebooks
draw and print it.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import record
from .sim import run
from .workloads import fadvise_dos, threaded_app, two_thread

def summary(scenario) -> dict:
    """The summary of one run that keeps no events (the same as a full run's)."""
    return run(scenario, keep_events=False).summary()


HISTORY = ("sync", "nopage_retry", "vm_fault_retry", "multi_retry", "per_vma_lock")


# -- the livelock -------------------------------------------------------------------

def retry_window_us(costs) -> float:
    """How long the page lies unprotected before a rerun uses it.

    In the 2006 patch the fault keeps its page reference through
    wait_on_page_locked and the re-down_read, so the page cannot be dropped
    while the task wakes and retakes mmap_sem; the reference goes just
    before NOPAGE_RETRY. From then until the rerun's find_get_page takes a
    new one, the page has only the cache's reference, is unlocked and is
    unmapped: FADV_DONTNEED may drop it. That window is the rerun itself:
    find_vma, the page-table walk and the radix-tree lookup.
    """
    return costs.find_vma_us + costs.walk_us + costs.find_get_page_us


@dataclass
class LivelockGrid:
    policy: str
    periods_us: list
    wakeups_us: list
    finished: list        # [wakeup][period]: every seed's fault finished
    attempts: list        # [wakeup][period]: the most attempts any seed's fault made
    window_us: list       # [wakeup]: retry_window_us for that wake-up latency
    until_ms: float


def livelock_map(policy="retry_unlimited", periods_us=(0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0),
                 wakeups_us=(1.0, 5.0, 20.0, 50.0), seeds=(0, 1, 2), until_ms=200.0, **params):
    """Run fadvise_dos for every (wake-up latency, eviction period) and seed."""
    finished, attempts, window = [], [], []
    for w in wakeups_us:
        frow, arow = [], []
        for p in periods_us:
            runs = [summary(fadvise_dos(policy=policy, evict_period_us=p, wakeup_us=w, seed=s,
                                        until_ms=until_ms, **params))["faults"] for s in seeds]
            frow.append(all(r["unfinished"] == 0 for r in runs))
            arow.append(max(r["max_attempts"] for r in runs))
        scenario = fadvise_dos(policy=policy, wakeup_us=w, **params)
        finished.append(frow)
        attempts.append(arow)
        window.append(retry_window_us(scenario.costs))
    return LivelockGrid(policy, list(periods_us), list(wakeups_us), finished, attempts, window, until_ms)


# -- seqcount under writer traffic -------------------------------------------------------

def seqcount_sweep(mapper_think_us=(100000.0, 10000.0, 1000.0, 100.0, 10.0, 2.0), n_readers=4,
                   miss_ratio=0.5, until_ms=500.0, seed=0):
    """threaded_app under ``seqcount`` with a mapper that gets busier: for each
    mapper think time, the writer rate and what became of the faults that
    dropped mmap_sem: revalidated in place, or sent round a full retry."""
    rows = []
    for think in mapper_think_us:
        counted = record.Counts((record.REVALIDATED,))
        s = run(threaded_app(policy="seqcount", n_readers=n_readers, miss_ratio=miss_ratio,
                             mapper_think_us=think, until_ms=until_ms, seed=seed),
                keep_events=False, folds=(counted,)).summary()
        revalidated = counted.result()[record.REVALIDATED]
        retried = s["faults"]["retries"]
        dropped = revalidated + retried
        rows.append({"mapper_think_us": think,
                     "writer_ops_per_s": s["threads"]["mapper"]["ops_per_s"],
                     "revalidated": revalidated, "full_retries": retried,
                     "retry_fraction": round(retried / dropped, 3) if dropped else 0.0,
                     "redone_walks": s["redone_walks"]})
    return rows


# -- the history, one workload at a time -------------------------------------------------

def history_table(policies=HISTORY, seed=0, two_thread_ms=2000.0, app_ms=500.0):
    """Each design on the same workloads: the convoy (two_thread), the livelock
    (fadvise_dos with a fast evictor), and a threaded application."""
    rows = []
    for p in policies:
        tt = summary(two_thread(policy=p, seed=seed, until_ms=two_thread_ms))
        dos = summary(fadvise_dos(policy=p, seed=seed))["faults"]
        app = summary(threaded_app(policy=p, seed=seed, until_ms=app_ms))
        rows.append({
            "policy": p,
            "reader_ops_per_s": tt["threads"]["reader"]["ops_per_s"],
            "mapper_ops_per_s": tt["threads"]["mapper"]["ops_per_s"],
            "writer_max_wait_ms": tt["syscalls"]["wait_ms"]["max"],
            "held_across_io_ms": tt["mmap_sem"]["held_across_io_ms"],
            "dos_finished": dos["unfinished"] == 0,
            "dos_attempts": dos["max_attempts"],
            "app_fault_p99_ms": app["faults"]["latency_ms"]["p99"],
            "app_redone_walks": app["redone_walks"],
        })
    return rows


# Michel Lespinasse, cover letter of the V2 series that became d065bd810b6d
# (2.6.37), <1286265215-9025-1-git-send-email-walken@google.com>: thread A
# reads random pages of a mapped file; thread B loops mmap/munmap. B's loop:
# about 55/s before the change (tied to A's reads), about 15,000/s after.
PUBLISHED_TWO_THREAD = {"sync": 55.0, "vm_fault_retry": 15000.0}


def published_comparison(seed=0, until_ms=2000.0):
    """two_thread's mapper rate beside Lespinasse's, with the ratio model/published.

    The 'after' row is a calibration check (the mapper's syscall costs were
    set from it, see Costs); the 'before' row is the model's prediction."""
    rows = []
    for policy, published in PUBLISHED_TWO_THREAD.items():
        s = summary(two_thread(policy=policy, seed=seed, until_ms=until_ms))
        model = s["threads"]["mapper"]["ops_per_s"]
        rows.append({"policy": policy, "published_per_s": published, "model_per_s": model,
                     "ratio": round(model / published, 3),
                     "reader_per_s": s["threads"]["reader"]["ops_per_s"]})
    return rows
