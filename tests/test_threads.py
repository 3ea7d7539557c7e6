"""Thread kinds: each is one registered class that checks itself, sets up what it
needs, runs its body and reports its own operation count."""
from __future__ import annotations

import pkgutil
from dataclasses import dataclass

import pytest

import faultlab
from faultlab import Evictor, Reader, Scenario, Script, threads
from faultlab.schema import positive
from faultlab.threads import KINDS, ThreadKind, op_done, op_start, register


def test_every_module_of_the_package_registers_one_kind():
    """The package finds its kinds itself: one module, one registered class."""
    modules = {m.name for m in pkgutil.iter_modules(threads.__path__)}
    assert modules == set(KINDS)
    for name, cls in KINDS.items():
        assert issubclass(cls, ThreadKind) and cls.__module__ == f"faultlab.threads.{name}"


@pytest.fixture
def ticker_kind():
    """A kind written the way a new one is: one class, registered; removed afterwards."""
    @register
    @dataclass(frozen=True, slots=True)
    class Ticker(ThreadKind):
        name: str = "ticker"
        period_us: float = 100.0
        start_us: float = 0.0

        def check(self, s):
            positive(f"{self.where}.period_us", self.period_us)

        def max_ops(self, s):
            return s.until_ms * 1000.0 / self.period_us

        def body(self, k, task):
            while True:
                op_start(task)
                yield k.env.timeout(self.period_us)
                op_done(task)
    yield Ticker
    del KINDS["ticker"]


def test_a_new_kind_is_one_class(ticker_kind):
    """A kind defined outside faultlab runs, is checked by its own check and reports its ops."""
    r = faultlab.run(Scenario(threads=(ticker_kind("t", period_us=100.0),), until_ms=1.05))
    assert r.summary()["threads"]["t"] == {"completed": 10, "ops_per_s": round(10 / 1.05e-3, 3),
                                           "unfinished": 1}
    with pytest.raises(ValueError, match=r"^threads\[t\]\.period_us:"):
        faultlab.run(Scenario(threads=(ticker_kind("t", period_us=0.0),)))
    assert "Ticker" in str(pytest.raises(ValueError, faultlab.run, Scenario(threads=("x",))).value)


def test_the_evictor_counts_the_calls_of_a_loop_that_never_skipped_one():
    """The evictor sleeps through calls that could drop nothing, yet reports every period's call."""
    s = Scenario(threads=(Reader("r", pattern="fixed", page=0, count=1),
                          Evictor("e", first_page=500, n_pages=1, period_us=100.0)),
                 file_pages=1000, until_ms=1.0)
    r = faultlab.run(s)
    call = s.costs.fadvise_call_us + s.costs.fadvise_page_us
    assert r.summary()["threads"]["e"]["completed"] == int((1000.0 - call) // 100.0) + 1 == 10
    assert not any(e[2] == "evict" for e in r.events)          # nothing to drop, nothing dropped


def test_a_pinned_touch_maps_its_driver_page_before_the_run():
    """Script's touch_pinned step sets up one driver VMA per pinned page, before any thread runs."""
    from faultlab.mm import DRIVER_BASE
    from faultlab.sim import Kernel
    s = Scenario(threads=(Script("a", steps=(("touch_pinned", 7), ("touch_pinned", 7), ("touch_pinned", 3))),),
                 file_pages=100)
    k = Kernel(s)
    driver = [(v.start - DRIVER_BASE, v.pgoff) for v in k.mm.vmas if v.kind == "driver"]
    assert driver == [(3, 3), (7, 7)]


def test_cold_readers_share_one_set_of_read_blocks():
    """Two cold readers never read the same block: the page choice is the readers' shared state."""
    r = faultlab.run(Scenario(threads=(Reader("a", count=50), Reader("b", count=50)), file_pages=1 << 16,
                              until_ms=5000.0))
    blocks = [dict(e[3])["first"] // 32 for e in r.events if e[2] == "io_submit"]
    assert len(blocks) == 100 and len(set(blocks)) == 100


def test_running_out_of_unread_blocks_names_the_run_length():
    """A file too small for the cold reads of the run is refused naming until_ms (what a preset user can change)."""
    with pytest.raises(ValueError, match="^until_ms:"):
        faultlab.run(Scenario(threads=(Reader("r", think_us=1.0),), file_pages=64, ra_pages=32,
                              disk=faultlab.Disk(latency_ms=0.1), until_ms=10.0))
