"""Properties of every run, on random small scenarios (Hypothesis).

Whatever the policy, threads, disk and lock rules:

* the run ends without ModelBug -- the model checks its invariants as it goes
  (a writer never shares mmap_sem, nothing is mapped that is not uptodate, no
  lock is released twice, no page goes below zero references) and at the end
  (sim.check_end);
* nothing is recorded after the end of the run;
* from the trace alone, no task holds mmap_sem for write while another holds it;
* a run is a function of its scenario: the same scenario and seed give the
  same events and the same summary.
"""
from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings, strategies as st

import faultlab
from faultlab import Costs, Disk, Evictor, Mapper, Reader, Scenario, Signal, Truncater

FILE_PAGES = 1 << 20
NEAR = 256                       # fixed readers, cached pages and evictors meet in [0, NEAR)


@st.composite
def scenarios(draw, policies=tuple(faultlab.POLICIES), via=("fault", "gup"), truncate=True):
    cached = draw(st.sampled_from([0, 64, NEAR]))
    readers = []
    for i in range(draw(st.integers(1, 4))):
        pattern = draw(st.sampled_from(["cold", "mixed", "fixed"]))
        miss = 1.0 if cached == 0 else draw(st.floats(0.0, 1.0))
        readers.append(Reader(
            name=f"reader{i}", pattern=pattern, miss_ratio=miss, page=draw(st.integers(0, NEAR - 1)),
            think_us=draw(st.floats(0.5, 500.0)), count=draw(st.none() | st.integers(1, 20)),
            start_us=draw(st.floats(0.0, 2000.0)), via=draw(st.sampled_from(via))))
    extra = []
    if draw(st.booleans()):
        extra.append(Mapper(think_us=draw(st.floats(1.0, 200.0)), mprotect=draw(st.booleans()),
                            count=draw(st.none() | st.integers(1, 50)), start_us=draw(st.floats(0.0, 2000.0))))
    if draw(st.booleans()):
        extra.append(Evictor(first_page=draw(st.integers(0, NEAR - 8)), n_pages=draw(st.integers(1, 8)),
                             period_us=draw(st.floats(0.5, 500.0)), start_us=draw(st.floats(0.0, 2000.0))))
    if truncate and draw(st.booleans()):
        extra.append(Truncater(new_pages=draw(st.integers(0, NEAR)), start_us=draw(st.floats(0.0, 5000.0))))
    signals = ()
    if truncate and draw(st.booleans()):
        signals = (Signal(draw(st.sampled_from([t.name for t in readers + extra if t.shares_mm])),
                          draw(st.floats(0.001, 30.0))),)
    disk = Disk(latency_ms=draw(st.floats(0.05, 20.0)),
                distribution=draw(st.sampled_from(["fixed", "exponential", "lognormal"])),
                sigma=draw(st.floats(0.1, 1.5)), queue_depth=draw(st.integers(1, 4)))
    return Scenario(
        policy=draw(st.sampled_from(policies)), threads=tuple(readers + extra), file_pages=FILE_PAGES,
        cached_pages=cached, ra_pages=draw(st.sampled_from([0, 1, 8, 32])), disk=disk,
        costs=Costs(wakeup_us=draw(st.floats(0.0, 20.0))), rwsem=draw(st.sampled_from(["2.6.18", "modern"])),
        seed=draw(st.integers(0, 2**32)), until_ms=draw(st.floats(1.0, 30.0)), signals=signals)


def nothing_mapped_past_the_end(s, events):
    """After a truncate has finished, no fault maps a page past the new end
    (the policies that are not broken on purpose)."""
    if faultlab.POLICIES[s.policy].injects_bugs:
        return
    end = None
    for _, task, event, details in events:
        if event == "truncate_start":
            new = dict(details)["new"]
        elif event == "truncate_end":
            end = new
        elif event == "map" and end is not None:
            assert dict(details)["page"] < end, f"{task} mapped a page past the truncated end"


def write_exclusion(events):
    """From start_locking / acquire_returned / released: a task holding mmap_sem
    for write holds it alone."""
    holding = {}                     # task -> write?
    for _, task, event, details in events:
        d = dict(details)
        if event == "acquire_returned":
            assert task not in holding, f"{task} acquired mmap_sem twice"
            holding[task] = d["write"]
        elif event == "released":
            assert holding.pop(task) == d["write"]
        if any(holding.values()):
            assert len(holding) == 1, f"a writer shares mmap_sem: {holding}"


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(s=scenarios())
def test_any_small_scenario_runs_clean_and_replays_identically(s):
    """Any policy, threads, disk and lock rules: no ModelBug, nothing after the end, a writer holds mmap_sem alone, and the same scenario replays event for event."""
    a = faultlab.run(s)                                  # raises ModelBug if an invariant broke
    assert all(e[0] <= s.until_ms * 1000.0 for e in a.events)
    write_exclusion(a.events)
    nothing_mapped_past_the_end(s, a.events)
    if not faultlab.POLICIES[s.policy].injects_bugs:
        assert a.summary()["kernel_bugs"] == []
    b = faultlab.run(s)
    assert a.events == b.events
    assert a.summary() == b.summary()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(s=scenarios(policies=("nopage_retry",), via=("fault",), truncate=False))
def test_pagefault_args_matches_nopage_retry_on_any_scenario_without_nested_faults(s):
    """Moving the retry state from current->flags into per-fault args changes
    nothing unless a fault runs inside another (get_user_pages from ->nopage),
    a truncate races a fault, or two faults take one page at once: the struct's
    page-locked boolean keeps the page locked from ->nopage until do_no_page has
    set the pte, so the second fault waits on that lock (a page_lock_wait) where
    nopage_retry's find_get_page does not. Without nested faults and truncates,
    the two traces are the same up to the first such wait."""
    a = faultlab.run(s)
    b = faultlab.run(replace(s, policy="pagefault_args"))
    first = next((i for i, (x, y) in enumerate(zip(a.events, b.events)) if x != y), None)
    if first is None:
        assert len(a.events) == len(b.events)
        return
    t, task, event, details = b.events[first]
    assert event == "page_lock_wait", f"first difference is not a page-lock wait: {b.events[first]}"
    page = dict(details)["page"]
    # another thread mapped that page while this one waited: it held the page's lock
    assert any(e[2] == "map" and e[1] != task and dict(e[3]).get("page") == page and e[0] >= t
               for e in b.events[first:]), "no other fault held the page"


# -- bad input: any value of any field is either accepted or refused by name -----------------

from dataclasses import fields as _fields  # noqa: E402

from faultlab.errors import InputError  # noqa: E402
from faultlab.schema import MAX_RUN_OPS  # noqa: E402
from faultlab.threads import KINDS  # noqa: E402

ANYTHING = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.just(10 ** 400) | st.floats(allow_nan=True, allow_infinity=True)
            | st.text(max_size=5) | st.lists(st.integers(), max_size=2) | st.tuples(st.integers()))


def _targets():
    """(where the field lives, how to put a value there, the name a refusal must start with)."""
    out = [("scenario", f.name, f.name) for f in _fields(Scenario) if "spec" in f.metadata]
    out += [("disk", f.name, f"disk.{f.name}") for f in _fields(Disk)]
    out += [("costs", f.name, f"costs.{f.name}") for f in _fields(Costs)]
    out += [(kind, f.name, f"threads[t].{f.name}") for kind, cls in KINDS.items()
            for f in _fields(cls) if "spec" in f.metadata and f.name != "name"]
    return out


def _with(where, name, value):
    if where == "scenario":
        return Scenario(**{name: value})
    if where == "disk":
        return Scenario(disk=Disk(**{name: value}))
    if where == "costs":
        return Scenario(costs=replace(Costs(), **{name: value}))
    return Scenario(threads=(KINDS[where](name="t", **{name: value}),), file_pages=1 << 20)


@settings(max_examples=150, deadline=None)
@given(target=st.sampled_from(_targets()), value=ANYTHING)
def test_any_value_of_any_field_is_accepted_or_refused_by_its_name(target, value):
    """Whatever goes into a field, Scenario.check either accepts it (and the run's
    estimated cost is bounded) or raises InputError naming that field (or the run
    length, for the cost) -- never a TypeError or OverflowError from inside."""
    where, name, field = target
    try:
        s = _with(where, name, value)
    except (TypeError, ValueError) as e:          # refused already at construction: must name it
        assert isinstance(e, InputError) and str(e).startswith(field), e
        return
    try:
        s.check()
    except InputError as e:
        assert str(e).split(":", 1)[0] in (field, "until_ms") or str(e).startswith(field), (field, str(e))
    else:
        assert s.estimated_ops() <= MAX_RUN_OPS
