"""Ready-made scenarios. Every preset takes ``policy``, ``seed`` and
``until_ms`` and its own parameters, and returns a ``Scenario``.

    two_thread          Lespinasse's 2010 benchmark: random reads vs an mmap/munmap loop
    threaded_app        N reader threads at a miss ratio, and maybe the mapper
    fadvise_dos         Morton's livelock: a victim faults one page, an evictor drops it
    unmap_during_fault  a fault waits on disk while another thread unmaps (or remaps) the file
    pinned_gup          a fault whose ->nopage pins a page with get_user_pages
    single_thread       one reader and nothing else
    truncate_race       a fault races an ftruncate of the page it is faulting

``PRESETS[name](**params)`` builds one; an unknown parameter or a value of
the wrong kind is a ValueError naming it and what is allowed.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect

from .pagevec import Drain
from .scenario import Costs, Disk, Scenario
from .threads import Evictor, Mapper, Reader, Script, Truncater
from .signals import Signal

PRESETS: dict = {}


def preset(fn):
    """Register ``fn`` and make it check its keyword arguments."""
    sig = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(**params):
        for name, value in params.items():
            if name not in sig.parameters:
                raise ValueError(f"{name}: {fn.__name__} takes no parameter {name!r}; "
                                 f"it takes {', '.join(sig.parameters)}")
            default = sig.parameters[name].default
            if isinstance(default, bool) and not isinstance(value, bool):
                raise ValueError(f"{name}: must be true or false, got {value!r}")
            if (isinstance(default, (int, float)) and not isinstance(default, bool)
                    or default is None and name.endswith(("_ms", "_us"))) and \
                    (isinstance(value, bool) or not isinstance(value, (int, float)) or value != value):
                raise ValueError(f"{name}: must be a number, got {value!r}")
            if isinstance(default, int) and not isinstance(default, bool) and \
                    (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"{name}: must be a whole number, got {value!r}")
            if name.endswith("_ms") and not value > 0:
                raise ValueError(f"{name}: must be greater than 0 ms, got {value!r}")
            if name.endswith("_us") and not value >= 0:
                raise ValueError(f"{name}: must be 0 us or more, got {value!r}")
            if name in ("page", "ra_pages", "seed") and value < 0:
                raise ValueError(f"{name}: must be 0 or more, got {value!r}")
            if name == "queue_depth" and value < 1:
                raise ValueError(f"{name}: must be 1 or more, got {value!r}")
        return fn(**params)
    wrapper.parameters = {n: p.default for n, p in sig.parameters.items()}
    PRESETS[fn.__name__] = wrapper
    return wrapper


def get_preset(name):
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"preset: unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None


def _costs(**changes):
    return dataclasses.replace(Costs(), **changes)


@preset
def two_thread(policy="sync", disk_ms=18.0, seed=0, until_ms=10000.0, reader_think_us=2.0,
               mapper_think_us=2.0, wakeup_us=5.0, ra_pages=32, rwsem="2.6.18", pages_per_access=1):
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
                 rwsem="2.6.18", hot_pages=0):
    """``n_readers`` threads fault pages of a mapped file; each access is a miss
    with probability ``miss_ratio``, else a minor fault on a cached page; plus
    (optionally) the ``mapper``. Disk latency is exponential. With
    ``hot_pages`` > 0 the non-misses go instead to a shared hot set of that
    many pages that starts out of the cache (Reader pattern ``shared``), so
    threads fault the same pages while their reads are in flight."""
    if not isinstance(hot_pages, int) or isinstance(hot_pages, bool) or not 0 <= hot_pages <= 1 << 16:
        raise ValueError(f"hot_pages: must be a whole number from 0 to 65536, got {hot_pages!r}")
    if not isinstance(n_readers, int) or isinstance(n_readers, bool) or not 1 <= n_readers <= 256:
        raise ValueError(f"n_readers: must be a whole number from 1 to 256, got {n_readers!r}")
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
                    costs=_costs(wakeup_us=wakeup_us, walk_us=walk_us), file_pages=1 << 16,
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
                    disk=Disk(latency_ms=disk_ms), file_pages=1 << 16,
                    threads=(Script("reader", steps=(("touch", int(page)),)),
                             Script("unmapper", steps=steps)),
                    name="unmap_during_fault")


@preset
def pinned_gup(policy="nopage_retry", disk_ms=10.0, seed=0, until_ms=50.0, page=7000):
    """Thread ``app`` touches a driver mapping whose ->nopage pins file page
    ``page`` with get_user_pages -- a nested fault inside a fault. A second
    thread keeps the mm multi-threaded."""
    return Scenario(policy=policy, seed=int(seed), until_ms=until_ms, ra_pages=0,
                    disk=Disk(latency_ms=disk_ms), file_pages=1 << 16,
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
    new_pages = int(page) if beyond else int(page) + 1
    return Scenario(policy=policy, seed=int(seed), until_ms=until_ms, ra_pages=0,
                    disk=Disk(latency_ms=disk_ms), file_pages=1 << 16,
                    threads=(Script("reader", steps=(("touch", int(page)),)),
                             Truncater("truncater", new_pages=new_pages, start_us=truncate_at_ms * 1000.0)),
                    name="truncate_race")
