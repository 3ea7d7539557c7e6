"""Shared fixtures for the model's tests: reading a run's trace, and seeing
the kernel state a run leaves behind.

A trace event is ``(t_us, task, event, details)`` with ``details`` a tuple of
``(key, value)`` pairs (faultlab/record.py).
"""
from __future__ import annotations

import sys

import pytest


class Trace:
    """Queries on ``Result.events``."""

    @staticmethod
    def select(result, task=None, event=None, **details):
        """The events of ``task`` named ``event`` whose details include ``details``."""
        return [e for e in result.events
                if (task is None or e[1] == task) and (event is None or e[2] == event)
                and all(dict(e[3]).get(k, object()) == v for k, v in details.items())]

    @classmethod
    def times(cls, result, task=None, event=None, **details):
        return [e[0] for e in cls.select(result, task, event, **details)]

    @classmethod
    def when(cls, result, task, event, **details):
        """The time of the one event that matches (fails if there are 0 or 2+)."""
        ts = cls.times(result, task, event, **details)
        assert len(ts) == 1, f"expected one {task} {event} {details}, found {len(ts)}"
        return ts[0]

    @staticmethod
    def names(result, task=None):
        """The event names, in order (of one task, or all)."""
        return [e[2] for e in result.events if task is None or e[1] == task]


@pytest.fixture
def trace():
    return Trace


@pytest.fixture
def run_keeping_kernel(monkeypatch):
    """``run(scenario) -> (kernel, result)``: faultlab.run, keeping the Kernel
    it built so a test can look at the mm and the page cache afterwards."""
    import faultlab
    from faultlab import sim

    kept = []

    class KeptKernel(sim.Kernel):
        def __init__(self, scenario, **kw):
            super().__init__(scenario, **kw)
            kept.append(self)

    monkeypatch.setattr(sim, "Kernel", KeptKernel)

    def run(scenario):
        kept.clear()
        result = faultlab.run(scenario)
        assert len(kept) == 1
        return kept[0], result

    return run


@pytest.fixture(autouse=True)
def close_figures():
    """Close every pyplot figure a test left open (plots and explorers make them)."""
    yield
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")
