"""The designs of the story (faultlab/policies/), held to what each kernel
patch or proposal claimed and to what went wrong with it.

Sources: Waychison's NOPAGE_RETRY patch <45107ECE.5040603@google.com>;
Morton <20060915001151.75f9a71b.akpm@osdl.org> (pagefault_args, the mm
sequence counter, the single-user shortcut) and <20060920105317.7c3eb5f4.akpm@osdl.org>
(the FADV_DONTNEED livelock); Lespinasse d065bd810b6d (2.6.37); Bacik
6b4c9f446981 (5.1); Peter Xu 4064b9827063 (5.7); per-VMA locks
<20230227173632.3292573-1-surenb@google.com>, 12214eba1992 (6.7).
"""
from __future__ import annotations

import pytest

import faultlab
from faultlab import Disk, Scenario, Script, workloads
from faultlab.mm import FILE_BASE

ALL = list(faultlab.POLICIES)


def run(preset, **params):
    return faultlab.run(workloads.get_preset(preset)(**params))


# -- the acceptance criteria ----------------------------------------------------


def test_nopage_retry_frees_the_mapper_from_the_disk():
    """Lespinasse 2010: with mmap_sem dropped during the read, the mmap/munmap
    loop runs at CPU speed -- hundreds of times the reader's disk-bound rate
    (55/s before, 15000/s after). The model must show at least 50x."""
    s = run("two_thread", policy="nopage_retry", disk_ms=18, until_ms=500).summary()
    reader = s["threads"]["reader"]["ops_per_s"]
    assert reader == pytest.approx(1000 / 18, rel=0.1)
    assert s["threads"]["mapper"]["ops_per_s"] >= 50 * reader
    assert s["mmap_sem"]["held_across_io_ms"] == 0.0


def fadvise(policy, **params):
    """Morton's DoS: the evictor calls FADV_DONTNEED every 0.5 us, far less than
    a rerun takes from the end of the read to its page-cache lookup (a wake-up
    alone is 5 us)."""
    return run("fadvise_dos", policy=policy, evict_period_us=0.5, **params).summary()["faults"]


def test_unlimited_retry_never_finishes_the_fault():
    """Without the once-only guard, the page is dropped between every read and
    its rerun: the fault is 'permanently stuck in the kernel', and the longer
    the run, the more attempts it makes."""
    short, long = fadvise("retry_unlimited", until_ms=100), fadvise("retry_unlimited", until_ms=200)
    for f in (short, long):
        assert f["completed"] == 0 and f["unfinished"] == 1
    assert long["max_attempts"] > short["max_attempts"] > 10


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("policy, attempts", [("sync", 1), ("nopage_retry", 2), ("pagefault_args", 2),
                                              ("vm_fault_retry", 2)])
def test_retry_once_finishes_in_exactly_two_attempts(policy, attempts, seed):
    """The livelock guard of 2006 and 2.6.37: the second pass is synchronous, so
    the page it reads is locked, referenced and mapped before the evictor can
    drop it. 2.6.18 itself never retries."""
    f = fadvise(policy, seed=seed)
    assert (f["completed"], f["unfinished"], f["max_attempts"]) == (1, 0, attempts)


@pytest.mark.parametrize("policy", ["multi_retry", "per_vma_lock"])
def test_multi_retry_finishes_because_only_the_first_attempt_drops_the_lock(trace, policy):
    """5.7: retries are unlimited, but fault_flag_allow_retry_first() lets only
    the first attempt drop mmap_sem; later ones read under it, as in 2006."""
    r = run("fadvise_dos", policy=policy, evict_period_us=0.5)
    f = r.summary()["faults"]
    assert (f["completed"], f["unfinished"]) == (1, 0)
    waits = trace.select(r, "victim", "io_wait_start")
    assert [dict(e[3])["mmap_sem"] for e in waits][-1] is True


PRESET_PARAMS = {"two_thread": {"until_ms": 50.0}, "threaded_app": {"until_ms": 50.0}}


@pytest.mark.parametrize("preset", [p for p in workloads.PRESETS if p not in ("pinned_gup", "truncate_race")])
def test_pagefault_args_behaves_exactly_like_nopage_retry(preset):
    """Morton's struct pagefault_args moves the retry state from current->flags
    into a per-fault struct; nothing else changes: same trace, same summary
    (except under a nested get_user_pages, and against a truncate, where the
    struct's page-locked boolean is in use: tests/test_truncate.py)."""
    params = PRESET_PARAMS.get(preset, {})
    a = run(preset, policy="nopage_retry", **params)
    b = run(preset, policy="pagefault_args", **params)
    assert a.events == b.events
    sa, sb = a.summary(), b.summary()
    assert (sa.pop("policy"), sb.pop("policy")) == ("nopage_retry", "pagefault_args")
    assert sa == sb


def test_pagefault_args_and_the_task_flag_part_only_at_a_nested_get_user_pages(trace):
    """pinned_gup: a driver's ->nopage pins a page with get_user_pages inside the
    fault. The two designs agree event for event until the nested fault finds the
    page under read: there the task flag, still set, makes it drop the caller's
    mmap_sem and return RETRY into get_user_pages (a BUG()); per-fault args
    built by get_user_pages carry no ALLOW_RETRY, so it just waits."""
    flag = run("pinned_gup", policy="nopage_retry")
    args = run("pinned_gup", policy="pagefault_args")
    bugs = [b["bug"] for b in flag.summary()["kernel_bugs"]]
    assert any("dropped under a get_user_pages caller" in b for b in bugs)
    assert any("VM_FAULT_RETRY returned to get_user_pages" in b for b in bugs)
    assert args.summary()["kernel_bugs"] == []
    split = trace.names(flag).index("kernel_bug")
    assert flag.events[:split] == args.events[:split]
    assert "OOPS" in flag.summary()["faults"]["outcomes"]
    assert set(args.summary()["faults"]["outcomes"]) <= {"MINOR", "MAJOR"}
    assert trace.select(args, "app", "io_wait_start", mmap_sem=True)


# -- seqcount: revalidate instead of rerunning -----------------------------------------------


@pytest.mark.parametrize("preset, params", [("single_thread", {"until_ms": 200.0}),
                                            ("threaded_app", {"until_ms": 100.0, "mapper": False})])
def test_seqcount_skips_the_rerun_when_no_writer_intervened(trace, preset, params):
    """Counter unchanged after the wait: the VMA and page tables found before it
    are still good, so no find_vma and no new walk. nopage_retry redoes both."""
    seq = run(preset, policy="seqcount", **params)
    old = run(preset, policy="nopage_retry", **params)
    assert old.redone_walks > 0
    assert seq.redone_walks == 0 < old.redone_walks
    assert len(trace.select(seq, event="revalidated")) == old.redone_walks


def test_seqcount_reruns_in_full_when_a_writer_intervened(trace):
    """two_thread: the mapper's down_write bumps mm->seq during every read, so
    every fault drops mmap_sem again and reruns, as nopage_retry does."""
    seq = run("two_thread", policy="seqcount", until_ms=200)
    old = run("two_thread", policy="nopage_retry", until_ms=200)
    assert seq.redone_walks == old.redone_walks > 0
    assert trace.select(seq, event="revalidated") == []


def test_seqcount_reruns_exactly_the_faults_a_writer_overlapped(trace):
    """R reads two uncached pages in turn; W calls mmap once, during the first
    read only. The first fault reruns, the second carries on after its wait."""
    s = Scenario(policy="seqcount", file_pages=1 << 16, ra_pages=0, disk=Disk(latency_ms=1.0), until_ms=20,
                 threads=(Script("R", steps=(("touch", 100), ("touch", 200))),
                          Script("W", steps=(("think", 500.0), ("mmap",)))))
    r = faultlab.run(s)
    assert [dict(e[3])["attempts"] for e in trace.select(r, "R", "fault_end")] == [2, 1]
    assert len(trace.select(r, "R", "revalidated")) == 1
    assert trace.when(r, "R", "revalidated") > trace.when(r, "W", "released", write=True)


def test_seqcount_ends_a_fault_on_an_unmapped_file_with_sigsegv(trace):
    """unmap_during_fault: the counter changed, so the rerun's find_vma sees the
    hole and the fault ends in SIGSEGV -- a result, not a kernel bug."""
    r = run("unmap_during_fault", policy="seqcount")
    assert trace.select(r, "reader", "fault_end", outcome="SIGSEGV", attempts=2)
    assert r.summary()["kernel_bugs"] == []
    assert trace.select(r, "reader", "map") == []


def test_seqcount_maps_through_the_new_vma_after_a_remap(trace, run_keeping_kernel):
    """With the file mapped again at the same address, the rerun finds the new
    VMA and maps the page there."""
    k, r = run_keeping_kernel(workloads.unmap_during_fault(policy="seqcount", remap=True, page=5000))
    assert trace.select(r, "reader", "fault_end", outcome="MAJOR", attempts=2)
    assert trace.when(r, "reader", "map", page=5000) > trace.when(r, "unmapper", "syscall_end", kind="mmap")
    vma = k.mm.file_vma()
    assert vma.id == 2 and not vma.dead
    assert k.mm.find_vma(FILE_BASE + 5000) is vma
    assert k.mm.ptes[FILE_BASE + 5000].index == 5000
    assert r.summary()["kernel_bugs"] == []


@pytest.mark.parametrize("remap", [False, True])
def test_seqcount_without_its_check_maps_into_a_dead_vma(trace, remap):
    """Skip the counter check and the fault carries on with the VMA it found
    before the wait -- unmapped meanwhile: a use-after-free in a kernel,
    recorded as a kernel bug by the model."""
    r = run("unmap_during_fault", policy="seqcount_unchecked", remap=remap)
    bugs = r.summary()["kernel_bugs"]
    assert len(bugs) == 1 and "unmapped VMA" in bugs[0]["bug"]
    assert trace.select(r, "reader", "revalidated")


# -- single_user_sync: Morton's simple way ----------------------------------------------------


def test_single_user_sync_is_sync_when_the_mm_has_one_user():
    """No other thread shares the mm, so nobody can queue on its mmap_sem: read
    synchronously under it. The run is 2.6.18's, event for event."""
    a = run("single_thread", policy="single_user_sync", until_ms=200)
    b = run("single_thread", policy="sync", until_ms=200)
    assert a.events == b.events
    s = a.summary()
    assert s["faults"]["retries"] == 0 and s["mmap_sem"]["held_across_io_ms"] > 150


def test_single_user_sync_retries_when_threads_share_the_mm():
    """With a second thread in the mm it behaves as nopage_retry, event for event."""
    a = run("two_thread", policy="single_user_sync", until_ms=100)
    b = run("two_thread", policy="nopage_retry", until_ms=100)
    assert a.events == b.events
    s = a.summary()
    assert s["faults"]["retries"] > 0 and s["mmap_sem"]["held_across_io_ms"] == 0.0


# -- where each design retakes the lock ----------------------------------------------------------


def test_nopage_retry_retakes_mmap_sem_inside_nopage_and_2637_in_the_arch_code(trace):
    """Waychison's patch does up_read; wait_on_page_locked; down_read inside
    filemap_nopage, then returns NOPAGE_RETRY. 2.6.37's lock_page_or_retry
    returns without the lock and do_page_fault retakes it at retry:."""
    for policy, order in (("nopage_retry", ["acquire_returned", "retry"]),
                          ("vm_fault_retry", ["retry", "acquire_returned"])):
        r = run("single_thread", policy=policy, until_ms=30)
        after_wait = [n for n in trace.names(r, "reader")
                      if n in ("acquire_returned", "retry", "io_wait_end", "fault_end")]
        first = after_wait[after_wait.index("io_wait_end") + 1:][:2]
        assert first == order, policy


def test_multi_retry_drops_mmap_sem_before_submitting_read_around(trace):
    """5.1 (6b4c9f446981): maybe_unlock_mmap_for_io before read-around; earlier
    designs submit it under mmap_sem and drop the lock only to wait."""
    for policy, dropped_first in (("multi_retry", True), ("nopage_retry", False)):
        r = run("single_thread", policy=policy, until_ms=10)
        names = trace.names(r, "reader")
        assert (names.index("released") < names.index("io_submit")) is dropped_first, policy


# -- per-VMA locks (6.7) -------------------------------------------------------------------------


def test_per_vma_lock_keeps_the_mapper_off_the_readers_fault(trace):
    """two_thread under per-VMA locks: the reader's first pass takes only the
    file VMA's lock, so the mapper's down_write (on the mm, for another VMA)
    never waits for a read; under sync it waits for one every time."""
    r = run("two_thread", policy="per_vma_lock", until_ms=200)
    waits = r.summary()["syscalls"]["wait_ms"]
    assert waits["max"] <= 0.05
    sync = run("two_thread", policy="sync", until_ms=200).summary()["syscalls"]["wait_ms"]
    assert sync["p50"] > 10.0
    # each fault of the reader locks the VMA before it asks for mmap_sem, if it ever does
    locks = [n for n in trace.names(r, "reader") if n in ("fault_start", "vma_lock", "start_locking")]
    firsts = [locks[i + 1] for i, n in enumerate(locks[:-1]) if n == "fault_start"]
    assert len(firsts) > 5 and set(firsts) == {"vma_lock"}


def test_per_vma_lock_takes_mmap_sem_only_for_the_fallback_pass(trace):
    """A fault that must wait for I/O drops the VMA lock, waits, returns RETRY
    and reruns under mmap_lock: one mmap_sem acquisition per major fault,
    where multi_retry takes it twice."""
    vma = run("single_thread", policy="per_vma_lock", until_ms=100)
    mm = run("single_thread", policy="multi_retry", until_ms=100)
    n = vma.summary()["faults"]["completed"]
    assert n > 0
    assert len(trace.select(vma, "reader", "start_locking")) in (n, n + 1)
    assert len(trace.select(mm, "reader", "start_locking")) >= 2 * n


def test_a_fault_cannot_read_lock_a_vma_whose_writer_is_waiting(trace):
    """B holds the file VMA's read lock (a minor fault) when W's munmap write-locks
    it: W waits for B in vma_start_write. C's fault arrives the instant B lets go,
    before W runs. In the kernel C's vma_start_read fails (a writer waits on
    vm_lock), C falls back to mmap_lock, waits for the munmap, and finds no VMA:
    SIGSEGV."""
    costs = faultlab.Costs(fault_entry_us=0.5, find_vma_us=0.25, walk_us=0.5, find_get_page_us=0.25,
                           map_us=0.5, syscall_entry_us=0.25)
    s = Scenario(policy="per_vma_lock", cached_pages=100, until_ms=1, costs=costs,
                 threads=(Script("B", steps=(("touch", 1),)),
                          Script("W", steps=(("think", 0.75), ("munmap_file",))),
                          Script("C", steps=(("think", 1.125), ("think", 0.125), ("touch", 40)))))
    r = faultlab.run(s)
    # B's fault maps page 1 by fault-around (3.15+), with the cached neighbours of
    # its 16-page block; C faults a page of another block
    assert trace.select(r, "B", "fault_around", first=0, n=16)
    assert trace.select(r, "C", "fault_end", outcome="SIGSEGV")
    assert trace.select(r, "C", "map") == []


# -- the contract (policies/base.py) ---------------------------------------------------


def _hooks():
    from faultlab.policies.base import Policy
    return {n for n, v in vars(Policy).items() if callable(v) and not n.startswith("_")}


def test_the_fault_path_reads_nothing_of_a_policy_but_the_hooks_of_the_contract():
    """fault.py asks the policy only through the hooks base.py states; a flag or
    attribute read there would be a second, unwritten contract."""
    import ast
    import inspect

    from faultlab import fault
    from faultlab.policies import base
    read = {node.attr for node in ast.walk(ast.parse(inspect.getsource(fault)))
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
            and node.value.attr == "policy"}
    hooks = _hooks()
    assert read and read <= hooks, f"fault.py reads {sorted(read - hooks)}, which are not hooks"
    for name in hooks:                                  # each hook has its line in the contract
        assert f"    {name}(" in base.__doc__, f"{name} is missing from base.py's contract"


def test_every_module_of_the_package_registers_a_policy_and_declares_its_place():
    """A design is one module: the registry imports every module in policies/ and
    each one registers a class that says where the story introduces it."""
    import pathlib

    from faultlab import policies
    from_modules = {type(p).__module__.rsplit(".", 1)[1] for p in faultlab.POLICIES.values()}
    assert set(policies.MODULES) == from_modules
    notebooks = pathlib.Path(__file__).parents[1] / "notebooks"
    for name, p in faultlab.POLICIES.items():
        own = vars(type(p))
        assert {"name", "notebook", "year", "summary", "kernel", "source"} <= own.keys(), name
        assert (notebooks / f"{p.notebook}.ipynb").exists(), (name, p.notebook)
        assert p.era in ("2.6.18", "modern"), name
    order = [(p.notebook, p.year) for p in faultlab.POLICIES.values()]
    assert order == sorted(order)


def test_handle_mm_faults_answers_never_equal_the_arch_codes_outcomes():
    """VM_FAULT_* codes and the outcome of a fault are different types: a code
    that reached the arch switch unmapped must not pass for an outcome."""
    from faultlab.fault import VM
    from faultlab.record import Outcome
    for code in VM:
        for outcome in Outcome:
            assert code != outcome
    assert VM.MINOR.value == Outcome.MINOR.value


# -- era-consistent rwsem rules -------------------------------------------------------


def test_each_policy_declares_the_era_of_its_rwsem_rules():
    """The 2006 designs and 2.6.37 ran on the strict-FIFO rwsem of their time;
    5.7's multi-retry and 6.8's per-VMA locks on kernel/locking/rwsem.c."""
    assert {n: p.era for n, p in faultlab.POLICIES.items()} == {
        n: ("modern" if n in ("multi_retry", "per_vma_lock") else "2.6.18") for n in faultlab.POLICIES}


@pytest.mark.parametrize("name", ALL)
def test_a_run_uses_its_policys_era_unless_the_scenario_picks(name, run_keeping_kernel):
    """A preset left alone runs the policy's era; a caller's pick wins; the
    summary says which rules ran, and they are the ones the kernel built."""
    era = faultlab.POLICIES[name].era
    other = "2.6.18" if era == "modern" else "modern"
    for picked, expect in (("", era), (other, other)):
        k, r = run_keeping_kernel(workloads.two_thread(policy=name, until_ms=20.0, rwsem=picked))
        assert r.summary()["rwsem"] == expect == k.mm.mmap_sem.rules


def test_the_cli_says_which_rwsem_rules_ran(capsys):
    from faultlab.cli import main
    assert main(["run", "--preset", "two_thread", "--policy", "per_vma_lock", "--until-ms", "20"]) == 0
    out = capsys.readouterr().out
    assert "ARG rwsem modern (the era of per_vma_lock)" in out
    assert "rwsem rules modern" in out
    assert main(["run", "--preset", "two_thread", "--policy", "sync", "--until-ms", "20",
                 "--set", "rwsem=modern"]) == 0
    out = capsys.readouterr().out
    assert "ARG rwsem modern (chosen)" in out and "rwsem rules modern" in out
    assert main(["run", "--preset", "fadvise_dos", "--policy", "vm_fault_retry", "--json"]) == 0
    assert '"rwsem": "2.6.18"' in capsys.readouterr().out


@pytest.mark.parametrize("hz", [0, 200, 250.0, True, "250"])
def test_hz_must_be_a_config_hz_choice(hz):
    with pytest.raises(ValueError, match=r"^hz: must be one of 100, 250, 300, 1000"):
        Scenario(hz=hz).check()


def test_rwsem_rules_name_the_choices_in_the_error():
    with pytest.raises(ValueError, match=r"^rwsem: must be one of \"\" \(the rules of the policy's era\), 2.6.18, modern"):
        Scenario(rwsem="new").check()
