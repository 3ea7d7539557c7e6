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
from faultlab import Costs, Disk, Evictor, Locker, Mapper, Reader, Scenario, Script, workloads
from faultlab.errors import InputError
from faultlab.schema import MAX_RUN_OPS, THINK_FLOOR_US


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


def test_a_preset_parameter_has_the_range_of_the_field_it_sets():
    """An eviction period of 0 is refused by the preset, under the preset's name for it,
    with the Evictor's own range (the two are declared once)."""
    from faultlab.schema import spec_of
    with pytest.raises(ValueError) as e:
        workloads.fadvise_dos(evict_period_us=0.0)
    assert str(e.value).startswith("evict_period_us:")
    assert spec_of(Evictor, "period_us").allowed() in str(e.value)
    refused(Scenario(threads=(Reader(), Evictor("ev", period_us=0.0))), "threads[ev].period_us")


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


# -- every numeric field has a finite range that bounds a run's cost --------------------------


@pytest.mark.parametrize("scenario, field", [
    (Scenario(threads=(Reader("r", think_us=1e-20),)), "threads[r].think_us"),        # Zeno: time would stall
    (Scenario(threads=(Mapper("m", think_us=1e-9),)), "threads[m].think_us"),
    (Scenario(threads=(Locker("l", think_us=0.0, hold_us=1e-12),)), "threads[l].think_us"),
    (Scenario(threads=(Reader(), Evictor("e", period_us=1e-6))), "threads[e].period_us"),
    (Scenario(disk=Disk(distribution="lognormal", sigma=1000)), "disk.sigma"),            # overflowed mid-run
    (Scenario(disk=Disk(latency_ms=1e308, distribution="exponential")), "disk.latency_ms"),
    (Scenario(disk=Disk(queue_depth=10 ** 6)), "disk.queue_depth"),
    (Scenario(ra_pages=16777216, until_ms=1), "ra_pages"),                                 # 5 GB in one fault
    (Scenario(until_ms=1e7), "until_ms"),
    (Scenario(costs=Costs(mmap_us=1e300)), "costs.mmap_us"),
    (Scenario(threads=(Reader(), Evictor("e", n_pages=1 << 24))), "threads[e].n_pages"),
    (Scenario(threads=(Reader("r", count=10 ** 12),)), "threads[r].count"),
    (Scenario(threads=(Script("s", steps=(("think", 1e300),)),)), "threads[s].steps[0]"),
])
def test_values_that_would_make_a_run_endless_or_huge_are_refused_up_front(scenario, field):
    """Each bound is a range on one field, checked before the run starts."""
    refused(scenario, field)


def test_the_think_floor_is_allowed():
    """The floor itself is a valid think time: a cold reader at the floor runs."""
    r = faultlab.run(Scenario(threads=(Reader("r", think_us=THINK_FLOOR_US),), until_ms=50))
    assert r.summary()["threads"]["r"]["completed"] == 2               # 18 ms a read


def test_a_run_estimated_beyond_the_operations_bound_is_refused_naming_the_run_length():
    """The mapper of two_thread loops about 15,000 times a simulated second: a run of
    10^6 ms would be 15 million operations. Refused before it starts, naming
    until_ms, the estimate and the thread behind it."""
    with pytest.raises(InputError, match="^until_ms:") as e:
        workloads.two_thread(policy="nopage_retry", until_ms=1e6).check()      # the check, not the run
    msg = str(e.value)
    assert "mapper" in msg and f"{MAX_RUN_OPS:,}" in msg
    ops = workloads.two_thread(until_ms=1e6).threads[1].max_ops(workloads.two_thread(until_ms=1e6))
    assert ops > MAX_RUN_OPS
    s = workloads.two_thread(until_ms=100.0)
    assert sum(t.max_ops(s) for t in s.threads) < MAX_RUN_OPS


def test_a_reader_estimate_follows_the_disk():
    """A cold reader's estimate is its think time plus a disk read per access."""
    s = Scenario(threads=(Reader("r", think_us=2.0),), until_ms=1000.0, disk=Disk(latency_ms=18.0))
    assert s.threads[0].max_ops(s) == 1e6 // 18002.0 + 1


@pytest.mark.parametrize("make, field", [
    (lambda: Scenario(threads=(Mapper("m", mprotect="no"),)), "threads[m].mprotect"),
    (lambda: Scenario(threads=(Mapper("m", mprotect=1),)), "threads[m].mprotect"),
    (lambda: Scenario(threads=(Locker("l", kind="banana"),)), "threads[l].kind"),
    (lambda: Scenario(threads=(Reader("r", via="mmap"),)), "threads[r].via"),
    (lambda: Scenario(seed=True), "seed"),
    (lambda: Scenario(seed=-1), "seed"),
    (lambda: Scenario(policy=["sync"]), "policy"),
    (lambda: Scenario(rwsem=2.6), "rwsem"),
    (lambda: Scenario(ra_pages=True), "ra_pages"),
    (lambda: Scenario(threads=(Script("s", steps=None),)), "threads[s].steps"),
    (lambda: Scenario(threads=(Script("s", steps=(["touch", 1],)),)), "threads[s].steps[0]"),
    (lambda: Scenario(threads=[Reader()]), "threads"),
    (lambda: Scenario(threads=(Reader(name=""),)), "threads[0].name"),
    (lambda: Scenario(costs=None), "costs"),
])
def test_booleans_enumerations_and_types_are_strict(make, field):
    """A string is not a boolean, an unknown kind is not run, a bool is not a number."""
    refused(make(), field)


def test_a_touch_of_a_fractional_page_says_what_is_wrong():
    """("touch", 1.0) is not 'outside the file': it is not a whole page number."""
    msg = refused(Scenario(threads=(Script("s", steps=(("touch", 1.0),)),)), "threads[s].steps[0]")
    assert "whole number" in msg and "outside" not in msg


@pytest.mark.parametrize("bad", ["two_thread", None, 3, workloads.two_thread])
def test_run_says_it_wants_a_scenario(bad):
    """faultlab.run of anything but a Scenario is an InputError, not an AttributeError."""
    with pytest.raises(InputError, match="^scenario: faultlab.run needs a faultlab.Scenario") as e:
        faultlab.run(bad)
    if bad == "two_thread":
        assert "faultlab.workloads.two_thread()" in str(e.value)


@pytest.mark.parametrize("name", [[], None, 3, "nope"])
def test_get_preset_names_the_field(name):
    with pytest.raises(InputError, match="^preset:"):
        workloads.get_preset(name)


def test_numpy_scalars_are_numbers():
    """What np.arange hands out is accepted, stored as Python numbers, and runs as the
    same scenario as plain numbers."""
    np = pytest.importorskip("numpy")
    a = workloads.two_thread(ra_pages=np.int64(32), disk_ms=np.float64(18.0), seed=np.int64(0),
                             until_ms=np.float64(100.0))
    b = workloads.two_thread(ra_pages=32, disk_ms=18.0, seed=0, until_ms=100.0)
    assert a == b and type(a.ra_pages) is int and type(a.seed) is int
    s = Scenario(threads=(Reader("r", pattern="fixed", page=np.int32(5), count=np.int64(2)),
                          Script("s", steps=(("touch", np.int64(7)),))), ra_pages=np.uint8(4), until_ms=50.0)
    assert type(s.threads[0].page) is int and type(s.threads[1].steps[0][1]) is int
    assert faultlab.run(s).summary()["threads"]["r"]["completed"] == 2
    with pytest.raises(InputError, match="^ra_pages:"):
        workloads.two_thread(ra_pages=np.bool_(True))


def test_every_preset_parameter_is_declared_once():
    """Each preset parameter has one spec (workloads.PARAMS); a preset with an
    undeclared parameter cannot even be registered."""
    for fn in workloads.PRESETS.values():
        assert set(fn.parameters) <= set(workloads.PARAMS)
    with pytest.raises(TypeError, match="declare colour"):
        workloads.preset(lambda colour="red": None)
