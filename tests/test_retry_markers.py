"""Every retry marker side by side (analysis.retry_marker_*), and the experiment
functions the notebooks call for the mail's other designs."""
from __future__ import annotations

import pytest

from faultlab import analysis
from faultlab.figures import FIGURES


@pytest.fixture(scope="module")
def table():
    return {r["policy"]: r for r in analysis.retry_marker_table(app_ms=100.0)}


def test_the_table_has_one_row_per_marker(table):
    assert list(table) == list(analysis.RETRY_MARKERS)


def test_bounded_markers_finish_the_dos_in_two_walks_and_unbounded_ones_never(table):
    for p in ("nopage_retry", "pagefault_args", "vm_fault_retry", "multi_retry"):
        assert table[p]["dos_finished"] and table[p]["dos_passes"] == 2 and table[p]["dos_faults"] == 1
    for p in ("page_flag_retry", "refault", "retry_unlimited"):
        assert not table[p]["dos_finished"] and table[p]["dos_passes"] > 10


def test_only_the_refault_counts_a_fault_per_walk(table):
    assert table["refault"]["dos_faults"] == table["refault"]["dos_passes"]
    assert table["refault"]["app_faults_per_access"] > 1.0
    assert all(r["app_faults_per_access"] == 1.0 for p, r in table.items() if p != "refault")


def test_killable_in_the_loop_only_when_each_walk_returns_to_user_space(table):
    assert isinstance(table["refault"]["kill_in_loop_ms"], float)
    assert table["retry_unlimited"]["kill_in_loop_ms"] is None
    assert table["page_flag_retry"]["kill_in_loop_ms"] is None
    assert table["nopage_retry"]["kill_in_loop_ms"] == "done"


def test_during_a_read_only_the_killable_wait_dies_at_once(table):
    assert table["multi_retry"]["kill_in_read_ms"] < 0.01
    for p in ("nopage_retry", "refault", "retry_unlimited", "vm_fault_retry"):
        assert table[p]["kill_in_read_ms"] == pytest.approx(20.0 - 0.2, abs=0.5)   # the rest of the read


def test_the_page_flag_alone_holds_mmap_sem_across_reads_in_the_shared_hot_set(table):
    assert table["page_flag_retry"]["app_held_across_io_ms"] > 0
    assert all(r["app_held_across_io_ms"] == 0 for p, r in table.items() if p != "page_flag_retry")


def test_the_marker_map_finishes_at_slow_eviction_and_starves_the_unbounded_at_fast():
    m = analysis.retry_marker_map(policies=("nopage_retry", "refault", "retry_unlimited"),
                                  periods_us=(0.25, 64.0), seeds=(0,), until_ms=50.0)
    assert m.finished == [[True, True], [False, True], [False, True]]
    assert m.faults[1][0] == m.passes[1][0] > 10 and m.faults[2][0] == 1


def test_the_figure_is_registered_for_notebook_03():
    assert FIGURES["retry_markers"].notebook == "03_livelock"


def test_kill_timing_and_where():
    rows = {r["policy"]: r for r in analysis.kill_timing(policies=("sync", "refault", "multi_retry"))}
    assert rows["sync"]["in_read_where"] == "return_to_user"
    assert rows["multi_retry"]["in_read_where"] == "fault_signal_pending"
    assert rows["refault"]["in_loop_where"] == "return_to_user"


def test_refault_counts_every_attempt():
    nr, rf = analysis.refault_counts(until_ms=300.0)
    assert nr["faults_counted"] == nr["accesses"] and nr["refaults"] == 0
    assert rf["faults_counted"] == rf["accesses"] + rf["refaults"] and rf["refaults"] >= rf["accesses"] - 1


def test_page_flag_siblings_report_found_marks_only_for_the_page_flag():
    rows = analysis.page_flag_siblings(seeds=(0,))
    assert [r["found"] > 0 for r in rows] == [False, True]


def test_truncate_race_table():
    rows = {r["policy"]: r for r in analysis.truncate_race_table()}
    assert rows["sync"]["outcome"] == "SIGBUS" and rows["sync"]["truncate_retries"] == 1
    assert rows["truncate_unchecked"]["kernel_bugs"] == 1
    assert rows["lock_page_nopage"]["truncate_retries"] == 0 and rows["lock_page_nopage"]["kernel_bugs"] == 0


@pytest.mark.parametrize("policy", ["page_flag_retry", "refault", "retry_unlimited"])
def test_the_unbounded_markers_livelock_only_where_the_pagevec_is_drained(policy):
    """While the re-read page sits in the victim CPU's LRU-add pagevec,
    FADV_DONTNEED cannot drop it (pagevec.py): with no drain the second walk
    finds it; with a drain (traffic or reclaim) the evictor wins every time."""
    rows = {r["drain"]: r for r in analysis.drain_livelock(policies=(policy,), seeds=(0, 1), until_ms=50.0)}
    assert rows["none"]["finished"] and rows["none"]["walks"] == 2
    for d in ("traffic", "reclaim"):
        assert not rows[d]["finished"] and rows[d]["walks"] > 10
    faults = rows["traffic"]["faults"]
    assert faults == (rows["traffic"]["walks"] if policy == "refault" else 1)


def test_the_bounded_marker_finishes_with_or_without_a_drain():
    rows = analysis.drain_livelock(policies=("nopage_retry",), seeds=(0,), until_ms=50.0)
    assert all(r["finished"] and r["walks"] == 2 for r in rows)


def test_the_marker_map_takes_the_drain():
    m = analysis.retry_marker_map(policies=("page_flag_retry",), periods_us=(0.25,), seeds=(0,), until_ms=50.0,
                                  drain="none")
    assert m.finished == [[True]] and m.params == {"drain": "none"}


def test_under_the_page_lock_truncate_gets_the_page_only_after_the_fault_has_checked_it():
    t = analysis.truncate_lock_order("lock_page_nopage")
    assert t["outcome"] == "SIGBUS"
    assert t["truncate_start_us"] < t["read_done_us"] <= t["fault_end_us"] < t["truncate_got_us"]


def test_the_counters_of_a_refaulting_reader():
    nr, rf = analysis.refault_counts(until_ms=300.0)
    assert rf["maj_flt"] == 0 and rf["min_flt"] == rf["faults_counted"] - (rf["accesses"] - rf["finished"])
    assert nr["maj_flt"] == nr["pgmajfault"] == nr["finished"]
