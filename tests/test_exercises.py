"""Every exercise's answer, computed as a student's button would, and the claims its text makes
checked against the numbers the model computed."""
from __future__ import annotations

import inspect

import pytest

from faultlab import exercises
from faultlab.exercises import Answer

EXERCISES = [fn for name, fn in inspect.getmembers(exercises, inspect.isfunction)
             if fn.__module__ == exercises.__name__ and not name.startswith("_") and name != "table_text"]


def col(answer, header):
    """The column called ``header`` of an answer's table, as strings."""
    i = answer.rows[0].index(header)
    return [row[i] for row in answer.rows[1:]]


def row(answer, label):
    return next(r for r in answer.rows[1:] if r[0] == label)


@pytest.mark.parametrize("fn", EXERCISES, ids=lambda f: f.__name__)
def test_every_answer_is_a_table_and_prose(fn):
    a = fn()
    assert isinstance(a, Answer)
    assert a.text.strip() and "\n" not in a.text.replace("\n\n", "")     # prose: paragraphs, no hard wraps
    assert not a.rows or len({len(r) for r in a.rows}) == 1               # a rectangular table
    assert fn.__doc__ and fn.__doc__.split(",")[0][:2].isdigit()         # the docstring names its notebook
    assert str(a).startswith(exercises.table_text(a.rows)) if a.rows else str(a) == a.text


def test_table_text_aligns_columns():
    assert exercises.table_text((("a", "bb"), ("ccc", "1"))) == "a    bb\nccc   1"
    assert exercises.table_text(()) == ""


def test_reader_before_writer_shares_and_the_writer_waits():
    a = exercises.reader_before_writer()
    got = dict(zip((r[0][0] for r in a.rows[1:]), (float(r[2]) for r in a.rows[1:])))
    assert got["B"] == 0.5 and got["W"] == 10.0


def test_readers_behind_a_writer_wake_together_and_a_second_writer_splits_them():
    a = exercises.readers_behind_a_writer()
    one, two = col(a, "gets it, one writer"), col(a, "gets it, with W2")
    names = [r[0] for r in a.rows[1:]]
    b, c, d, w2 = (names.index(n) for n in ("B", "C", "D", "W2"))
    assert one[b] == one[c] == one[d]
    assert two[b] == two[c] < two[w2] < two[d]
    assert "all get the lock together" in a.text


def test_readaround_neighbour_is_minor_yet_waits_for_the_read():
    a = exercises.readaround_neighbour()
    hot = row(a, "hot")
    assert hot[1] == "MINOR" and float(hot[2]) > 5.0


def test_each_mapper_keeps_its_rate():
    a = exercises.two_mappers()
    one, two = row(a, "one mapper"), row(a, "two mappers")
    assert one[2] == two[2] == two[3]
    assert float(two[4]) == pytest.approx(2 * float(one[4]), rel=0.05)


def test_minor_faults_wait_only_with_several_readers():
    a = exercises.minor_faults_in_the_convoy()
    slow = col(a, "slower than 1 ms")
    assert int(slow[0]) == 0 and int(slow[1]) > 0


def test_faster_disk_frees_only_the_tied_mapper():
    a = exercises.faster_disk()
    m = dict(zip((r[0] for r in a.rows[1:]), (float(r[2].replace(",", "")) for r in a.rows[1:])))
    assert 8 < m["sync, disk 1.8 ms"] / m["sync, disk 18 ms"] < 11
    assert 0.9 < m["nopage_retry, disk 1.8 ms"] / m["nopage_retry, disk 18 ms"] < 1.1


def test_three_threads_with_retry_let_the_others_in_at_once():
    a = exercises.three_threads_with_retry()
    sync, retry = row(a, "sync"), row(a, "nopage_retry")
    assert float(retry[1]) == 1.0 and float(retry[2]) == 2.0 and float(sync[1]) > 10.0
    assert float(retry[3]) >= float(sync[3]) and retry[4] == "2"
    assert "later" in a.text


def test_no_writer_costs_nothing_but_walks():
    a = exercises.no_writer_no_gain()
    sync, retry = row(a, "sync"), row(a, "nopage_retry")
    assert sync[1:4] == retry[1:4] and int(sync[4]) == 0 < int(retry[4])


def test_a_writer_widens_the_window_only_where_the_reference_is_dropped_before_relocking():
    a = exercises.a_writer_in_the_window()
    lost = {(r[0], r[1]): int(r[2].split(" of ")[0]) for r in a.rows[1:]}
    wait = {(r[0], r[1]): r[4] for r in a.rows[1:]}
    assert lost[("vm_fault_retry", "yes")] > 3 * max(lost[("nopage_retry", "yes")], 1)
    assert lost[("vm_fault_retry", "yes")] > 3 * max(lost[("vm_fault_retry", "no")], 1)
    assert lost[("nopage_retry", "yes")] <= 2 * max(lost[("nopage_retry", "no")], 1)
    assert float(wait[("vm_fault_retry", "yes")]) > 1.0          # the mapper waited for a whole disk read
    assert f"{lost[('vm_fault_retry', 'yes')]} of 20 runs with the mapper" in a.text


def test_a_slow_scheduler_changes_nothing():
    a = exercises.slow_scheduler()
    assert row(a, "retry_unlimited")[2] == "no" and row(a, "nopage_retry")[1:] == ("2", "yes")


def test_the_guards_see_an_unfinished_fault():
    assert row(exercises.guards_that_would_not_help(), "finished")[1] == "no"


def test_who_else_leaks_names_the_task_flag_designs():
    a = exercises.who_else_leaks()
    leaking = {r[0] for r in a.rows[1:] if r[1] != "0"}
    assert leaking == {"nopage_retry", "retry_unlimited", "single_user_sync"}
    for p in leaking:
        assert p in a.text.split("\n\n")[0]


def test_one_more_fact_changes_every_list_below_its_source_and_none_with_the_struct():
    from faultlab import callchain
    a = exercises.one_more_fact()
    down, up = row(a, "this fault may drop mmap_sem (2.6.37)"), row(a, "the page comes back locked (2.6.23)")
    below_entry = [c for c in callchain.CHAIN if not c.entry]
    assert int(down[3]) == len(below_entry) and int(up[3]) == 1 and down[4] == up[4] == "0"
    assert [c.name for c in callchain.carry("filemap_nopage", "do_no_page")] == \
        [c.name for c in callchain.CHAIN if c.hook]                  # up: only the ->nopage prototype
    assert all(any(c.hook for c in callchain.carry(s, t)) for s, t in
               (("do_page_fault", "filemap_nopage"), ("filemap_nopage", "do_no_page")))
    with pytest.raises(ValueError, match="not on the chain"):
        callchain.carry("do_page_fault", "filemap_fault")


def test_a_fast_disk_hides_no_bug():
    a = exercises.fast_disk_hides_nothing()
    assert len(a.rows) - 1 == 2 and a.text.startswith("2 kernel bugs")


def test_a_quiet_writer_still_invalidates_most():
    a = exercises.quiet_writer()
    assert float(a.rows[1][3]) > 0.5


def test_the_latent_bug_stays_latent():
    a = exercises.latent_bug()
    assert row(a, "kernel bugs")[1] == "0" and a.text.startswith("0 kernel bugs")


def test_alone_nobody_retries():
    a = exercises.alone_after_all()
    assert row(a, "single_user_sync")[1] == row(a, "seqcount")[1] == "0"
    assert float(row(a, "seqcount")[3]) == 0.0 < float(row(a, "single_user_sync")[3])


def test_per_vma_lock_takes_mmap_lock_once_per_major_fault():
    a = exercises.per_vma_lock_two_thread()
    assert row(a, "multi_retry")[3] == "2.0" and row(a, "per_vma_lock")[3] == "1.0"
    loops = [float(row(a, p)[4].replace(",", "")) for p in ("multi_retry", "per_vma_lock")]
    assert loops[0] == pytest.approx(loops[1], rel=0.01)     # (fault-around costs differ by a few us)


def test_requests_per_fault_folded_as_emitted_match_the_kept_record():
    from faultlab import record, workloads
    from faultlab.sim import run
    scenario = workloads.two_thread(policy="multi_retry", rwsem="modern", until_ms=60)
    kept = run(scenario)
    last_end = max(f.end_us for f in kept.faults if f.end_us is not None)
    asked = sum(1 for t, task, ev, _ in kept.events
                if task == "reader" and ev == record.START_LOCKING and t <= last_end)
    folded = record.RequestsPerFault("reader")
    run(scenario, keep_events=False, folds=(folded,))
    assert folded.result() == (asked, sum(f.end_us is not None for f in kept.faults))


def test_only_unlimited_retry_livelocks():
    a = exercises.unlimited_vs_multi()
    assert [r[1] for r in a.rows[1:]] == ["no", "yes", "yes"]
    assert float(row(a, "retry_unlimited")[3]) == 0.0 < float(row(a, "multi_retry")[3])


def test_modern_rules_alone_leave_the_convoy():
    a = exercises.modern_rules_alone()
    old, new = row(a, "2.6.18"), row(a, "modern")
    assert float(new[4]) > 0.5 * float(old[4])       # the lock is still held across I/O
    assert float(new[1]) > 10.0                       # the mapper still waits for disk reads


def test_refault_hides_every_read_from_the_readers_major_faults():
    a = exercises.refault_counters()
    nr, rf = row(a, "nopage_retry"), row(a, "refault")
    finished, maj, minor, pgmaj = (int(x) for x in rf[1:])
    assert maj == 0 and minor >= 2 * finished and finished <= pgmaj <= finished + 1
    assert int(nr[2]) == int(nr[1]) and int(nr[3]) == 0
    assert f"{maj} major faults for {finished} disk reads" in a.text


def test_only_the_page_flag_sends_siblings_to_the_synchronous_path():
    a = exercises.page_flag_sibling()
    for r in a.rows[1:]:
        found, held = int(r[2]), float(r[3])
        if r[0] == "nopage_retry":
            assert found == 0 and held == 0.0
        else:
            assert found > 0 and held > 0.0


def test_only_the_design_without_a_dropped_lock_keeps_the_page_locked_until_the_pte_is_set():
    a = exercises.page_lock_across_the_wait()
    lp, nr = row(a, "lock_page_nopage"), row(a, "nopage_retry")
    read_lp, got_lp, end_lp = (float(x) for x in lp[1:4])
    read_nr, got_nr, end_nr = (float(x) for x in nr[1:4])
    assert read_lp <= end_lp < got_lp                 # truncate waits until the fault has mapped the page
    assert read_nr <= got_nr < end_nr                 # truncate slips in while the fault retakes mmap_sem
    assert lp[4] == nr[4] == "SIGBUS"
    assert "gets the page lock after the fault ends" in a.text and "gets the lock before the fault ends" in a.text


def test_only_the_file_wide_count_is_moved_by_a_truncate_that_keeps_the_page():
    a = exercises.truncate_that_keeps_the_page()
    got = {(r[0], r[1]): r[2:] for r in a.rows[1:]}
    assert got[("sync", "keeps the page")][:2] == ("1", "no")
    assert got[("lock_page_nopage", "keeps the page")][:2] == ("0", "no")
    assert got[("sync", "cuts it off")][1] == got[("lock_page_nopage", "cuts it off")][1] == "yes"
    assert {v[2] for k, v in got.items() if k[1] == "cuts it off"} == {"SIGBUS"}
    assert "does not call it again" in a.text


def test_lab_reader_holds_mmap_lock_for_the_whole_read_only_through_proc_self_mem():
    from faultlab import kernel_lab
    from faultlab.kernel_lab import lessons
    recorded = kernel_lab.load_recorded()
    holds = lessons.reader_lock_holds(recorded)
    delay = {p: float(recorded[p].delay_ms) for p in holds}
    (at, held), = holds["procmem"]
    assert at < 1.0 and held > 0.9 * delay["procmem"]          # taken at the start, kept through the read
    assert holds["fault"], "the fault's retry takes mmap_lock once"
    assert all(a > 0.9 * delay["fault"] and h < 1.0 for a, h in holds["fault"])   # only after the read, briefly
    text = lessons.lock_holds_text(recorded)
    assert "no 'locked' pointer" in text and "VM_FAULT_RETRY" in text
