"""faultlab.widgets, driven from Python: set controls, rerun, read the summary.
No browser: the callbacks are what a slider or a button would call."""
from __future__ import annotations


import ipywidgets as W
import matplotlib.pyplot as plt
import pytest
from traitlets import TraitError

import faultlab
from faultlab import widgets
from faultlab.widgets import (ConvoyExplorer, HistoryExplorer, LivelockExplorer, Reveal, SeqcountExplorer,
                              ThreadedExplorer, explore)

SLIDERS = (W.IntSlider, W.FloatSlider, W.FloatLogSlider)


@pytest.fixture(scope="module")
def every_explorer():
    return {kind: explore(kind) for kind in widgets.EXPLORERS}


def test_every_explorer_ran_once_and_has_its_parts(every_explorer):
    for kind, ex in every_explorer.items():
        assert isinstance(ex, widgets.EXPLORERS[kind])
        assert isinstance(ex.widget, W.Box)
        assert ex.last_message is None, (kind, ex.last_message)
        assert ex.last_summary["policy"] == ex.last_result.scenario.policy
        assert ex.summary_box.value and "faultlab.run(" in ex.summary_box.value
        assert ex.last_figure is not None                      # drawn, and no pyplot figure left open
        assert all(plt.figure(n) is not ex.last_figure for n in plt.get_fignums())
        assert "application/vnd.jupyter.widget-view+json" in ex._repr_mimebundle_()


def test_sliders_update_only_when_let_go_and_are_bounded(every_explorer):
    for kind, ex in every_explorer.items():
        for name, c in ex.controls.items():
            if isinstance(c, SLIDERS):
                assert c.continuous_update is False, (kind, name)
                assert c.min < c.max


def test_policy_dropdowns_list_the_registry(every_explorer):
    for kind in ("convoy", "threaded", "livelock", "history"):
        dropdown = every_explorer[kind].controls["policy"]
        assert [value for _, value in dropdown._options_full] == list(faultlab.POLICIES)
    assert set(every_explorer["seqcount"].controls["policy"].options) <= set(faultlab.POLICIES)


def test_a_notebooks_explorer_labels_the_designs_it_has_not_introduced():
    ex = ConvoyExplorer(run_now=False, upto="00")
    labels = [label for label, _ in ex.controls["policy"]._options_full]
    assert labels[0] == "sync" and all(label.startswith("later: ") for label in labels[1:])
    assert "later: nopage_retry (notebook 02)" in labels
    assert [v for _, v in ex.controls["policy"]._options_full] == ["sync"] + [p for p in faultlab.POLICIES if p != "sync"]
    assert ex.set(policy="nopage_retry")["policy"] == "nopage_retry"


def test_convoy_nopage_retry_frees_the_mapper():
    ex = ConvoyExplorer()
    sync = ex.last_summary
    assert sync["policy"] == "sync" and sync["until_ms"] == 200
    assert sync["mmap_sem"]["held_across_io_ms"] > 150
    ex.controls["policy"].value = "nopage_retry"            # reruns by itself, as the dropdown would
    assert ex.last_summary["policy"] == "nopage_retry"
    retry = ex.update()                                      # and update() reruns on demand
    assert retry == ex.last_summary
    assert retry["threads"]["mapper"]["ops_per_s"] > 100 * sync["threads"]["mapper"]["ops_per_s"]
    assert retry["mmap_sem"]["held_across_io_ms"] == 0
    assert retry["explorer"]["trace_counts"]["retry"] == retry["faults"]["retries"] > 0


def test_set_changes_several_controls_with_one_rerun(monkeypatch):
    ex = ConvoyExplorer()
    runs = []
    real_run = widgets.run
    monkeypatch.setattr(widgets, "run", lambda s: runs.append(s) or real_run(s))
    s = ex.set(policy="vm_fault_retry", disk_ms=5.0, until_ms=100)
    assert len(runs) == 1
    assert (s["policy"], s["until_ms"]) == ("vm_fault_retry", 100)
    assert runs[0].disk.latency_ms == 5.0
    with pytest.raises(ValueError, match="no control 'disk'"):
        ex.set(disk=3)


def test_a_bad_combination_is_a_message_not_a_traceback():
    ex = ConvoyExplorer()
    msg = ex.set(reader_think_us=0.0)      # a reader that never pauses: the model refuses it
    assert isinstance(msg, str) and "think_us" in msg
    assert ex.last_message == msg and ex.last_summary is None and ex.last_result is None
    assert "Not a valid run" in ex.message.value and "think_us" in ex.message.value
    assert ex.summary_box.value == ""
    s = ex.set(reader_think_us=2.0)        # back to a good value: the message goes
    assert isinstance(s, dict) and ex.last_message is None and ex.message.value == ""

    sq = SeqcountExplorer()
    msg = sq.set(workload="two_thread", remap=True)
    assert msg.startswith("remap:") and sq.last_summary is None
    assert sq.set(remap=False)["policy"] == "seqcount"


def test_controls_refuse_out_of_range_values():
    ex = ThreadedExplorer(run_now=False)
    assert ex.last_summary is None                           # run_now=False: nothing ran
    ex.set(run_now=False, n_readers=10_000, miss_ratio=-3.0, disk_ms=1e9)
    assert ex.controls["n_readers"].value == ex.controls["n_readers"].max == 32
    assert ex.controls["miss_ratio"].value == 0.0
    assert ex.controls["disk_ms"].value == 100.0
    with pytest.raises(TraitError):
        ex.controls["policy"].value = "no_such_policy"
    ll = LivelockExplorer(run_now=False)
    ll.set(run_now=False, evict_period_us=1e12, wakeup_us=0.0)
    assert ll.controls["evict_period_us"].value == 1000.0
    assert ll.controls["wakeup_us"].value == pytest.approx(0.1)


def test_threaded_mapper_off_removes_the_writer():
    ex = ThreadedExplorer()
    with_mapper = ex.last_summary
    without = ex.set(mapper=False)
    assert "mapper" in with_mapper["threads"] and "mapper" not in without["threads"]
    assert "mapper ops/s" not in ex.summary_box.value
    assert without["explorer"]["readers_ops_per_s"] > with_mapper["explorer"]["readers_ops_per_s"]


def test_livelock_explorer_unfinished_then_guarded():
    ex = LivelockExplorer()
    s = ex.last_summary
    assert s["policy"] == "retry_unlimited" and s["explorer"]["finished"] is False
    assert s["faults"]["max_attempts"] > 50
    s = ex.set(policy="nopage_retry")
    assert s["explorer"]["finished"] is True and s["faults"]["max_attempts"] == 2
    s = ex.set(policy="retry_unlimited", evict_period_us=100.0)
    assert s["explorer"]["finished"] is True


def test_seqcount_explorer_stale_vma_bug_and_the_check():
    ex = SeqcountExplorer()
    checked = ex.last_summary
    assert checked["kernel_bugs"] == [] and checked["faults"]["retries"] == 1
    unchecked = ex.set(policy="seqcount_unchecked")
    assert unchecked["explorer"]["kernel_bugs"] == 1 and "kernel bug" in ex.summary_box.value


def test_history_explorer_rwsem_rules_and_workloads():
    ex = HistoryExplorer()
    assert ex.last_result.scenario.rwsem == "2.6.18"
    ex.set(rwsem="modern", workload="threaded_app", policy="per_vma_lock")
    assert ex.last_result.scenario.rwsem == "modern"
    assert ex.last_result.scenario.name == "threaded_app"
    assert "rwsem='modern'" in ex.summary_box.value
    for workload in ex.controls["workload"].options:        # every preset runs under the rules it is given
        s = ex.set(workload=workload)
        assert isinstance(s, dict), (workload, s)


def test_explore_knows_its_kinds():
    with pytest.raises(ValueError, match="convoy"):
        explore("nope")
    ex = explore("convoy", policy="per_vma_lock", until_ms=50)
    assert ex.last_summary["policy"] == "per_vma_lock"


def test_default_reruns_follow_the_policy():
    ex = ConvoyExplorer(run_now=False)
    for policy in ("sync", "nopage_retry"):
        ex.set(policy=policy)
        assert ex.last_summary["policy"] == policy


# -- Reveal ---------------------------------------------------------------------------------

def test_reveal_runs_the_answer_only_when_asked():
    calls = []

    def answer():
        calls.append(1)
        s = faultlab.run(faultlab.workloads.two_thread(policy="sync", until_ms=100)).summary()
        return f"mapper ops/s: {s['threads']['mapper']['ops_per_s']}"

    r = Reveal("How fast does the mapper go under sync?", answer)
    assert calls == [] and r.answer.value == ""
    assert "How fast" in r.question.value
    text = r.reveal()
    assert calls == [1] and text.startswith("mapper ops/s: ")
    assert text in r.answer.value and r.button.disabled
    assert r.reveal() == text and calls == [1]               # computed once


def test_reveal_button_and_a_failing_answer():
    r = Reveal("?", lambda: faultlab.run(faultlab.workloads.two_thread(disk_ms=-1.0)))
    r.button.click()                                         # what pressing the button does
    assert "Could not compute the answer" in r.answer.value and "disk" in r.answer.value
    assert not r.button.disabled


def test_set_checks_every_value_before_changing_any_and_names_the_control(monkeypatch):
    """A bad value anywhere in set() changes nothing, reruns nothing, and names the control."""
    ex = ConvoyExplorer()
    before = {k: c.value for k, c in ex.controls.items()}
    runs = []
    monkeypatch.setattr(widgets, "run", lambda s: runs.append(s))
    for bad, name in (({"disk_ms": 5.0, "policy": "nope"}, "policy"),
                      ({"disk_ms": 5.0, "until_ms": "long"}, "until_ms"),
                      ({"disk_ms": True}, "disk_ms")):
        with pytest.raises(ValueError) as e:
            ex.set(**bad)
        assert str(e.value).startswith(f"{name} ({ex.controls[name].description}):"), str(e.value)
        assert {k: c.value for k, c in ex.controls.items()} == before and runs == []
    th = ThreadedExplorer(run_now=False)
    with pytest.raises(ValueError, match=r"^mapper \(mapper thread\): must be true or false"):
        th.set(run_now=False, n_readers=4, mapper="no")
    with pytest.raises(ValueError, match=r"^n_readers \(reader threads\): must be a whole number"):
        th.set(run_now=False, n_readers=2.5)
    assert th.controls["n_readers"].value == 8


def test_slider_ranges_come_from_the_schema(every_explorer):
    """Each slider offers what workloads.PARAMS[name].ui says, inside the allowed range."""
    from faultlab.workloads import PARAMS
    for kind, ex in every_explorer.items():
        for name, c in ex.controls.items():
            if isinstance(c, (W.IntSlider, W.FloatSlider)):
                low, high, step = PARAMS[name].ui
                assert (c.min, c.max, c.step) == (low, high, step), (kind, name)
                PARAMS[name].check(name, c.max)
                assert c.min >= PARAMS[name].low or c.min == 0, (kind, name)


def test_a_heavy_setting_is_shortened_to_answer_quickly():
    """32 readers that never miss (each access a minor fault every 20 us) would be
    hundreds of thousands of operations in 200 ms: the explorer runs a shorter
    stretch, says so, and keeps the estimate within its bound."""
    ex = ThreadedExplorer()
    assert ex.last_result.scenario.until_ms == 200.0 and "shortened" not in ex.message.value
    s = ex.set(n_readers=32, miss_ratio=0.0, disk_ms=1.0)
    ran = ex.last_result.scenario
    assert ran.until_ms < 200.0 and ran.estimated_ops() <= widgets.EXPLORER_MAX_OPS
    assert "shortened" in ex.message.value and isinstance(s, dict)
    assert sum(t["completed"] for t in s["threads"].values()) <= widgets.EXPLORER_MAX_OPS


def test_a_control_change_shows_a_busy_state_until_the_new_figure(monkeypatch):
    ex = ConvoyExplorer(until_ms=50)
    image, before = ex.image, ex.image.value
    seen = []
    real_run = widgets.run

    def watching_run(s):
        seen.append((ex.status.value, "faultlab-busy" in ex.image._dom_classes))
        return real_run(s)

    monkeypatch.setattr(widgets, "run", watching_run)
    ex.controls["policy"].value = "nopage_retry"              # what the dropdown does
    assert seen and "Running the model" in seen[0][0] and seen[0][1]
    assert ex.status.value == "" and "faultlab-busy" not in ex.image._dom_classes
    assert ex.image is image and ex.image.value != before and ex.image.value[:4] == b"\x89PNG"



def test_a_redraw_reuses_the_layout_and_draws_the_same_picture():
    """png_bytes keeps the positions constrained layout gave a figure's shape; a redraw of the
    same shape is saved without the layout pass, pixel for pixel what a fresh layout draws;
    a change of the text around the plot (another lane label) is a new shape."""
    import io
    import numpy as np
    from PIL import Image

    def pixels(png):
        return np.asarray(Image.open(io.BytesIO(png)))

    widgets._LAYOUTS.clear()
    ex = LivelockExplorer(until_ms=20)
    assert len(widgets._LAYOUTS) == 1
    ex.update()
    kept = ex.image.value
    assert ex.last_figure.get_layout_engine() is None            # saved with the kept positions
    widgets._LAYOUTS.clear()
    ex.update()
    fresh = ex.image.value
    assert ex.last_figure.get_layout_engine() is not None        # laid out anew
    assert (pixels(kept) == pixels(fresh)).all()
    key = widgets.layout_key(ex.figure(ex.last_result))
    ex.set(evict_period_us=2.0)                                  # the evictor's lane label changes
    assert len(widgets._LAYOUTS) == 2 and key in widgets._LAYOUTS


def test_reveal_names_the_answer_function_also_through_a_partial():
    """The answer credits the faultlab function that computed it, also when the notebook binds
    its arguments with functools.partial (notebook 07's exercises)."""
    import functools
    from faultlab import exercises
    direct = Reveal(exercises.reader_before_writer)
    bound = Reveal(functools.partial(exercises.reader_before_writer))
    for r in (direct, bound):
        r.reveal()
        assert "faultlab.exercises.reader_before_writer()" in r.answer.value
    assert bound.question is None                       # the question stands in the notebook, once


def _whole_save(ex, **settings):
    """What a fresh explorer's figure of ``settings`` looks like laid out anew and saved whole
    (``savefig``, no kept layout, no kept background): the reference for a redraw."""
    import io
    fresh = type(ex)(run_now=False, **settings) if not isinstance(ex, widgets.TwinExplorer) \
        else type(ex)(ex.runs, run_now=False, **settings)
    result = widgets.run(fresh.scenario().within(widgets.EXPLORER_MAX_OPS))
    fig = fresh.figure(result)                         # a new figure, laid out by its engine
    assert fig.get_layout_engine() is not None
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=widgets.FIGURE_DPI)
    return buf.getvalue()


def test_a_redraw_on_a_kept_background_is_what_a_whole_save_draws(monkeypatch):
    """After a few changes the explorer's Axes are reused and its background is drawn from a
    kept copy (no whole draw of the canvas); each picture is byte for byte the PNG a fresh
    figure of the same settings saves whole. The policies' titles differ in text, not in the
    room they take, and one layout serves them."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    ex = ConvoyExplorer(until_ms=30)
    axes = ex._figure.axes[0]
    whole_draws = []
    real_draw = FigureCanvasAgg.draw
    monkeypatch.setattr(FigureCanvasAgg, "draw", lambda self: whole_draws.append(1) or real_draw(self))
    settings = {"until_ms": 30}
    for step in ({"policy": "nopage_retry"}, {"policy": "refault"}, {"policy": "page_flag_retry"},
                 {"disk_ms": 12.0}, {"policy": "sync"}, {"policy": "vm_fault_retry"}):
        settings.update(step)
        ex.set(**step)
        picture = bytes(ex.image.value)
        monkeypatch.setattr(FigureCanvasAgg, "draw", real_draw)
        assert picture == _whole_save(ex, **settings), settings
        monkeypatch.setattr(FigureCanvasAgg, "draw", lambda self: whole_draws.append(1) or real_draw(self))
    assert ex._figure.axes[0] is axes                        # the same Axes, emptied and drawn into
    assert len(whole_draws) < 6                              # some pictures drew on a kept background
    titles = {ex.set(policy=p)["policy"]: widgets.layout_key(ex._figure) for p in ("nopage_retry", "page_flag_retry")}
    assert len(set(titles.values())) == 1


def test_the_twin_explorer_draws_into_its_own_figure_as_a_whole_save_would():
    from faultlab.kernel_lab import load_recorded, twin
    ex = twin.explorer(load_recorded())
    fig = ex._figure
    for step in ({"path": "fault"}, {"delay_ms": 200.0}, {"policy": "sync"}):
        ex.set(**step)
        assert ex.last_figure is fig and len(fig.axes) == 2
        assert bytes(ex.image.value) == _whole_save(ex, **{k: c.value for k, c in ex.controls.items()})
    assert all(plt.figure(n) is not fig for n in plt.get_fignums())


def test_a_setting_shown_before_is_shown_again_without_a_run(monkeypatch):
    """A control change back to a setting the explorer showed answers from what it kept
    (the same scenario and seed make the same run); update() itself always reruns."""
    ex = ConvoyExplorer(until_ms=30)
    first = (bytes(ex.image.value), ex.summary_box.value, ex.last_summary)
    ex.controls["policy"].value = "nopage_retry"
    runs = []
    real_run = widgets.run
    monkeypatch.setattr(widgets, "run", lambda s: runs.append(s) or real_run(s))
    ex.controls["policy"].value = "sync"                    # back: no run
    assert runs == [] and (bytes(ex.image.value), ex.summary_box.value, ex.last_summary) == first
    assert ex.last_result.scenario.policy == "sync"
    ex.controls["disk_ms"].value = 12.0                     # a new setting runs
    assert len(runs) == 1
    assert ex.update() == ex.last_summary and len(runs) == 2
    for i in range(widgets.ANSWERS_KEPT + 1):               # the oldest answers are dropped
        ex.controls["disk_ms"].value = 1.0 + i
    ex.controls["policy"].value = "nopage_retry"
    assert len(runs) == 2 + widgets.ANSWERS_KEPT + 2


def test_a_control_change_defers_garbage_collection_until_it_is_answered(monkeypatch):
    import gc
    ex = ConvoyExplorer(until_ms=30)
    seen = []
    real_run = widgets.run
    monkeypatch.setattr(widgets, "run", lambda s: seen.append(gc.isenabled()) or real_run(s))
    assert gc.isenabled()
    ex.controls["policy"].value = "nopage_retry"
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:                                                    # left off if it was off
        ex.controls["policy"].value = "refault"
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_run_kept_short_to_answer_at_once_says_so():
    """Where an explorer picks a short run length for speed, its summary says how long and how
    to make a longer run; where it does not, it says nothing."""
    h = HistoryExplorer(run_now=False)
    for workload, ms in (("two_thread", 100.0), ("threaded_app", 100.0)):
        h.set(workload=workload)
        assert h.last_result.scenario.until_ms == ms
        assert f"{ms:g} simulated ms, kept short" in h.summary_box.value, workload
        assert f"until_ms={ms!r}" in h.summary_box.value
    h.set(workload="fadvise_dos")
    assert "kept short" not in h.summary_box.value
    sq = SeqcountExplorer(workload="two_thread")
    assert sq.last_result.scenario.until_ms == 100.0 and "100 simulated ms, kept short" in sq.summary_box.value
    sq.set(workload="unmap_during_fault")
    assert "kept short" not in sq.summary_box.value
