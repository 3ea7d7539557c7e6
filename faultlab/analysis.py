"""Experiments over many runs: the livelock map, the seqcount sweep, the
history table, the model against published numbers, and every retry
marker side by side (with the kill, refault, page-flag and truncate
experiments of the mail's other designs).

Each function runs the model and returns plain data; plots and notebooks
draw and print it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from . import record
from .scenario import Disk
from .policies import rwsem_rules
from .sim import run
from .policies import POLICIES
from .workloads import fadvise_dos, threaded_app, truncate_race, two_thread, unmap_during_fault

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
            "rwsem": rwsem_rules(scenario), "ra_pages": scenario.ra_pages,
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


# -- every retry marker side by side (the mail's designs and Linux's) --------------------

# Where "this fault already retried" lives: the task (Google's flag), the
# fault (Morton's struct; 2.6.37's and 5.7's vm_fault flags), the page
# (Morton's 'otoh'), nowhere (Herrenschmidt's refault; unlimited).
RETRY_MARKERS = ("nopage_retry", "pagefault_args", "page_flag_retry", "refault", "retry_unlimited",
                 "vm_fault_retry", "multi_retry")
MARKER_WHERE = {"nopage_retry": "task flag", "pagefault_args": "per-fault struct", "page_flag_retry": "page flag",
                "refault": "none: back to user", "retry_unlimited": "none",
                "vm_fault_retry": "fault flag, 2.6.37", "multi_retry": "fault flags, 5.7"}


def folded(scenario, *folds):
    """Run ``scenario`` keeping no events, feeding ``folds``; its summary."""
    return run(scenario, keep_events=False, folds=folds).summary()


def task_accesses(accesses, task) -> list:
    """The ``record.Accesses`` rows of one task."""
    return [a for a in accesses if a["task"] == task]


@dataclass
class MarkerMap:
    """fadvise_dos for each marker (row) and eviction period (column)."""
    policies: list
    periods_us: list
    finished: list        # [policy][period]: the victim's access finished in every seed
    passes: list          # [policy][period]: most passes (walks) any seed's access made
    faults: list          # [policy][period]: most faults any seed's access counted
    until_ms: float
    params: dict          # the other fadvise_dos parameters (drain=... among them)


def victim_access(p, seed, until_ms, **params):
    """fadvise_dos: (finished, walks, faults counted) of the victim's access."""
    acc = record.Accesses()
    s = folded(fadvise_dos(policy=p, seed=seed, until_ms=until_ms, **params), acc)
    victim = task_accesses(acc.result(), "victim")
    return (s["threads"]["victim"]["completed"] == 1, max((a["passes"] for a in victim), default=0),
            max((a["faults"] for a in victim), default=0))


def retry_marker_map(policies=RETRY_MARKERS, periods_us=(0.25, 0.5, 1.0, 2.0, 4.0, 16.0, 64.0),
                     seeds=(0, 1, 2), until_ms=100.0, **params) -> MarkerMap:
    """The livelock map across retry markers: does the victim's access finish
    while FADV_DONTNEED loops at each period (fadvise_dos, other parameters at
    their defaults or ``params``, e.g. ``drain="none"``)?"""
    fin, passes, faults = [], [], []
    for p in policies:
        frow, prow, crow = [], [], []
        for period in periods_us:
            runs = [victim_access(p, s, until_ms, evict_period_us=period, **params) for s in seeds]
            frow.append(all(r[0] for r in runs))
            prow.append(max(r[1] for r in runs))
            crow.append(max(r[2] for r in runs))
        fin.append(frow)
        passes.append(prow)
        faults.append(crow)
    return MarkerMap(list(policies), list(periods_us), fin, passes, faults, until_ms, dict(params))


def drain_livelock(policies=("nopage_retry", "page_flag_retry", "refault", "retry_unlimited"),
                   drains=("traffic", "reclaim", "none"), seeds=(0, 1, 2), until_ms=100.0, **params):
    """fadvise_dos (the default fast evictor) per marker and per drain of the
    victim CPU's LRU-add pagevec (pagevec.py): while the fresh page sits in
    that pagevec, FADV_DONTNEED cannot drop it (invalidate_complete_page sees
    the pagevec's reference), so the unbounded markers livelock only where
    something drains it. Per (policy, drain): finished in every seed, and the
    most walks and faults any seed's access made."""
    rows = []
    for p in policies:
        for d in drains:
            runs = [victim_access(p, s, until_ms, drain=d, **params) for s in seeds]
            rows.append({"policy": p, "drain": d, "finished": all(r[0] for r in runs),
                         "walks": max(r[1] for r in runs), "faults": max(r[2] for r in runs)})
    return rows


def died_after(scenario, task="victim"):
    """ms from the first SIGKILL to ``task``'s death, and where it was noticed;
    (None, "") if it never died, ("done", "") if it finished first."""
    s = folded(scenario)
    sig = s["signals"][0]
    if sig["died_ms"] is None:
        return ("done" if s["threads"][task]["completed"] == 1 else None), ""
    return round(sig["died_ms"] - sig["sent_ms"], 3), sig["where"]


def kill_scenarios(p, seed, until_ms, read_ms, kill_in_read_ms, kill_in_loop_ms):
    """The two SIGKILL experiments: during one fixed ``read_ms`` read with no
    eviction pressure, and during the fast evictor's loop."""
    in_read = replace(fadvise_dos(policy=p, seed=seed, until_ms=until_ms, evict_period_us=1e6,
                                  kill_at_ms=kill_in_read_ms), disk=Disk(latency_ms=read_ms))
    in_loop = fadvise_dos(policy=p, seed=seed, until_ms=until_ms, kill_at_ms=kill_in_loop_ms)
    return in_read, in_loop


def retry_marker_table(policies=RETRY_MARKERS, seed=0, dos_ms=100.0, app_ms=300.0, hot_pages=8,
                       kill_in_read_ms=0.2, read_ms=20.0, kill_in_loop_ms=50.0):
    """One row per retry marker, on fadvise_dos (the default fast evictor) and on
    threaded_app with a shared hot set of ``hot_pages`` pages:

    - ``dos_finished``: the victim's access finished;
    - ``dos_passes`` / ``dos_faults``: walks made and faults counted for it
      (at the end of the run if it never finished);
    - ``kill_in_read_ms``: SIGKILL ``kill_in_read_ms`` into a ``read_ms`` read
      (fadvise_dos with a fixed disk latency and no eviction pressure): how long
      until the victim died;
    - ``kill_in_loop_ms``: SIGKILL at ``kill_in_loop_ms`` of fadvise_dos: how
      long until it died, None if it never did, "done" if the access had
      finished before the signal;
    - ``app_finished``: reader accesses completed in threaded_app (``app_unfinished``:
      faults still open at the end);
    - ``app_faults_per_access``: faults counted per access that faulted;
    - ``app_redone_walks``: walks redone (passes beyond the first, all accesses);
    - ``app_held_across_io_ms``: mmap_sem held across reads (the convoy)."""
    rows = []
    for p in policies:
        finished, passes, faults = victim_access(p, seed, dos_ms)
        acc = record.Accesses()
        s = folded(threaded_app(policy=p, seed=seed, until_ms=app_ms, hot_pages=hot_pages), acc)
        accesses = acc.result()
        in_read, in_loop = kill_scenarios(p, seed, dos_ms, read_ms, kill_in_read_ms, kill_in_loop_ms)
        rows.append({
            "policy": p,
            "marker": MARKER_WHERE.get(p, ""),
            "dos_finished": finished,
            "dos_passes": passes,
            "dos_faults": faults,
            "kill_in_read_ms": died_after(in_read)[0],
            "kill_in_loop_ms": died_after(in_loop)[0],
            "app_finished": sum(t["completed"] for name, t in s["threads"].items() if name.startswith("reader")),
            "app_unfinished": s["faults"]["unfinished"],
            "app_faults_per_access": round(sum(a["faults"] for a in accesses) / max(len(accesses), 1), 3),
            "app_redone_walks": sum(a["passes"] - 1 for a in accesses),
            "app_held_across_io_ms": s["mmap_sem"]["held_across_io_ms"],
        })
    return rows


def kill_timing(policies=("sync", "nopage_retry", "refault", "retry_unlimited", "vm_fault_retry", "multi_retry"),
                seed=0, read_ms=20.0, kill_in_read_ms=0.2, kill_in_loop_ms=50.0, until_ms=100.0):
    """SIGKILL to fadvise_dos's victim, per design: sent ``kill_in_read_ms`` into a
    fixed ``read_ms`` read (no eviction pressure), and sent at ``kill_in_loop_ms``
    while the default fast evictor runs. Each: ms from the signal to the death
    (None: never; "done": the access had finished first) and where it was noticed
    ("" if it was not)."""
    rows = []
    for p in policies:
        row = {"policy": p}
        for key, sc in zip(("in_read", "in_loop"),
                           kill_scenarios(p, seed, until_ms, read_ms, kill_in_read_ms, kill_in_loop_ms)):
            row[f"{key}_ms"], row[f"{key}_where"] = died_after(sc)
        rows.append(row)
    return rows


def refault_counts(policies=("nopage_retry", "refault"), seed=0, until_ms=1000.0):
    """two_thread: what the fault counters see. The reader's accesses, the faults
    the kernel counts for them (a refault's attempts each count, in min_flt and
    perf's page-faults), the refaults among them, and the walks made; then the
    counters as the kernel keeps them: the reader's ``maj_flt`` and ``min_flt``
    (the arch code's switch on handle_mm_fault's answer, which is MINOR for a
    NOPAGE_REFAULT) and the system-wide ``pgmajfault`` (counted in
    filemap_nopage when it starts a read, whatever the fault then answers)."""
    rows = []
    for p in policies:
        acc = record.Accesses()
        ends = record.DetailCounts(record.FAULT_END, "outcome", task="reader")
        s = folded(two_thread(policy=p, seed=seed, until_ms=until_ms), acc, ends)
        mine = task_accesses(acc.result(), "reader")
        n = ends.result()
        rows.append({"policy": p, "accesses": len(mine), "finished": sum(a["outcome"] != "unfinished" for a in mine),
                     "faults_counted": sum(a["faults"] for a in mine),
                     "refaults": n.get("REFAULT", 0),
                     "walks": sum(a["passes"] for a in mine),
                     "maj_flt": n.get("MAJOR", 0), "min_flt": n.get("MINOR", 0) + n.get("REFAULT", 0),
                     "pgmajfault": s["faults"]["major"],
                     "mapper_ops_per_s": s["threads"]["mapper"]["ops_per_s"]})
    return rows


def page_flag_siblings(policies=("nopage_retry", "page_flag_retry"), seeds=(0, 1, 2, 3, 4, 5), hot_pages=8,
                       until_ms=100.0):
    """threaded_app with a shared hot set that starts uncached: per design and seed,
    the faults that met a marked page and waited under mmap_sem (``found``), the
    marks set and cleared, mmap_sem held across reads, and the mapper's longest
    wait. The cost of the page flag's clear point (at map time): the window from
    the mark to the map, in which a sibling is sent to the synchronous path."""
    rows = []
    for p in policies:
        for seed in seeds:
            ops = record.DetailCounts(record.PAGE_FLAG, "op")
            s = folded(threaded_app(policy=p, seed=seed, until_ms=until_ms, hot_pages=hot_pages), ops)
            n = ops.result()
            rows.append({"policy": p, "seed": seed, "set": n.get("set", 0), "found": n.get("found", 0),
                         "cleared": n.get("clear", 0), "left_set": n.get("set", 0) - n.get("clear", 0),
                         "held_across_io_ms": s["mmap_sem"]["held_across_io_ms"],
                         "mapper_max_wait_ms": s["syscalls"]["wait_ms"]["max"]})
    return rows


def truncate_race_table(policies=("sync", "truncate_unchecked", "lock_page_nopage", "pagefault_args",
                                  "nopage_retry", "vm_fault_retry"), beyond=True, truncate_at_ms=2.0, seed=0):
    """truncate_race per design: how the fault ended, the truncate_count retries
    inside do_no_page, waits for a page lock held by truncate, and the kernel
    bugs recorded (a page mapped past the new end of file)."""
    rows = []
    for p in policies:
        acc = record.Accesses()
        n = record.TaskCounts("reader", (record.TRUNCATE_RETRY, record.PAGE_LOCK_WAIT))
        s = folded(truncate_race(policy=p, beyond=beyond, truncate_at_ms=truncate_at_ms, seed=seed), acc, n)
        final = task_accesses(acc.result(), "reader")[-1]
        rows.append({"policy": p, "guard": POLICIES[p].truncate_guard(None) or "none",
                     "outcome": final["outcome"], "truncate_retries": n.result()[record.TRUNCATE_RETRY],
                     "page_lock_waits": n.result()[record.PAGE_LOCK_WAIT],
                     "kernel_bugs": len(s["kernel_bugs"])})
    return rows


def truncate_lock_order(policy="lock_page_nopage", truncate_at_ms=2.0, beyond=True, seed=0):
    """truncate_race, who waits for whom (us into the run): the reader's read
    ends, the truncater starts and (under the page-lock protocol) sleeps for
    the page's lock and gets it, the reader's fault ends; and how it ended."""
    spans = {name: record.Span(task, (ev,)) for name, task, ev in (
        ("read_done", "reader", record.IO_WAIT_END), ("truncate_start", "truncater", record.TRUNCATE_START),
        ("truncate_waits", "truncater", record.TRUNCATE_WAIT), ("truncate_got", "truncater", record.TRUNCATE_GOT),
        ("fault_end", "reader", record.FAULT_END))}
    acc = record.Accesses()
    folded(truncate_race(policy=policy, truncate_at_ms=truncate_at_ms, beyond=beyond, seed=seed),
           acc, *spans.values())
    out = {"policy": policy, "outcome": task_accesses(acc.result(), "reader")[-1]["outcome"]}
    for name, span in spans.items():
        got = span.result()
        out[f"{name}_us"] = None if got is None else round(got[0], 1)
    return out


def two_counters(policies=("sync", "seqcount"), seed=0):
    """Two sequence counts side by side: the mapping's truncate_count (2.6.18,
    bumped by unmap_mapping_range, rechecked in do_no_page) and Morton's mm
    count (seqcount, bumped by every down_write of mmap_sem). Per design and
    per race -- a munmap of the file during the read (unmap_during_fault,
    remap=True: the fault finds a new VMA) and an ftruncate that keeps the
    page (truncate_race, beyond=False) -- the faults sent round a full retry
    (the mm count moved), revalidated in place (it had not), and the
    truncate_count retries inside do_no_page."""
    rows = []
    for p in policies:
        for race, make in (("munmap", lambda: unmap_during_fault(policy=p, remap=True, seed=seed)),
                           ("ftruncate", lambda: truncate_race(policy=p, beyond=False, seed=seed))):
            reval = record.Counts((record.REVALIDATED,))
            n = record.TaskCounts("reader", (record.TRUNCATE_RETRY,))
            s = folded(make(), reval, n)
            rows.append({"policy": p, "race": race, "full_retries": s["faults"]["retries"],
                         "revalidated": reval.result()[record.REVALIDATED],
                         "truncate_retries": n.result()[record.TRUNCATE_RETRY],
                         "outcome": ", ".join(sorted(s["faults"]["outcomes"]))})
    return rows
