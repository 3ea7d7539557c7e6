"""Bad input is a ValueError that names the field and says what is allowed
(Scenario.check, workloads.get_preset and the preset wrappers).

A value the model cannot run must be refused before the run starts, with a
message a student can act on -- never a TypeError or AttributeError from
deep inside the simulation, and never silently changed.
"""
from __future__ import annotations

import dataclasses

import pytest

import faultlab
from faultlab import Costs, Disk, Evictor, Mapper, Reader, Scenario, Script, workloads


def refused(scenario, field):
    """faultlab.run refuses ``scenario`` with a ValueError starting with ``field:``."""
    with pytest.raises(ValueError) as e:
        faultlab.run(scenario)
    assert str(e.value).startswith(f"{field}:"), str(e.value)
    return str(e.value)


def test_unknown_policy_lists_the_valid_names():
    """A misspelt policy is refused, and the message lists every registered policy."""
    msg = refused(Scenario(policy="nopage_retyr"), "policy")
    assert "nopage_retyr" in msg
    for name in faultlab.POLICIES:
        assert name in msg


def test_unknown_preset_lists_the_valid_names():
    """A misspelt preset is refused, and the message lists every preset."""
    with pytest.raises(ValueError) as e:
        workloads.get_preset("two_threads")
    msg = str(e.value)
    assert msg.startswith("preset:") and "two_threads" in msg
    for name in workloads.PRESETS:
        assert name in msg


def test_a_parameter_a_preset_does_not_take_is_named():
    """A parameter a preset does not take is named, with the ones it does take."""
    with pytest.raises(ValueError) as e:
        workloads.two_thread(disk_latency=18)
    msg = str(e.value)
    assert msg.startswith("disk_latency:")
    assert "disk_ms" in msg                       # and it says what the preset does take


@pytest.mark.parametrize("params, field", [
    ({"disk_ms": "fast"}, "disk_ms"),
    ({"mapper_think_us": None}, "mapper_think_us"),
    ({"seed": 1.5}, "seed"),
])
def test_a_preset_parameter_of_the_wrong_kind_is_named(params, field):
    """A preset parameter of the wrong type is named before any Scenario is built."""
    with pytest.raises(ValueError, match=f"^{field}:"):
        workloads.two_thread(**params)


@pytest.mark.parametrize("value", [0, -1.0, float("nan"), float("inf")])
def test_run_length_must_be_positive_and_finite(value):
    """until_ms: a run needs a positive, finite length."""
    refused(Scenario(until_ms=value), "until_ms")


@pytest.mark.parametrize("value", [0, -18.0, float("nan")])
def test_disk_latency_must_be_positive(value):
    """disk.latency_ms: a read takes some time."""
    refused(Scenario(disk=Disk(latency_ms=value)), "disk.latency_ms")


@pytest.mark.parametrize("disk, field", [
    (Disk(distribution="uniform"), "disk.distribution"),
    (Disk(queue_depth=0), "disk.queue_depth"),
    (Disk(queue_depth=1.5), "disk.queue_depth"),
    (Disk(sigma=-0.5), "disk.sigma"),
])
def test_other_disk_fields(disk, field):
    """The distribution must be known, the queue depth a positive whole number, sigma positive."""
    refused(Scenario(disk=disk), field)


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(Costs)])
def test_every_negative_cost_is_refused_by_name(name):
    """Each CPU cost may be zero but never negative, and the message names it."""
    refused(Scenario(costs=dataclasses.replace(Costs(), **{name: -1.0})), f"costs.{name}")


@pytest.mark.parametrize("period", [0, -50.0])
def test_evictor_period_must_be_positive(period):
    """An evictor looping with no period would never let time pass."""
    refused(Scenario(threads=(Reader(), Evictor("ev", period_us=period))), "threads[ev].period_us")


def test_preset_values_are_refused_under_the_preset_parameter_name():
    """A preset checks its own parameters first, so the message names what the user typed."""
    for call, field in ((lambda: workloads.fadvise_dos(evict_period_us=-1.0), "evict_period_us"),
                        (lambda: workloads.two_thread(disk_ms=0), "disk_ms"),
                        (lambda: workloads.two_thread(until_ms=-5), "until_ms"),
                        (lambda: workloads.threaded_app(queue_depth=0), "queue_depth"),
                        (lambda: workloads.two_thread(ra_pages=1.5), "ra_pages")):
        with pytest.raises(ValueError) as e:
            call()
        assert str(e.value).startswith(f"{field}:"), str(e.value)


def test_values_a_preset_lets_through_are_checked_by_the_scenario():
    """An eviction period of 0 passes the preset's sign check (0 us is allowed for
    costs) but the Scenario refuses it under its own field name."""
    refused(workloads.fadvise_dos(evict_period_us=0.0), "threads[evictor].period_us")


def test_a_scenario_needs_threads():
    """A scenario with no threads has nothing to run."""
    refused(Scenario(threads=()), "threads")


def test_thread_names_must_be_unique():
    """Thread names key the trace and the summary, so they must be unique."""
    refused(Scenario(threads=(Reader("a"), Mapper("a"))), "threads")


@pytest.mark.parametrize("thread, field", [
    (Reader("r", think_us=-2.0), "threads[r].think_us"),
    (Reader("r", start_us=-1.0), "threads[r].start_us"),
    (Reader("r", count=0), "threads[r].count"),
    (Reader("r", miss_ratio=1.5), "threads[r].miss_ratio"),
    (Reader("r", pattern="sequential"), "threads[r].pattern"),
    (Reader("r", think_us=0.0), "threads[r].think_us"),      # loops forever without time passing
    (Mapper("m", think_us=-1.0), "threads[m].think_us"),
    (Script("s", steps=(("think", -1.0),)), "threads[s].steps[0]"),
    (Script("s", steps=(("fly",),)), "threads[s].steps[0]"),
])
def test_negative_durations_and_unknown_kinds_in_threads(thread, field):
    """Thread fields are checked one by one and named as threads[name].field."""
    refused(Scenario(threads=(thread,)), field)


def test_a_mixed_reader_with_hits_needs_cached_pages():
    """A 'mixed' reader's hits come from cached pages; with none cached it cannot hit."""
    refused(Scenario(threads=(Reader("r", pattern="mixed", miss_ratio=0.5),)), "threads[r].miss_ratio")


@pytest.mark.parametrize("thread, field", [
    (Reader("r", pattern="fixed", page=1000, count=1), "threads[r].page"),
    (Reader("r", pattern="fixed", page=-1, count=1), "threads[r].page"),
    (Script("s", steps=(("touch", 1000),)), "threads[s].steps[0]"),
    (Evictor("e", first_page=999, n_pages=2), "threads[e].first_page"),
])
def test_a_page_outside_the_file_is_refused(thread, field):
    """Every page a thread names must lie in [0, file_pages)."""
    refused(Scenario(file_pages=1000, threads=(thread,)), field)


# -- found by these tests: bad input that gets past the checks -------------------------------


@pytest.mark.filterwarnings("ignore::DeprecationWarning")     # randrange() of a float, on the way to the crash
@pytest.mark.parametrize("scenario, field", [
    (Scenario(ra_pages=32.0, until_ms=50), "ra_pages"),
    (Scenario(threads=(Reader(), Evictor("e", first_page=3.0)), until_ms=5), "threads[e].first_page"),
])
def test_a_whole_number_given_as_a_float_is_refused_or_used_as_an_int(scenario, field):
    """32.0 pages is either refused or used as 32 -- never a TypeError mid-run."""
    try:
        r = faultlab.run(scenario)
    except ValueError as e:
        assert str(e).startswith(f"{field}:")
    else:
        assert r.summary()["faults"]["completed"] + r.summary()["faults"]["unfinished"] > 0


def test_something_that_is_not_a_thread_is_refused():
    """A string among the threads is a ValueError naming 'threads'."""
    refused(Scenario(threads=(Reader(), "mapper")), "threads[1]")


def test_disk_must_be_a_disk():
    """disk=None is a ValueError naming 'disk'."""
    refused(Scenario(disk=None), "disk")


def test_a_fractional_page_is_refused():
    """A fixed reader's page must be a whole page number."""
    refused(Scenario(threads=(Reader("r", pattern="fixed", page=3.5, count=1),)), "threads[r].page")


def test_a_fractional_count_given_to_a_preset_is_refused():
    """A preset's whole-number parameter is not silently truncated."""
    with pytest.raises(ValueError, match="^ra_pages:"):
        workloads.two_thread(ra_pages=1.5)
