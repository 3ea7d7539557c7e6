"""Ready-made scenarios. Every preset takes ``policy``, ``seed`` and
``until_ms`` and its own parameters, and returns a ``Scenario``.

    two_thread          Lespinasse's 2010 benchmark: random reads vs an mmap/munmap loop
    threaded_app        N reader threads at a miss ratio, and maybe the mapper
    fadvise_dos         Morton's livelock: a victim faults one page, an evictor drops it
    unmap_during_fault  a fault waits on disk while another thread unmaps (or remaps) the file
    pinned_gup          a fault whose ->nopage pins a page with get_user_pages
    single_thread       one reader and nothing else
    truncate_race       a fault races an ftruncate of the page it is faulting

``PRESETS[name](**params)`` builds one; an unknown parameter or a value
outside its range (``PARAMS``, read from the fields the parameter sets) is
an InputError (a ValueError) naming it and what is allowed.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect

from .pagevec import DRAINS, Drain
from .scenario import Costs, Disk, Scenario
from .schema import MAX_TIME_US, MAX_UNTIL_MS, THINK_FLOOR_US, Spec, refuse, spec_of
from .signals import Signal
from .threads import Evictor, Mapper, Reader, Script, Truncater

PRESETS: dict = {}
SMALL_FILE_PAGES = 1 << 16          # the file of the presets that fault one page

def looping(spec: Spec) -> Spec:
    """A think time of a thread that loops until the run ends: not 0."""
    return dataclasses.replace(spec, zero_ok=False)


# Every preset parameter, by name: the same name means the same thing in every
# preset, and its type, unit and range are those of the field it sets.
PARAMS: dict = {
    "policy": spec_of(Scenario, "policy"),
    "seed": spec_of(Scenario, "seed"),
    "until_ms": spec_of(Scenario, "until_ms"),
    "rwsem": spec_of(Scenario, "rwsem"),
    "ra_pages": spec_of(Scenario, "ra_pages"),
    "disk_ms": spec_of(Disk, "latency_ms"),
    "queue_depth": spec_of(Disk, "queue_depth"),
    "wakeup_us": spec_of(Costs, "wakeup_us"),
    "walk_us": spec_of(Costs, "walk_us"),
    "think_us": looping(spec_of(Reader, "think_us")),
    "reader_think_us": looping(spec_of(Reader, "think_us")),
    "mapper_think_us": looping(spec_of(Mapper, "think_us")),
    "miss_ratio": spec_of(Reader, "miss_ratio"),
    "evict_period_us": spec_of(Evictor, "period_us"),
    "n_readers": Spec("int", "threads", low=1, high=256, ui=(1, 32, 1), help="reader threads"),
    "mapper": Spec("bool", help="also run the mapper thread"),
    "remap": Spec("bool", help="map the file again after unmapping it"),
    "unmap_at_ms": Spec("real", "ms", low=0.0, high=MAX_UNTIL_MS, help="when the other thread unmaps the file"),
    "page": Spec("int", "", low=0, high=SMALL_FILE_PAGES - 1, help="the page the fault is on"),
    "pages_per_access": spec_of(Reader, "pages_per_access"),
    "drain": Spec("choice", choices=DRAINS, help="what drains the victim CPU's LRU-add pagevec (pagevec.py)"),
    "drain_us": Spec("real", "us", low=THINK_FLOOR_US, high=MAX_TIME_US, help="how often it drains"),
    "kill_at_ms": dataclasses.replace(spec_of(Signal, "at_ms"), none_ok=True, none_means="no signal",
                                      help="when the victim is sent SIGKILL (signals.py)"),
    "hot_pages": Spec("int", "pages", low=0, high=SMALL_FILE_PAGES, ui=(0, 64, 1),
                      help="a hot set of pages the readers share, out of the cache at first (0: none)"),
    "truncate_at_ms": Spec("real", "ms", low=0.0, high=MAX_UNTIL_MS, help="when the other process ftruncates"),
    "beyond": Spec("bool", help="truncate the faulted page away (else the file keeps it)"),
}


def preset(fn):
    """Register ``fn`` and make it check its keyword arguments against PARAMS."""
    sig = inspect.signature(fn)
    undeclared = [n for n in sig.parameters if n not in PARAMS]
    if undeclared:
        raise TypeError(f"preset {fn.__name__}: declare {', '.join(undeclared)} in workloads.PARAMS")

    @functools.wraps(fn)
    def wrapper(**params):
        for name, value in params.items():
            if name not in sig.parameters:
                raise refuse(name, f"{fn.__name__} takes no parameter {name!r}; "
                             f"it takes {', '.join(sig.parameters)}")
            params[name] = PARAMS[name].check(name, value)
        return fn(**params)
    wrapper.parameters = {n: p.default for n, p in sig.parameters.items()}
    PRESETS[fn.__name__] = wrapper
    return wrapper


def get_preset(name):
    """The preset called ``name``."""
    if isinstance(name, str) and name in PRESETS:
        return PRESETS[name]
    raise refuse("preset", f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")


def _costs(**changes):
    return dataclasses.replace(Costs(), **changes)


@preset
def two_thread(policy="sync", disk_ms=18.0, seed=0, until_ms=10000.0, reader_think_us=2.0,
               mapper_think_us=2.0, wakeup_us=5.0, ra_pages=32, rwsem="", pages_per_access=1):
    """Thread ``reader`` reads random pages of a large mapped file (every read a
    miss); thread ``mapper`` loops mmap/munmap of an anonymous page.
    ``pages_per_access`` k: each read spans k consecutive pages (one major
    fault, then k-1 more faults, minor while read-around brought the pages in)."""
    return Scenario(policy=policy, seed=int(seed), until_ms=until_ms, ra_pages=int(ra_pages),
                    rwsem=rwsem, disk=Disk(latency_ms=disk_ms),
                    costs=_costs(wakeup_us=wakeup_us),
                    threads=(Reader("reader", pattern="cold", think_us=reader_think_us,
                                    pages_per_access=pages_per_access),
                             Mapper("mapper", think_us=mapper_think_us)),
                    name="two_thread")


@preset
def threaded_app(policy="sync", n_readers=8, miss_ratio=0.05, mapper=True, seed=0, until_ms=1000.0,
                 disk_ms=8.0, queue_depth=4, think_us=20.0, mapper_think_us=2.0, wakeup_us=5.0,
                 rwsem="", hot_pages=0):
    """``n_readers`` threads fault pages of a mapped file; each access is a miss
    with probability ``miss_ratio``, else a minor fault on a cached page; plus
    (optionally) the ``mapper``. Disk latency is exponential. With
    ``hot_pages`` > 0 the non-misses go instead to a shared hot set of that
    many pages that starts out of the cache (Reader pattern ``shared``), so
    threads fault the same pages while their reads are in flight."""
    cached = 1 << 22
    hot = dict(pattern="shared", page=cached, span=hot_pages) if hot_pages else dict(pattern="mixed")
    readers = tuple(Reader(f"reader{i}", miss_ratio=miss_ratio, think_us=think_us, **hot)
                    for i in range(n_readers))
    extra = (Mapper("mapper", think_us=mapper_think_us),) if mapper else ()
    return Scenario(policy=policy, seed=int(seed), until_ms=until_ms, rwsem=rwsem,
                    cached_pages=cached, ra_pages=32,
                    disk=Disk(latency_ms=disk_ms, distribution="exponential", queue_depth=int(queue_depth)),
                    costs=_costs(wakeup_us=wakeup_us), threads=readers + extra, name="threaded_app")


@preset
def fadvise_dos(policy="sync", evict_period_us=0.5, wakeup_us=5.0, seed=0, until_ms=200.0,
                disk_ms=2.0, page=1000, walk_us=0.5, drain="traffic", drain_us=2.0, kill_at_ms=None):
    """Morton's livelock (<20060920105317.7c3eb5f4.akpm@osdl.org>): a ``victim``
    thread faults one page once while an ``evictor`` process loops
    FADV_DONTNEED over it. Disk latency is exponential, so the evictor's
    phase against each retry is new every time.

    The victim's page is read by page_cache_read, so it sits in the victim's
    CPU's LRU-add pagevec, where FADV_DONTNEED (on another CPU) cannot drop it,
    until that CPU drains (pagevec.py). ``drain``: ``"traffic"`` (another
    thread on the victim's CPU adds a new page-cache page every ``drain_us``),
    ``"reclaim"`` (page reclaim there calls lru_add_drain every ``drain_us``)
    or ``"none"``. The default, a new page every 2 us, drains the pagevec
    within 28 us of the victim's read: much sooner than the disk answers.
    ``kill_at_ms``: send the victim SIGKILL then (``kill -9``; see faultlab.signals)."""
    signals = () if kill_at_ms is None else (Signal("victim", float(kill_at_ms)),)
    return Scenario(policy=policy, seed=int(seed), until_ms=until_ms, ra_pages=0, signals=signals,
                    drain=Drain(kind=drain, period_us=drain_us, on="victim"),
                    disk=Disk(latency_ms=disk_ms, distribution="exponential"),
                    costs=_costs(wakeup_us=wakeup_us, walk_us=walk_us), file_pages=SMALL_FILE_PAGES,
                    threads=(Reader("victim", pattern="fixed", page=int(page), count=1),
                             Evictor("evictor", first_page=int(page), n_pages=1,
                                     period_us=evict_period_us)),
                    name="fadvise_dos")


@preset
def unmap_during_fault(policy="seqcount", disk_ms=10.0, seed=0, until_ms=50.0, remap=False,
                       unmap_at_ms=2.0, page=5000):
    """Thread ``reader`` faults a page that is not cached; while its read is in
    flight, thread ``unmapper`` unmaps the file (and with ``remap`` maps it
    again at the same address: a new VMA)."""
    steps = (("think", unmap_at_ms * 1000.0), ("munmap_file",)) + ((("remap_file",),) if remap else ())
    return Scenario(policy=policy, seed=int(seed), until_ms=until_ms, ra_pages=0,
                    disk=Disk(latency_ms=disk_ms), file_pages=SMALL_FILE_PAGES,
                    threads=(Script("reader", steps=(("touch", int(page)),)),
                             Script("unmapper", steps=steps)),
                    name="unmap_during_fault")


@preset
def pinned_gup(policy="nopage_retry", disk_ms=10.0, seed=0, until_ms=50.0, page=7000):
    """Thread ``app`` touches a driver mapping whose ->nopage pins file page
    ``page`` with get_user_pages -- a nested fault inside a fault. A second
    thread, ``idle``, does nothing but keep the mm multi-threaded."""
    return Scenario(policy=policy, seed=int(seed), until_ms=until_ms, ra_pages=0,
                    disk=Disk(latency_ms=disk_ms), file_pages=SMALL_FILE_PAGES,
                    threads=(Script("app", steps=(("touch_pinned", int(page)),)),
                             Script("idle", steps=(("think", 1.0),))),
                    name="pinned_gup")


@preset
def single_thread(policy="single_user_sync", disk_ms=18.0, seed=0, until_ms=1000.0, think_us=2.0):
    """One reader, every read a miss, alone in its mm."""
    return Scenario(policy=policy, seed=int(seed), until_ms=until_ms,
                    disk=Disk(latency_ms=disk_ms),
                    threads=(Reader("reader", pattern="cold", think_us=think_us),), name="single_thread")


@preset
def truncate_race(policy="sync", disk_ms=10.0, truncate_at_ms=2.0, page=5000, beyond=True, seed=0,
                  until_ms=50.0):
    """Thread ``reader`` faults file page ``page``, not cached; while its read is
    in flight, process ``truncater`` ftruncates the file: to ``page`` pages
    (``beyond``: the page being faulted is past the new end) or to ``page + 1``
    (the page stays, but truncate_count moves all the same)."""
    if not beyond and page == SMALL_FILE_PAGES - 1:
        raise refuse("page", f"with beyond=False the page must leave room for the truncate below the file's "
                     f"{SMALL_FILE_PAGES} pages: at most {SMALL_FILE_PAGES - 2}, got {page}")
    new_pages = int(page) if beyond else int(page) + 1
    return Scenario(policy=policy, seed=int(seed), until_ms=until_ms, ra_pages=0,
                    disk=Disk(latency_ms=disk_ms), file_pages=SMALL_FILE_PAGES,
                    threads=(Script("reader", steps=(("touch", int(page)),)),
                             Truncater("truncater", new_pages=new_pages, start_us=truncate_at_ms * 1000.0)),
                    name="truncate_race")
