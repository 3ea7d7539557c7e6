"""The exercises' answers: one function per exercise, computed by the model when asked.

A notebook states the question in its text and shows a button,
``widgets.Reveal(exercises.reader_before_writer)``; pressing it calls the
function, which runs faultlab there and then and returns an ``Answer``: a
small table of what the model computed and the explanation, as prose.
Each function's docstring names its notebook and exercise. Read a
function after you have made your prediction: it is often the best
explanation of the answer.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from . import analysis, callchain, record, show, workloads
from .policies import POLICIES
from .scenario import Costs, Mapper
from .sim import run


@dataclass(frozen=True)
class Answer:
    """What a revealed answer shows: ``rows`` (a small table, the first row its header;
    may be empty) and ``text`` (prose, paragraphs separated by a blank line)."""

    rows: tuple = ()
    text: str = ""

    def __str__(self) -> str:
        return "\n\n".join(part for part in (table_text(self.rows), self.text) if part)


def table_text(rows) -> str:
    """``rows`` as fixed-width text: the first column left-aligned, the others right."""
    if not rows:
        return ""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                     .rstrip() for r in cells)


def _again(n) -> str:
    return ("does not call ->nopage again" if n == 0 else "calls ->nopage once more" if n == 1
            else f"calls ->nopage {n} more times")


def _ms(us) -> str:
    return f"{us / 1000:.2f}"


# -- 00 Start here ------------------------------------------------------------------------

def reader_before_writer() -> Answer:
    """00, Exercise 0.1: B asks at 0.5 ms, before the writer W arrives."""
    t = show.rwsem_demo(with_writer=True, b_at=0.5)
    rows = (("thread", "asks at (ms)", "gets the lock at (ms)"),) + tuple(
        (name, f"{a:.1f}", f"{g:.1f}") for name, (a, g) in sorted(t.items(), key=lambda kv: kv[1][1]))
    w = next(v for k, v in t.items() if k.startswith("W"))
    return Answer(rows, (
        "Nobody is queued when B arrives, so B shares the lock with A at once and is gone long before "
        f"W asks. W still waits until A's disk read is over ({w[1] - w[0]:.1f} ms): a writer can never "
        "share the lock with a reader, whoever else comes and goes. The rule that hurts B is about the "
        "queue, not about readers: B is stuck only when it arrives behind a queued writer."))


def readers_behind_a_writer() -> Answer:
    """00, Exercise 0.2: three cached-page faults queue behind W; then a second writer joins."""
    base = [("A", False, 0.0, 10.0), ("W", True, 1.0, 0.5),
            ("B", False, 2.0, 0.2), ("C", False, 3.0, 0.2), ("D", False, 4.0, 0.2)]
    one = show.rwsem_schedule(base)
    two = show.rwsem_schedule(base[:4] + [("W2", True, 3.5, 0.5)] + base[4:])
    names = ("A", "W", "B", "C", "W2", "D")
    rows = (("thread", "asks at (ms)", "gets it, one writer", "gets it, with W2"),) + tuple(
        (n, f"{(two[n] if n in two else one[n])[0]:.1f}", f"{one[n][1]:.1f}" if n in one else "-",
         f"{two[n][1]:.1f}") for n in names)
    together = one["B"][1] == one["C"][1] == one["D"][1]
    return Answer(rows, (
        f"With one writer, B, C and D {'all get the lock together' if together else 'do not get it together'}, "
        f"at {one['B'][1]:.1f} ms, when W lets go: up_write wakes every reader at the head of the queue, "
        "up to the next writer, and readers share. Each of them waited for A's whole disk read and for W, "
        "although none of them needed the disk.\n\n"
        f"With W2 queued between C and D, only B and C are woken at {two['B'][1]:.1f} ms. W2 gets the lock "
        f"when they have both let go ({two['W2'][1]:.1f} ms), and D, which arrived after W2, waits for W2 "
        f"too ({two['D'][1]:.1f} ms). The queue is strict first in, first out: a writer splits the readers "
        "queued behind it into separate groups."))


# -- 01 Baseline ------------------------------------------------------------------------------

def readaround_neighbour() -> Answer:
    """01, Exercise 1.1: *hot* touches page 500001, next to the reader's page, at 2 ms."""
    r = run(show.three_threads(hot_page=500_001))
    faults = {f.task: f for f in r.faults}
    rows = (("thread", "outcome", "latency (ms)"),) + tuple(
        (f.task, f.outcome.value, _ms(f.latency_us)) for f in r.faults)
    hot = faults["hot"]
    return Answer(rows, (
        f"hot's fault is counted {hot.outcome.value}, yet it took {_ms(hot.latency_us)} ms. It queued behind "
        "the mapper, which queued behind the reader's disk read. By the time hot held mmap_sem, the "
        "read-around that the reader's fault submitted (32 pages around page 500000) had brought page "
        "500001 into the page cache and the read had completed, so find_get_page found it uptodate: "
        "2.6.18's filemap_nopage counts a fault as major only when the page was missing from the cache.\n\n"
        "So the fault counters (min_flt, maj_flt) cannot tell you who waited for a disk: a minor fault can "
        "take as long as a read. Only the time spent waiting for mmap_sem shows the convoy."))


def two_mappers() -> Answer:
    """01, Exercise 1.2: two_thread with a second mapper thread."""
    one = workloads.two_thread(policy="sync", until_ms=2000)
    two = dataclasses.replace(one, threads=one.threads + (Mapper("mapper2"),))
    rows = [("run", "reader/s", "mapper/s", "mapper2/s", "syscalls per fault")]
    runs = {}
    for label, scenario in (("one mapper", one), ("two mappers", two)):
        s = runs[label] = run(scenario).summary()
        th = s["threads"]
        rows.append((label, f"{th['reader']['ops_per_s']:.1f}", f"{th['mapper']['ops_per_s']:.1f}",
                     f"{th['mapper2']['ops_per_s']:.1f}" if "mapper2" in th else "-",
                     f"{s['syscalls']['completed'] / s['faults']['completed']:.2f}"))
    return Answer(tuple(rows), (
        "Each mapper keeps the rate a lone mapper had; together they make twice as many syscalls per "
        "reader fault. While the reader's fault sleeps on the disk holding mmap_sem, both mappers queue for "
        "writing. When the reader lets go, the first writer in the queue gets the lock, and when it lets "
        "go, the next waiter is the other writer, which queued before the reader's next fault did. Only "
        "then does the reader get back in and take the lock to the disk again.\n\n"
        "So the number of writers served per disk read is the number that queued during it: every extra "
        "writer thread adds a turn per read, and none of them runs faster than the disk allows."))


def minor_faults_in_the_convoy() -> Answer:
    """01, Exercise 1.3: the fraction of minor faults slower than 1 ms, one reader and eight."""
    rows = [("readers", "minor faults", "slower than 1 ms", "fraction")]
    fractions = {}
    for n in (1, 8):
        r = run(workloads.threaded_app(policy="sync", n_readers=n, disk_ms=8.0, until_ms=500))
        minor = [f.latency_us for f in r.faults if f.end_us is not None and not f.major]
        slow = sum(x > 1000.0 for x in minor)
        fractions[n] = slow / len(minor)
        rows.append((str(n), str(len(minor)), str(slow), f"{fractions[n]:.2%}"))
    return Answer(tuple(rows), (
        f"With one reader, {fractions[1]:.2%}: nobody else can hold the lock across a read while the mapper "
        f"waits. With eight, {fractions[8]:.2%}: every minor fault that arrives while the mapper waits "
        "behind some reader's disk read waits for that read too. Each of them is a thread frozen for a disk "
        "read it never asked for."))


# -- 02 NOPAGE_RETRY --------------------------------------------------------------------------------

def faster_disk() -> Answer:
    """02, Exercise 2.1: two_thread with a disk ten times faster, under sync and nopage_retry."""
    rows = [("run", "reader/s", "mapper loops/s")]
    mapper = {}
    for policy in ("sync", "nopage_retry"):
        for disk in (18.0, 1.8):
            s = run(workloads.two_thread(policy=policy, disk_ms=disk, until_ms=400),
                    keep_events=False).summary()        # the summary only: no record kept
            mapper[policy, disk] = s["threads"]["mapper"]["ops_per_s"]
            rows.append((f"{policy}, disk {disk:g} ms", f"{s['threads']['reader']['ops_per_s']:.1f}",
                         f"{mapper[policy, disk]:,.1f}"))
    sync_x = mapper["sync", 1.8] / mapper["sync", 18.0]
    retry_x = mapper["nopage_retry", 1.8] / mapper["nopage_retry", 18.0]
    return Answer(tuple(rows), (
        f"Under sync the mapper is tied to the disk: a ten times faster disk makes it {sync_x:.1f} times "
        "faster, although the mapper never touches the disk. Under nopage_retry the mapper no longer waits "
        f"for any read, so the disk's speed hardly matters to it (x{retry_x:.2f}): its own syscalls, and the "
        "reader's short passes under the lock, set its rate.\n\n"
        "That is the test for a convoy: a thread whose speed follows a resource it never uses."))


def three_threads_with_retry() -> Answer:
    """02, Exercise 2.2: notebook 01's three threads under sync and under nopage_retry."""
    rows = [("policy", "mapper gets mmap_sem (ms)", "hot gets it (ms)", "reader's fault ends (ms)", "attempts")]
    ends = {}
    for policy in ("sync", "nopage_retry"):
        r = run(show.three_threads(policy=policy))
        first = {}
        for t, task, ev, _ in r.events:
            if ev == record.ACQUIRE_RETURNED:
                first.setdefault(task, t)
        reader = next(f for f in r.faults if f.task == "reader")
        ends[policy] = reader.end_us
        rows.append((policy, _ms(first["mapper"]), _ms(first["hot"]), _ms(reader.end_us), str(reader.attempts)))
    later = ends["nopage_retry"] - ends["sync"]
    return Answer(tuple(rows), (
        "Under nopage_retry the mapper and hot get the lock as soon as they ask: the reader let it go "
        "before sleeping on the page. The reader's own fault ends "
        f"{'later' if later > 0 else 'earlier'}, by {abs(later):.1f} us: after the read it must take "
        "mmap_sem again and run the fault a second time (find_vma, the page-table walk, the page-cache "
        "lookup). The writer's gain is bought with a little of the faulting thread's time."))


def no_writer_no_gain() -> Answer:
    """02, Exercise 2.3: Waychison's measurement, 64 readers from disk, no writer."""
    runs = {p: run(workloads.threaded_app(policy=p, n_readers=64, miss_ratio=1.0, mapper=False,
                                          until_ms=300)).summary() for p in ("sync", "nopage_retry")}
    rows = (("policy", "faults", "p50 (ms)", "p99 (ms)", "redone walks"),) + tuple(
        (p, str(s["faults"]["completed"]), f"{s['faults']['latency_ms']['p50']:.3f}",
         f"{s['faults']['latency_ms']['p99']:.3f}", str(s["redone_walks"])) for p, s in runs.items())
    c = Costs()
    extra = runs["nopage_retry"]["redone_walks"] * (c.find_vma_us + c.walk_us + c.find_get_page_us)
    return Answer(rows, (
        f"The redone walks add {extra:.0f} us of CPU time in total, spread over 64 threads that spend "
        "almost all their time waiting for the disk. With no writer, nobody was waiting for mmap_sem in "
        "the first place: readers share it. So there is nothing to gain, and almost nothing to lose, "
        "which is what Waychison's \"<< 1%\" measured."))


def refault_counters() -> Answer:
    """02, Exercise 2.4: the reader's fault counters under refault, beside nopage_retry."""
    rows = [("policy", "reads finished", "maj_flt", "min_flt", "pgmajfault")]
    got = {}
    for r in analysis.refault_counts(policies=("nopage_retry", "refault"), until_ms=400.0):
        got[r["policy"]] = r
        rows.append((r["policy"], str(r["finished"]), str(r["maj_flt"]), str(r["min_flt"]), str(r["pgmajfault"])))
    rf = got["refault"]
    return Answer(tuple(rows), (
        f"Under refault the reader's own counters show {rf['maj_flt']} major faults for {rf['finished']} disk "
        f"reads, and {rf['min_flt']} minor ones. The first fault of each read starts the read, drops mmap_sem, "
        "waits, and ends with NOPAGE_REFAULT, which do_no_page answers as VM_FAULT_MINOR: the arch code counts "
        "what handle_mm_fault answers, so min_flt. The access then runs again and faults on a page that is now "
        "in the cache and uptodate: another minor fault.\n\n"
        "Only the system-wide pgmajfault (/proc/vmstat) still sees the reads: filemap_nopage counts it when "
        "it starts one, whatever the fault answers afterwards. A tool that judges a program's I/O by its own "
        "major faults (getrusage's ru_majflt, ps -o maj_flt) sees none, and sees two faults per read."))


# -- 03 Livelock ------------------------------------------------------------------------------------

def a_writer_in_the_window(seeds=range(20), evict_period_us=10.0) -> Answer:
    """03, Exercise 3.1: fadvise_dos with a mapper in the victim's process, under nopage_retry and vm_fault_retry.

    The evictor calls FADV_DONTNEED every 10 us, more than ten times the 2006
    retry window. Per design, with and without the mapper, over 20 seeds: the
    faults that had to read their page twice, the time a fault slept on a
    read holding mmap_sem, and the mapper's longest wait for mmap_sem."""
    rows = [("design", "mapper", "faults that read the page twice", "held across I/O, all runs (ms)",
             "mapper's longest wait (ms)")]
    twice, wait = {}, {}
    for p in ("nopage_retry", "vm_fault_retry"):
        for with_mapper in (False, True):
            reads, held, waits = [], 0.0, [0.0]
            for seed in seeds:
                scenario = workloads.fadvise_dos(policy=p, evict_period_us=evict_period_us, seed=seed, until_ms=20.0)
                if with_mapper:
                    scenario = dataclasses.replace(scenario, threads=scenario.threads + (Mapper("mapper"),))
                s = run(scenario, keep_events=False).summary()
                reads.append(s["disk_requests"])
                held += s["mmap_sem"]["held_across_io_ms"]
                waits.append(s["syscalls"]["wait_ms"]["max"])
            twice[p, with_mapper] = sum(n > 1 for n in reads)
            wait[p, with_mapper] = max(waits)
            rows.append((p, "yes" if with_mapper else "no", f"{twice[p, with_mapper]} of {len(reads)}",
                         f"{held:.3f}", f"{wait[p, with_mapper]:.3f}" if with_mapper else "-"))
    n = len(seeds)
    return Answer(tuple(rows), (
        f"nopage_retry reads the page twice in {twice['nopage_retry', False]} of {n} runs without the mapper and "
        f"{twice['nopage_retry', True]} of {n} with it: the mapper does not widen its window. The 2006 patch keeps its "
        "page reference through wait_on_page_locked and through the down_read that retakes mmap_sem, so while "
        "the fault queues behind the mapper's mmap or munmap, the page has a reference besides the cache's and "
        "invalidate_mapping_pages skips it. The page is exposed only during the rerun, a microsecond or so.\n\n"
        f"vm_fault_retry reads it twice in {twice['vm_fault_retry', True]} of {n} runs with the mapper "
        f"({twice['vm_fault_retry', False]} without). In 2.6.37 filemap_fault puts the page before returning "
        "VM_FAULT_RETRY, and only then does the arch code retake mmap_sem at retry:. When the mapper holds or "
        "has queued for mmap_sem, the fault waits in down_read with nothing protecting its page, tens of "
        "microseconds, and the evictor drops it. The second pass may not drop the lock (ALLOW_RETRY is "
        "cleared), so it reads the page again holding mmap_sem, and the mapper, the thread the retry was "
        f"meant to spare, waits for that read (up to {wait['vm_fault_retry', True]:.1f} ms).\n\n"
        "What decides the window is where the page reference is let go relative to retaking the lock: before "
        "it, every writer of the process widens the window. Once-only retry still bounds the damage to one "
        "more read, but that read brings the convoy back for it."))


def slow_scheduler() -> Answer:
    """03, Exercise 3.2: a victim that takes 500 us to be scheduled after its read."""
    rows = [("policy", "passes", "finished")]
    for p in ("retry_unlimited", "nopage_retry"):
        f = run(workloads.fadvise_dos(policy=p, wakeup_us=500.0)).summary()["faults"]
        rows.append((p, str(f["max_attempts"]), "yes" if f["completed"] else "no"))
    return Answer(tuple(rows), (
        "Nothing changes. The fault wakes up and retakes mmap_sem while it still holds its reference on the "
        "page, so the evictor cannot drop the page during the wake-up, however long it takes. The page is "
        "exposed only between dropping that reference and the rerun's page-cache lookup, and the wake-up is "
        "not in that window."))


def guards_that_would_not_help() -> Answer:
    """03, Exercise 3.3: which of Herrenschmidt's guards could end Morton's livelock?"""
    f = run(workloads.fadvise_dos(policy="retry_unlimited", until_ms=100)).summary()["faults"]
    rows = (("retry_unlimited, 100 ms", "value"), ("passes", str(f["max_attempts"])),
            ("finished", "yes" if f["completed"] else "no"))
    return Answer(rows, (
        "pte_present is the only guard that ends the fault with the page mapped, and it never fires here: "
        "the page is dropped before anyone maps it.\n\n"
        "signal_pending fires only if someone sends a signal. A fatal one ends the task, not the fault; "
        "after a handled one the instruction faults again and meets the same evictor. /sbin/init ignores "
        "signals it has no handler for, even SIGKILL, so init stays stuck, and an administrator must first "
        "notice.\n\n"
        "need_resched is often true, but the task only gives up the CPU and comes back to the same race; "
        "the next round is as winnable for the attacker as the last.\n\n"
        "None of them makes a round unwinnable. A synchronous pass does: it keeps its page reference from "
        "the lookup to the installed pte."))


def page_flag_sibling() -> Answer:
    """03, Exercise 3.4: siblings that fault a marked page, under nopage_retry and page_flag_retry."""
    rows = [("policy", "seed", "faults that met the bit", "held across I/O (ms)", "mapper's longest wait (ms)")]
    for r in analysis.page_flag_siblings(seeds=(0, 1, 2)):
        rows.append((r["policy"], str(r["seed"]), str(r["found"]), f"{r['held_across_io_ms']:.3f}",
                     f"{r['mapper_max_wait_ms']:.3f}"))
    return Answer(tuple(rows), (
        "Under nopage_retry every thread that finds the page locked for its read drops mmap_sem: the marker "
        "is in the faulting task's flags, so each thread has its own first attempt. Under page_flag_retry the "
        "first fault sets the bit on the page as it retries; a sibling that faults the same page before the "
        "bit is cleared finds it set and takes the synchronous path, sleeping on the read with mmap_sem held. "
        "The mapper then waits behind it: the convoy is back, for shared pages only.\n\n"
        "The bit answers \"has this page cost a fault its retry?\", not \"has this fault retried?\". That is "
        "why eviction resets it (a fresh struct page has the bit clear) and why siblings inherit it."))


# -- 04 pagefault_args ----------------------------------------------------------------------------------

def who_else_leaks() -> Answer:
    """04, Exercise 4.1: which designs hit the get_user_pages bug in pinned_gup?"""
    rows = [("policy", "kernel bugs", "outcomes")]
    for p in POLICIES:
        s = run(workloads.pinned_gup(policy=p)).summary()
        rows.append((p, str(len(s["kernel_bugs"])),
                     ", ".join(f"{k} {v}" for k, v in s["faults"]["outcomes"].items())))
    return Answer(tuple(rows), (
        "The designs that keep the permission in the task flag, with nopage_retry's fault_begin and "
        "may_retry unchanged, leak: nopage_retry, retry_unlimited and single_user_sync (pinned_gup has two "
        "threads, so single_user_sync takes the retry path).\n\n"
        "pagefault_args is also a subclass of nopage_retry's class, but it overrides exactly those hooks, so "
        "its permission lives in the fault's own struct and get_user_pages builds one without it. "
        "vm_fault_retry, multi_retry and per_vma_lock keep it in per-fault flags the same way. sync never "
        "drops the lock.\n\n"
        "seqcount and seqcount_unchecked do not leak because of a shortcut of the model: their "
        "page_not_uptodate reads synchronously when the fault was started by get_user_pages, a per-fault "
        "fact. Morton's proposal does not say where the permission would live; built on the 2006 patch's "
        "task flag, it would leak like nopage_retry."))


def one_more_fact() -> Answer:
    """04, Exercise 4.2: whose parameter lists change when a new per-fault fact must travel the 2.6.18 path?"""
    facts = (("the page comes back locked (2.6.23)", "filemap_nopage", "do_no_page"),
             ("this fault may drop mmap_sem (2.6.37)", "do_page_fault", "filemap_nopage"))
    rows = [("new fact", "from", "to", "lists that change, 2.6.18", "with the struct")]
    changed = {}
    for fact, source, sink in facts:
        calls = changed[sink] = callchain.carry(source, sink)
        rows.append((fact, source, sink, str(len(calls)), str(len(callchain.carry(source, sink, struct=True)))))

    def names(calls):
        return ", ".join(c.name.split()[0] for c in calls)

    hooks = {c.name.split()[0] for calls in changed.values() for c in calls if c.hook}
    return Answer(tuple(rows), (
        f"Up: the locked page is an answer of filemap_nopage to do_no_page, so it needs an out-pointer in "
        f"{names(changed['do_no_page'])}'s list, as its int *type already is. Down: the permission is decided in "
        f"do_page_fault and used in filemap_nopage, so every list below it changes: {names(changed['filemap_nopage'])}. "
        f"Either way {', '.join(sorted(hooks))} is one of them, and it is reached through vma->vm_ops->nopage: the "
        "prototype is shared by every ->nopage in every filesystem and driver, so all of them change with it, in "
        "code the patch's author does not own. With Morton's struct neither fact touches a signature: each is one "
        "more field, set by whoever knows it and read by whoever needs it.\n\n"
        "Linux got there in steps. 2.6.23's ->fault(vma, struct vm_fault *) put a struct on the last hop only "
        "(2.6.24's __do_fault fills its flags, pgoff, virtual_address and page), and by 2.6.24 the locked page came "
        "back as a bit of the return value, VM_FAULT_LOCKED; above it, handle_mm_fault and handle_pte_fault still "
        "passed write_access as an argument of its own. In April 2009 a patch signed off by Linus Torvalds, the "
        "first of Ying Han's retry series V4 (<604427e00904131245r1125eadapc4f526ac42cf68a@mail.gmail.com>), "
        "turned that boolean into a word of FAULT_FLAG_ bits through mm/memory.c's fault functions, paying the "
        "signature changes once, because callers would want to say more than \"was it a write\", for example "
        "that the fault may answer with a retry. 2.6.37's permission to retry is then one more bit in that word, "
        "FAULT_FLAG_ALLOW_RETRY, and from 4.10 the whole path passes one struct vm_fault. "
        "The struct's lasting gain is that the next fact costs a field, not a signature."))


def fast_disk_hides_nothing() -> Answer:
    """04, Exercise 4.3: pinned_gup under nopage_retry with a very fast disk."""
    s = run(workloads.pinned_gup(policy="nopage_retry", disk_ms=0.5)).summary()
    rows = (("at (ms)", "kernel bug"),) + tuple((f"{b['t_us'] / 1000:.4f}", b["bug"]) for b in s["kernel_bugs"])
    return Answer(rows, (
        f"{len(s['kernel_bugs'])} kernel bugs, as with the slow disk. The leak happens whenever the nested "
        "fault finds its page still being read, and the page is always still being read right after the "
        "read is submitted. A faster disk only makes the bug happen sooner: a bug that depends on a flag's "
        "scope, not on timing, is not hidden by a faster machine."))


def page_lock_across_the_wait() -> Answer:
    """04, Exercise 4.4: truncate_race under lock_page_nopage and nopage_retry: when truncate gets the page's lock."""
    rows = [("policy", "read done (µs)", "truncate gets the page lock (µs)", "fault ends (µs)", "how it ended")]
    got = {}
    for p in ("lock_page_nopage", "nopage_retry"):
        t = analysis.truncate_lock_order(policy=p)
        got[p] = t
        rows.append((p, f"{t['read_done_us']:.1f}", f"{t['truncate_got_us']:.1f}", f"{t['fault_end_us']:.1f}",
                     t["outcome"]))
    lp, nr = got["lock_page_nopage"], got["nopage_retry"]
    lp_order = "after" if lp["truncate_got_us"] > lp["fault_end_us"] else "before"
    nr_order = "before" if nr["truncate_got_us"] < nr["fault_end_us"] else "after"
    return Answer(tuple(rows), (
        f"Under lock_page_nopage the truncater gets the page lock {lp_order} the fault ends: the fault holds "
        "mmap_sem throughout, takes the page lock when it finds the page, checks i_size under it and lets it "
        "go only once the pte is set. Under nopage_retry the truncater gets the lock "
        f"{nr_order} the fault ends, as soon as the read completes: the fault waited with mmap_sem dropped, "
        "holding only a reference to the page, and must retake mmap_sem before it can map anything. Its "
        "rerun then finds the page gone past the new end of file and ends in SIGBUS; the reference kept the "
        "page's memory alive, not its place in the file.\n\n"
        "Why not keep the page locked from the end of the read until the rerun maps it? Every fault takes "
        "mmap_sem first and the page lock second (do_page_fault, then ->nopage's lock_page). A fault that held "
        "a page lock while it waited in down_read would take them the other way round. Suppose a writer such "
        "as munmap is queued on mmap_sem, waiting for a reader that is itself asleep in lock_page on that "
        "same page: the reader waits for our fault, our fault waits behind the writer, the writer waits for "
        "the reader, and nobody moves. So the retry designs hold a reference across the wait and recheck "
        "the page after relocking; the model follows that order and does not run the deadlock itself."))


# -- 05 Seqcount -------------------------------------------------------------------------------------

def quiet_writer() -> Answer:
    """05, Exercise 5.1: seqcount with a mapper that thinks 5 ms between syscalls."""
    (row,) = analysis.seqcount_sweep(mapper_think_us=(5000.0,))
    rows = (("mapper loops/s", "revalidated", "full retries", "retry fraction"),
            (f"{row['writer_ops_per_s']:.0f}", str(row["revalidated"]), str(row["full_retries"]),
             f"{row['retry_fraction']:.3f}"))
    return Answer(rows, (
        f"A writer that runs only about {row['writer_ops_per_s']:.0f} times a second still sends "
        f"{row['retry_fraction']:.0%} of the dropped-lock faults round a full retry. Each disk read lasts "
        "milliseconds, and any down_write anywhere in the mm during that time moves the counter. The "
        "chance that a read overlaps some write grows with the read's length and the writer's rate, not "
        "with whether the writer touched the fault's VMA."))


def latent_bug() -> Answer:
    """05, Exercise 5.2: seqcount_unchecked on threaded_app with the mapper."""
    s = run(workloads.threaded_app(policy="seqcount_unchecked", until_ms=300)).summary()
    rows = (("threaded_app, seqcount_unchecked", "value"), ("faults", str(s["faults"]["completed"])),
            ("kernel bugs", str(len(s["kernel_bugs"]))))
    return Answer(rows, (
        f"{len(s['kernel_bugs'])} kernel bugs. The mapper only unmaps its own anonymous page, never the "
        "file's VMA, so the VMA the unchecked fault keeps using is never stale. The bug needs a munmap of "
        "that VMA during that read: a test that does not aim at that race passes for ever, which is why "
        "the notebook builds unmap_during_fault on purpose."))


def alone_after_all() -> Answer:
    """05, Exercise 5.3: one thread, single_user_sync against seqcount."""
    rows = [("policy", "retries", "revalidated", "held across I/O (ms)")]
    for p in ("single_user_sync", "seqcount"):
        r = run(workloads.threaded_app(policy=p, n_readers=1, mapper=False, miss_ratio=0.5, until_ms=300))
        s = r.summary()
        rows.append((p, str(s["faults"]["retries"]), str(record.count(r.events, record.REVALIDATED)),
                     f"{s['mmap_sem']['held_across_io_ms']:.1f}"))
    return Answer(tuple(rows), (
        "single_user_sync sees mm_users == 1 and reads synchronously, holding mmap_sem across every read: "
        "harmless, since no other thread of the process exists to want it. seqcount drops the lock anyway, "
        "finds the counter unchanged and revalidates, so it too redoes no walk; it pays only the extra "
        "lock round trip. Alone in its mm, neither retries."))


def truncate_that_keeps_the_page() -> Answer:
    """05, Exercise 5.4: truncate_race under sync and lock_page_nopage, the truncate keeping the page or not."""
    rows = [("design", "truncate", "->nopage again (truncate_count)", "truncater slept on the page lock",
             "fault ended")]
    got = {}
    for beyond, label in ((False, "keeps the page"), (True, "cuts it off")):
        table = {r["policy"]: r for r in analysis.truncate_race_table(policies=("sync", "lock_page_nopage"),
                                                                       beyond=beyond)}
        for p in ("sync", "lock_page_nopage"):
            order = analysis.truncate_lock_order(policy=p, beyond=beyond)
            slept = order["truncate_waits_us"] is not None
            got[p, beyond] = (table[p]["truncate_retries"], slept)
            rows.append((p, label, str(table[p]["truncate_retries"]), "yes" if slept else "no", table[p]["outcome"]))
    keep_sync, keep_lock = got["sync", False], got["lock_page_nopage", False]
    return Answer(tuple(rows), (
        f"A truncate that keeps the page: under sync, do_no_page {_again(keep_sync[0])}, "
        "because truncate_count belongs to the whole file and every unmap_mapping_range moves it, whatever "
        f"pages it removes. Under lock_page_nopage it {_again(keep_lock[0]).replace('->nopage', 'it')}, and "
        f"{'nobody' if not keep_lock[1] else 'the truncater'} sleeps on a page lock: truncate_inode_pages locks only "
        "the pages past the new end, the faulted page is not one of them, and the fault checks i_size under its "
        "own page's lock, where the new size is already visible.\n\n"
        "A truncate that cuts the page off has to take that very page's lock to remove it, so it sleeps until "
        "the read is over under both designs: the page lock makes the two meet exactly when they touch the same "
        "page, and never otherwise.\n\n"
        "It is the false invalidation of the sweep above, one level down. Morton's mm count moves on every "
        "down_write of the process, as truncate_count moves on every truncate of the file; a guard as fine as "
        "what it protects (a page's lock here, a VMA's lock in 6.4's per-VMA locks) is disturbed only by the "
        "writers that change that object. The price is a lock taken per object instead of one count read."))


# -- 06 What Linux did -----------------------------------------------------------------------------------

def per_vma_lock_two_thread(until_ms=100.0) -> Answer:
    """06, Exercise 6.1: how often the reader takes mmap_lock under multi_retry and per_vma_lock.

    A tenth of a simulated second is five of the reader's 18 ms reads: enough for
    the per-fault count, which is the same for every fault. The runs keep no
    record; the reader's requests are folded as they happen (record.RequestsPerFault)."""
    rows = [("policy", "reader faults", "reader's mmap_lock requests", "per fault", "mapper loops/s")]
    for p in ("multi_retry", "per_vma_lock"):
        asked = record.RequestsPerFault("reader")
        s = run(workloads.two_thread(policy=p, rwsem="modern", until_ms=until_ms), keep_events=False,
                folds=(asked,)).summary()
        asks, faults = asked.result()
        rows.append((p, str(faults), str(asks), f"{asks / faults:.1f}", f"{s['threads']['mapper']['ops_per_s']:,.0f}"))
    return Answer(tuple(rows), (
        "Under multi_retry each major fault takes mmap_lock twice: once for the first attempt, which drops "
        "it to wait for the read, and once for the retry. Under per_vma_lock the first attempt runs under "
        "the file VMA's own lock, but a fault that has to wait for I/O returns RETRY, and the retry goes the "
        "old way, under mmap_lock: once per major fault.\n\n"
        "The mapper runs at the same speed under both, because neither holds mmap_lock across the read. "
        "Per-VMA locks take the minor faults off mmap_lock entirely; a major fault still passes through it "
        "once, briefly."))


def unlimited_vs_multi() -> Answer:
    """06, Exercise 6.2: retry_unlimited, nopage_retry and multi_retry against fadvise_dos."""
    rows = [("policy", "finished", "attempts", "held across I/O (ms)")]
    for p in ("retry_unlimited", "nopage_retry", "multi_retry"):
        s = run(workloads.fadvise_dos(policy=p, until_ms=50.0)).summary()
        rows.append((p, "no" if s["faults"]["unfinished"] else "yes", str(s["faults"]["max_attempts"]),
                     f"{s['mmap_sem']['held_across_io_ms']:.3f}"))
    return Answer(tuple(rows), (
        "retry_unlimited drops the lock on every attempt, so the evictor can win every round: the fault is "
        "still unfinished when the run ends, and it never held the lock across I/O. nopage_retry and "
        "multi_retry drop it only on the first attempt; the second reads synchronously under the lock "
        "(held across that one read) and finishes. Linux 5.7 kept Google's 2006 fallback: retry as often "
        "as you like, but let go of the lock only once."))


def modern_rules_alone() -> Answer:
    """06, Exercise 6.3: threaded_app under sync with the 2.6.18 and the modern rwsem rules."""
    rows = [("rwsem", "mapper's longest wait (ms)", "fault p99 (ms)", "mapper loops/s", "held across I/O (ms)")]
    for rules in ("2.6.18", "modern"):
        s = run(workloads.threaded_app(policy="sync", rwsem=rules, until_ms=300.0)).summary()
        rows.append((rules, f"{s['syscalls']['wait_ms']['max']:.3f}", f"{s['faults']['latency_ms']['p99']:.3f}",
                     f"{s['threads']['mapper']['ops_per_s']:.1f}", f"{s['mmap_sem']['held_across_io_ms']:.1f}"))
    return Answer(tuple(rows), (
        "The convoy stays. It starts with a reader holding the lock across a disk read while a writer "
        "waits, and today's rules still make a new reader queue on a lock that readers hold while others "
        "wait. Stealing and waking readers past writers change who goes next among the waiters, not how "
        "long the holder sleeps on the disk. Only not holding the lock across I/O (or not taking it at "
        "all) helps."))
