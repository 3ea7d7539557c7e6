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
        scenario = two_thread(policy=policy, seed=seed, until_ms=until_ms)
        s = summary(scenario)
        model = s["threads"]["mapper"]["ops_per_s"]
        rows.append({"policy": policy, "published_per_s": published, "model_per_s": model,
                     "ratio": round(model / published, 3),
                     "reader_per_s": s["threads"]["reader"]["ops_per_s"],
                     "params": two_thread_params(scenario)})
    return rows


def two_thread_params(scenario) -> dict:
    """What a two_thread number depends on, read back from the scenario that ran:
    the disk, the rwsem rules, read-around, the two threads' user time and
    access size, and the costs on the path between a reader's up_read and the
    mapper's next down_write."""
    reader = next(t for t in scenario.threads if t.name == "reader")
    mapper = next(t for t in scenario.threads if t.name == "mapper")
    c = scenario.costs
    return {"disk_ms": scenario.disk.latency_ms, "disk": scenario.disk.distribution,
            "rwsem": scenario.rwsem, "ra_pages": scenario.ra_pages,
            "reader_think_us": reader.think_us, "pages_per_access": reader.pages_per_access,
            "mapper_think_us": mapper.think_us, "wakeup_us": c.wakeup_us, "mmap_us": c.mmap_us,
            "munmap_us": c.munmap_us, "syscall_entry_us": c.syscall_entry_us,
            "fault_entry_us": c.fault_entry_us, "fault_exit_us": c.fault_exit_us}


# -- 55 or 27.5: the hypotheses, each a model run ------------------------------------

def think_threshold_us(costs, mapper_think_us) -> float:
    """Hypothesis (b)'s threshold, under the 2.6.18 rules: the reader's time between
    faults past which the mapper fits a second syscall between two reads.

    At the reader's up_read the queued mapper is granted the lock; it wakes
    (wakeup_us), finishes its syscall (mmap_us), thinks and enters the next
    one (mapper_think_us + syscall_entry_us). The reader meanwhile returns to
    user space (fault_exit_us), thinks, and faults again (fault_entry_us): if
    its down_read comes later than the mapper's, the mapper gets that second
    syscall too -- one mmap + munmap per read instead of one syscall."""
    return (costs.wakeup_us + costs.mmap_us + mapper_think_us + costs.syscall_entry_us
            - costs.fault_exit_us - costs.fault_entry_us)


HYPOTHESIS_B_MARGIN_US = 5.0      # how far past the threshold (b) sets the reader's think time


def fifty_five_hypotheses(seed=0, until_ms=2000.0) -> list[dict]:
    """The model's prediction for Lespinasse's 'before' number, the published 55/s,
    and three hypotheses for the difference, each a run of two_thread (sync,
    2.6.18 rules) with one thing changed. Rows: ``case``, ``what``,
    ``mapper_per_s`` (mmap + munmap pairs per second, except (c)),
    ``reader_per_s`` and ``params`` (what the run used; None for the
    published row). Nothing here is fitted to 55: each hypothesis changes
    one assumption and reports what the model then gives.

    - prediction: the defaults (one mmap_sem acquisition per read);
    - (a) the reader takes mmap_sem twice per iteration: each read spans two
      pages (pages_per_access=2, the second a minor fault);
    - (b) the reader's time between faults exceeds the mapper's wake-up plus
      one syscall (think_threshold_us, plus HYPOTHESIS_B_MARGIN_US);
    - (c) the published loop counted syscalls, not mmap + munmap pairs: the
      prediction's run, counting each syscall.
    """
    base = two_thread(policy="sync", seed=seed, until_ms=until_ms)
    mapper_think = next(t for t in base.threads if t.name == "mapper").think_us
    threshold = think_threshold_us(base.costs, mapper_think)
    think_b = round(threshold + HYPOTHESIS_B_MARGIN_US, 3)
    runs = {"prediction": base,
            "a": two_thread(policy="sync", seed=seed, until_ms=until_ms, pages_per_access=2),
            "b": two_thread(policy="sync", seed=seed, until_ms=until_ms, reader_think_us=think_b)}
    results = {case: run(sc) for case, sc in runs.items()}
    secs = until_ms / 1000.0
    rows = []
    for case, what in (("prediction", "the defaults: one mmap_sem acquisition per read"),
                       ("a", "(a) the reader takes mmap_sem twice per iteration (a read spanning two pages)"),
                       ("b", f"(b) the reader's time between faults ({think_b:g} us) exceeds the mapper's "
                             f"wake-up plus one syscall (threshold {threshold:g} us)")):
        s = results[case].summary()
        rows.append({"case": case, "what": what, "mapper_per_s": s["threads"]["mapper"]["ops_per_s"],
                     "reader_per_s": s["threads"]["reader"]["ops_per_s"],
                     "params": two_thread_params(runs[case])})
    pred = results["prediction"]
    syscalls = sum(1 for c in pred.syscalls if c.task == "mapper" and c.end_us is not None)
    rows.append({"case": "c", "what": "(c) the loop counted syscalls, not mmap + munmap pairs",
                 "mapper_per_s": round(syscalls / secs, 3),
                 "reader_per_s": pred.summary()["threads"]["reader"]["ops_per_s"],
                 "params": two_thread_params(base)})
    rows.append({"case": "published", "what": "Lespinasse 2010 (V2 cover letter, d065bd810b6d): about 55/s",
                 "mapper_per_s": PUBLISHED_TWO_THREAD["sync"], "reader_per_s": 55.0, "params": None})
    return rows
