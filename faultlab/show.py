"""What the notebooks show: source side by side, traces, lock tables, small demos.

The notebooks narrate and plot; every helper they call lives here, so a
notebook cell is a call and a print. Each function returns text, HTML or
numbers and prints nothing, so a test can read what a student would see.

    print(show.lock_table(result))            # who asked for mmap_sem when, and got it when
    show.side_by_side(sync, nopage_retry)     # two modules' source, wrapped, never clipped
    print(show.wrap_trace(result.trace_lines(task="app")))
"""
from __future__ import annotations

import html
import inspect
import textwrap

import simpy

from . import plots, record, workloads
from .result import percentiles
from .rwsem import RWSem
from .scenario import Disk, Scenario, Script
from .sim import run


# -- source ----------------------------------------------------------------------

def _source(obj) -> str:
    return textwrap.dedent(inspect.getsource(obj))


def _title(objs) -> str:
    first = objs[0]
    if inspect.ismodule(first):
        return first.__name__.replace(".", "/") + ".py"
    return f"{first.__module__}.{first.__qualname__.split('.')[0]}"


def side_by_side(*items):
    """The source of each item (a module, class or function, or a tuple of them)
    in its own column. Columns sit side by side while the page is wide enough
    and stack when it is not; long lines wrap. Normal font size, nothing clipped.
    Returns an IPython HTML object."""
    from IPython.display import HTML
    columns = []
    for item in items:
        objs = item if isinstance(item, tuple) else (item,)
        text = "\n".join(_source(o) for o in objs)
        columns.append(
            "<div style='flex:1 1 36em;min-width:0;max-width:100%'>"
            f"<b>{html.escape(_title(objs))}</b>"
            "<pre style='white-space:pre-wrap;overflow-wrap:break-word;margin:0.3em 0 0 0;"
            "font-family:var(--jp-code-font-family,monospace);font-size:var(--jp-code-font-size,13px)'>"
            f"{html.escape(text)}</pre></div>")
    return HTML("<div style='display:flex;flex-wrap:wrap;gap:0.5em 1.5em;align-items:flex-start'>"
                + "".join(columns) + "</div>")


# -- traces ------------------------------------------------------------------------

def wrap_trace(lines, width=96) -> str:
    """Trace lines joined, a line longer than ``width`` wrapped under its details column."""
    out = []
    for line in lines:
        parts = line.split(None, 3)
        details = parts[3] if len(parts) == 4 else ""
        indent = " " * (len(line) - len(details))
        out.append(textwrap.fill(line, width, subsequent_indent=indent) if len(line) > width else line)
    return "\n".join(out)


def one_fault(result, task="reader", n=1) -> list:
    """The trace lines of ``task``'s n-th fault, fault_start to fault_end."""
    lines = result.trace_lines(task=task)
    starts = [i for i, line in enumerate(lines) if " fault_start " in line]
    if len(starts) < n:
        raise ValueError(f"n: {task} started {len(starts)} fault(s) in this run, asked for fault {n}")
    end = next((i for i in range(starts[n - 1], len(lines)) if " fault_end " in lines[i]), len(lines) - 1)
    return lines[starts[n - 1]:end + 1]


# -- lock requests -------------------------------------------------------------------

def lock_table(result) -> str:
    """When each thread asked for mmap_sem and when it got it, in milliseconds."""
    lines = [f"{'thread':<8}{'side':<7}{'asked (ms)':>11}{'got (ms)':>10}{'waited (ms)':>13}"]
    for task, side, asked, got in record.lock_requests(result.events):
        lines.append(f"{task:<8}{side:<7}{asked / 1000:11.4f}{got / 1000:10.4f}{(got - asked) / 1000:13.4f}")
    return "\n".join(lines)


# -- the rw-semaphore alone ----------------------------------------------------------------

def rwsem_schedule(threads, rules="2.6.18") -> dict:
    """Run threads against one bare RWSem (no fault path); return {name: (asked_ms, got_ms)}.

    ``threads`` are (name, write, at_ms, hold_ms): the thread asks at ``at_ms``
    (down_read or down_write, which may sleep), holds the lock ``hold_ms``,
    then lets it go (up_read / up_write, which wakes waiters by ``rules``)."""
    env = simpy.Environment()
    sem = RWSem(env, rules=rules)                  # it keeps time in microseconds
    times = {}

    def thread(name, write, at, hold):
        yield env.timeout(at * 1000.0)
        asked = env.now
        yield sem.request(name, write)
        times[name] = (asked / 1000.0, env.now / 1000.0)
        yield env.timeout(hold * 1000.0)
        sem.unlock(name)

    for spec in threads:
        env.process(thread(*spec))
    env.run()
    return times


def rwsem_demo(with_writer=True, b_at=2.0, rules="2.6.18") -> dict:
    """Notebook 00's three threads: A reads from disk 0-10 ms, W (optional) asks to
    write at 1 ms for 0.5 ms, B (a cached-page fault) asks to read at ``b_at`` for 0.2 ms."""
    threads = [("A  fault, reading from disk", False, 0.0, 10.0)]
    if with_writer:
        threads.append(("W  mmap (a writer)", True, 1.0, 0.5))
    threads.append(("B  fault, page already cached", False, b_at, 0.2))
    return rwsem_schedule(threads, rules)


def rwsem_table(times) -> str:
    """A ``rwsem_schedule`` result as a table: asks at, gets at, waits (ms)."""
    width = max(len(name) for name in times) + 2
    lines = [f"{'thread':<{width}}{'asks at':>8}{'gets at':>9}{'waits':>8}"]
    for name, (asked, got) in sorted(times.items(), key=lambda kv: (kv[1][1], kv[1][0])):
        lines.append(f"{name:<{width}}{asked:8.1f}{got:9.1f}{got - asked:8.1f}")
    return "\n".join(lines)


def release_writer(rules, queue):
    """W1 holds the lock for writing, ``queue`` ((name, write), ...) queues behind it,
    then W1 lets go: who holds the lock now, and who still waits? (Under the modern
    rules the writers in ``queue`` sleep on the wait list instead of spinning, as
    they would if W1 were not running: ``spin_on_owner=False``.)"""
    env = simpy.Environment()
    sem = RWSem(env, rules=rules, **({"spin_on_owner": False} if rules == "modern" else {}))
    sem.trylock("W1", write=True)
    for name, write in queue:
        sem.request(name, write)
    sem.unlock("W1")
    return list(sem.holders), [req.task for req in sem.put_queue]


def stream_of_readers(rules, hold_us=1000.0, wakeup_us=20.0, until_us=20000.0):
    """A reader that holds the lock ``hold_us`` at a time and asks again at once, and a
    writer that queues at 0.1 ms: (the writer's wait in us, steals, handoffs)."""
    env = simpy.Environment()
    sem = RWSem(env, rules=rules, wakeup_us=wakeup_us)
    wait = {}

    def reader():
        while True:
            yield sem.request("R", write=False)
            yield env.timeout(hold_us)
            sem.unlock("R")

    def writer():
        yield env.timeout(100.0)
        asked = env.now
        yield sem.request("W", write=True)
        wait["W"] = env.now - asked
        yield env.timeout(50.0)
        sem.unlock("W")

    env.process(reader())
    env.process(writer())
    env.run(until=until_us)
    return wait["W"], sem.steals, sem.handoffs


def handoff_steps(hold_us=1000.0, wakeup_us=20.0, writer_at_us=100.0, hz=250, until_us=20000.0):
    """``stream_of_readers`` under the modern rules, release by release: one row
    per up_read of the reader after the writer queued, read just after the woken
    writer has run -- the release time (us), the jiffy then, the writer's
    ``timeout`` jiffy, who holds the lock, and whether HANDOFF is set -- up to the
    release at which the writer takes the lock. Also the time it queued (us)."""
    env = simpy.Environment()
    sem = RWSem(env, rules="modern", wakeup_us=wakeup_us, hz=hz)
    state = {"rows": [], "req": None, "queued_us": None}

    def look(released):
        req = state["req"]
        state["rows"].append({"released_us": released, "jiffies": sem.jiffies(), "timeout": req.timeout,
                              "holder": "+".join(sorted(sem.holders)) or "nobody",
                              "handoff": sem.handoff})

    def reader():
        while state["req"] is None or not state["req"].triggered:
            yield sem.request("R", write=False)
            yield env.timeout(hold_us)
            sem.unlock("R")
            if state["req"] is not None and not state["req"].triggered:
                env.timeout(wakeup_us + 0.5).callbacks.append(lambda _e, t=env.now: look(t))

    def writer():
        yield env.timeout(writer_at_us)
        state["req"] = req = sem.request("W", write=True)
        while req not in sem.put_queue and not req.triggered:
            yield env.timeout(0.5)                     # spinning on the readers, then it queues
        state["queued_us"] = env.now
        yield req
        yield env.timeout(50.0)
        sem.unlock("W")

    env.process(reader())
    env.process(writer())
    env.run(until=until_us)
    return state["rows"], state["queued_us"]


def wake_and_steal_table(rules=("2.6.18", "modern")) -> str:
    """``release_writer`` (R1 W2 R2 R3, then 300 readers, queued behind W1) and
    ``stream_of_readers`` under each of ``rules``, as the lines notebook 06 prints."""
    mixed = [("R1", False), ("W2", True), ("R2", False), ("R3", False)]
    many = [(f"R{i}", False) for i in range(300)]
    lines = []
    for r in rules:
        holders, waiting = release_writer(r, mixed)
        lines.append(f"{r:<7} R1 W2 R2 R3 queued -> holding {holders}, still waiting {waiting}")
    for r in rules:
        holders, waiting = release_writer(r, many)
        lines.append(f"{r:<7} 300 readers queued -> {len(holders)} holding, {len(waiting)} still waiting")
    lines.append(f"{'rwsem':<7} {'writer waited ms':>16} {'steals':>6} {'handoffs':>8}")
    for r in rules:
        waited, steals, handoffs = stream_of_readers(r)
        lines.append(f"{r:<7} {waited / 1000:16.1f} {steals:6d} {handoffs:8d}")
    return "\n".join(lines)


def handoff_table(rows, queued_us) -> str:
    """``handoff_steps``' result as a table (times in ms)."""
    lines = [f"writer queued at {queued_us / 1000:.4f} ms, after spinning on the reader",
             f"{'release ms':>10} {'jiffies':>7} {'timeout':>7} {'holder':>7} {'HANDOFF':>8}"]
    for r in rows:
        lines.append(f"{r['released_us'] / 1000:10.3f} {r['jiffies']:7d} {r['timeout']:7d} "
                     f"{r['holder']:>7} {'set' if r['handoff'] else '-':>8}")
    return "\n".join(lines)


# -- scenarios the notebooks build ------------------------------------------------------------

def three_threads(policy="sync", hot_page=7, hot_at_ms=2.0, disk_ms=10.0, until_ms=12.0):
    """Notebook 01's convoy: ``reader`` faults an uncached page at 0, ``mapper`` calls mmap
    at 1 ms, ``hot`` touches ``hot_page`` (page 7 is cached) at ``hot_at_ms``."""
    return Scenario(
        policy=policy, cached_pages=1024, until_ms=until_ms, name="three threads",
        disk=Disk(latency_ms=disk_ms),
        threads=(Script("reader", steps=(("touch", 500_000),)),
                 Script("mapper", steps=(("think", 1000.0), ("mmap",))),
                 Script("hot", steps=(("think", hot_at_ms * 1000.0), ("touch", hot_page)))))


def convoy_2023(policy, rwsem):
    """Notebook 06's convoy with no read-around: ``io`` faults an uncached page (an 18 ms
    read), ``mapper`` calls mmap at 1 ms, ``late`` touches a cached page at 2 ms."""
    return Scenario(policy=policy, rwsem=rwsem,
                    threads=(Script("io", steps=(("touch", 50000),)),
                             Script("mapper", steps=(("think", 1000.0), ("mmap",))),
                             Script("late", steps=(("think", 2000.0), ("touch", 5)))),
                    file_pages=1 << 16, cached_pages=1024, ra_pages=0,
                    disk=Disk(latency_ms=18.0), until_ms=60.0, name="convoy")


# -- tables of runs ----------------------------------------------------------------------------

def convoy_2023_table(policies=("sync", "vm_fault_retry"), rules=("2.6.18", "modern")) -> str:
    """``convoy_2023`` under each policy and rwsem rules: the ``io`` fault's latency, the
    mapper's wait for mmap_sem and the ``late`` fault's latency, in ms."""
    lines = [f"{'policy':<15} {'rwsem':<7} {'io fault ms':>11} {'mapper waits ms':>15} {'late fault ms':>13}"]
    for policy in policies:
        for r in rules:
            res = run(convoy_2023(policy, r))
            fault = {f.task: f for f in res.faults}
            call = {c.task: c for c in res.syscalls}
            lines.append(f"{policy:<15} {r:<7} {fault['io'].latency_us / 1000:11.3f} "
                         f"{call['mapper'].wait_us / 1000:15.3f} {fault['late'].latency_us / 1000:13.3f}")
    return "\n".join(lines)


def dos_table(policies, **params) -> str:
    """One fadvise_dos run per policy: passes through the fault path, finished, disk reads,
    evictions, the fault's latency."""
    lines = [f"{'policy':<16}{'passes':>7}{'finished':>10}{'disk reads':>12}{'evictions':>11}{'latency':>12}"]
    for p in policies:
        r = run(workloads.fadvise_dos(policy=p, **params))
        s = r.summary()
        f = s["faults"]
        evictions = record.count(r.events, record.EVICT)
        latency = f"{f['latency_ms']['max']:.3f} ms" if f["completed"] else "never"
        lines.append(f"{p:<16}{f['max_attempts']:>7}{'yes' if f['completed'] else 'no':>10}"
                     f"{s['disk_requests']:>12}{evictions:>11}{latency:>12}")
    return "\n".join(lines)


def livelock_edge(periods, finished):
    """One row of a livelock map: (the longest period that livelocked, the shortest that finished)."""
    stuck = [p for p, ok in zip(periods, finished) if not ok]
    done = [p for p, ok in zip(periods, finished) if ok]
    return (max(stuck) if stuck else None), (min(done) if done else None)


def same_run(preset, until_ms, a="nopage_retry", b="pagefault_args"):
    """One preset under policies ``a`` and ``b``: (same summary but the policy's name,
    same event list, number of events under ``a``)."""
    make = workloads.PRESETS[preset]
    ra, rb = run(make(policy=a, until_ms=until_ms)), run(make(policy=b, until_ms=until_ms))
    sa, sb = ra.summary(), rb.summary()
    sa.pop("policy"), sb.pop("policy")
    return sa == sb, ra.events == rb.events, len(ra.events)


def dropped_table(runs) -> str:
    """What became of the faults that dropped mmap_sem, one row per policy's run."""
    lines = [f"{'policy':<18}{'faults':>7}{'major':>7}{'revali-':>9}{'full':>9}{'redone':>8}{'mmap_sem held':>16}",
             f"{'':<18}{'':>7}{'':>7}{'dated':>9}{'retries':>9}{'walks':>8}{'across I/O':>16}"]
    for p, r in runs.items():
        s = r.summary()
        revalidated = record.count(r.events, record.REVALIDATED)
        lines.append(f"{p:<18}{s['faults']['completed']:>7}{s['faults']['major']:>7}{revalidated:>9}"
                     f"{s['faults']['retries']:>9}{s['redone_walks']:>8}"
                     f"{s['mmap_sem']['held_across_io_ms']:>13.1f} ms")
    return "\n".join(lines)


def contention(result) -> dict:
    """The numbers of one threaded_app run that show who waited for whom."""
    minor = [f.latency_us for f in result.faults if f.end_us is not None and not f.major]
    major = [f.latency_us for f in result.faults if f.end_us is not None and f.major]
    waits = [s.wait_us for s in result.syscalls if s.granted_us is not None]
    s = result.summary()
    return {"minor_p50_us": percentiles(minor)["p50"], "minor_p99_us": percentiles(minor)["p99"],
            "major_p50_ms": percentiles(major, 1000.0)["p50"],
            "writer_wait_mean_us": round(sum(waits) / len(waits), 2) if waits else 0.0,
            "writer_wait_max_us": percentiles(waits)["max"],
            "max_queue": s["mmap_sem"]["max_queue"],
            "mapper_per_s": s["threads"]["mapper"]["ops_per_s"]}


def contention_table(results, title="96 readers + mapper") -> str:
    """``contention`` of each run in ``results`` ({policy: result}), one column per policy."""
    table = {p: contention(r) for p, r in results.items()}
    rows = [("minor fault p50 (us)", "minor_p50_us"), ("minor fault p99 (us)", "minor_p99_us"),
            ("major fault p50 (ms)", "major_p50_ms"), ("writer wait mean (us)", "writer_wait_mean_us"),
            ("writer wait max (us)", "writer_wait_max_us"), ("mmap_sem max queue", "max_queue"),
            ("mapper loops/s", "mapper_per_s")]
    lines = [f"{title:<24}" + "".join(f"{p:>14}" for p in table)]
    for label, key in rows:
        lines.append(f"{label:<24}" + "".join(f"{plots.format_number(table[p][key]):>14}" for p in table))
    return "\n".join(lines)


def rows_table(rows, columns, none="never") -> str:
    """A list of dicts as a fixed-width text table: ``columns`` are ``(header, key)``
    pairs; numbers through ``plots.format_number``, None as ``none``."""
    def cell(v):
        if v is None:
            return none
        return v if isinstance(v, str) else plots.format_number(v)
    cells = [[h for h, _ in columns]] + [[cell(r[k]) for _, k in columns] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(columns))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                     .rstrip() for r in cells)


def live_beside_2010(results) -> str:
    """The live two-thread benchmark's split-CPU runs (``kernel_lab.lessons.benchmarks``) beside
    Lespinasse's 2010 figures (``analysis.PUBLISHED_TWO_THREAD``; his reader ran at about 55
    reads/s): reader rate, mapper loops/s and mapper loops per read, one row each."""
    from .analysis import PUBLISHED_TWO_THREAD
    rows = [("2010, before the series: the fault holds mmap_sem across the read", 55.0, PUBLISHED_TWO_THREAD["sync"]),
            ("2010, after: VM_FAULT_RETRY (merged in 2.6.37)", 55.0, PUBLISHED_TWO_THREAD["vm_fault_retry"])]
    kernel = ""
    for path, what in (("procmem", "/proc/self/mem read (GUP holds mmap_lock across it)"),
                       ("fault", "ordinary fault (per-VMA lock)")):
        r = results.get((path, "split"))
        if r is None:
            continue
        kernel = r.kernel                  # the rates alone: summary() would run the run's twin too
        rows.append((f"today, {what}", round(r.reader_rate(), 2), round(r.mapper_rate(), 1)))
    head = f"{'run':<64}{'reader/s':>9}{'mapper/s':>11}{'per read':>10}"
    lines = [head, "-" * len(head)]
    for label, reader, mapper in rows:
        per_read = mapper / reader if reader else float("nan")
        lines.append(f"{label:<64}{reader:>9.1f}{mapper:>11,.1f}{per_read:>10.2f}")
    if kernel:
        lines.append(f"(today: Linux {kernel}, reader and mapper on separate CPUs)")
    return "\n".join(lines)
