"""What one run of the model is: threads, a disk, costs, a policy, a seed.

Everything here is a frozen dataclass, so a scenario can be shared between
runs and changed with ``dataclasses.replace``. Each field declares its type,
unit and range once (``schema.spec`` metadata); ``Scenario.check()``
(called by ``faultlab.run``) reads them, then checks what the fields must
satisfy together, then that the run's estimated cost is bounded. A bad
value raises ``InputError`` (a ValueError) naming the field and what is
allowed. Numpy scalars are accepted where a number is meant and stored as
the Python number they stand for.

Times: the scenario speaks milliseconds where a human would (disk latency,
run length) and microseconds for CPU costs; the model itself runs in
microseconds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from .schema import (MAX_COST_US, MAX_FILE_PAGES, MAX_RA_PAGES, MAX_RUN_OPS, MAX_UNTIL_MS, check_fields,
                     normalize, plain, refuse, spec)
from .threads import ThreadKind, kind_names
from .threads.evictor import Evictor  # noqa: F401  (the thread kinds, importable from here too)
from .threads.locker import Locker  # noqa: F401
from .threads.mapper import Mapper  # noqa: F401
from .threads.reader import Reader
from .threads.script import Script  # noqa: F401
from .cpu import CPUs
from .pagevec import Drain
from .signals import signals_field

DISK_DISTRIBUTIONS = ("fixed", "exponential", "lognormal")
RWSEM_RULES = ("2.6.18", "modern")
HZ_CHOICES = (100, 250, 300, 1000)      # kernel/Kconfig.hz: HZ_100, HZ_250, HZ_300, HZ_1000


def _policies():
    from .policies import POLICIES          # the registry imports the fault path, which imports this module's users
    return tuple(POLICIES)


def cost(default, help):
    """A CPU cost in us: 0 up to a second."""
    return spec(default, "real", "us", low=0.0, high=MAX_COST_US, help=help)


@dataclass(frozen=True, slots=True)
class Disk:
    """A block device: per-request latency and how many requests it serves at once.

    One read-around (or single-page) submission is one request. Each
    request's latency is drawn from the disk's own seeded random stream.
    """

    latency_ms: float = spec(18.0, "real", "ms", low=0.001, high=60_000.0, ui=(1.0, 100.0, 1.0),
                             help="disk latency: the fixed value, the mean (exponential) or the median (lognormal)")
    distribution: str = spec("fixed", "choice", choices=DISK_DISTRIBUTIONS,
                             help="fixed | exponential (mean latency_ms) | lognormal (median latency_ms)")
    sigma: float = spec(0.5, "real", low=0.0, low_open=True, high=3.0,
                        help="lognormal shape (3: the 99.9th percentile about 10,000 times the median)")
    queue_depth: int = spec(1, "int", "requests", low=1, high=256, help="requests in flight at once")

    def __post_init__(self):
        normalize(self)


@dataclass(frozen=True, slots=True)
class Costs:
    """CPU time of each step, in microseconds (order of a 2006 x86 machine).

    The defaults are round figures of the right size, not measurements:
    an exception entry and exit is about a microsecond, a VMA lookup and a
    four-level page-table walk a few hundred nanoseconds each, a read-around
    of 32 pages a few microseconds to allocate and insert the pages and
    build the bio. The story does not hinge on them; the disk dominates.

    (*) One calibration: mmap + munmap of a page, with the mapper's 2 us of
    user time after each, come to about 66 us, so an unhindered mapper
    loops about 15,000 times a second -- the rate Michel Lespinasse
    measured once mmap_sem was dropped during faults (the V2 cover letter of
    the 2.6.37 series, <1286265215-9025-1-git-send-email-walken@google.com>;
    commit d065bd810b6d).
    The rate *with* the convoy is then the model's prediction, not an input.
    """

    fault_entry_us: float = cost(0.5, 'trap, do_page_fault prologue, down_read_trylock')
    find_vma_us: float = cost(0.2, 'find_vma + the permission checks after it')
    walk_us: float = spec(0.5, "real", "us", low=0.0, high=MAX_COST_US, ui=(0.0, 10.0, 0.1),
                      help='__handle_mm_fault: pgd/pud/pmd/pte alloc and walk')
    find_get_page_us: float = cost(0.2, 'one radix-tree lookup')
    ra_submit_us: float = cost(2.0, 'building and submitting one read request')
    ra_page_us: float = cost(0.1, 'allocating and inserting one page into the cache')
    map_us: float = cost(0.5, 'do_no_page: pte lock, set_pte, rmap')
    fault_exit_us: float = cost(0.3, 'up_read, return to user')
    syscall_entry_us: float = cost(0.3, 'getting into and out of the kernel for a syscall')
    mmap_us: float = cost(25.0, 'mmap of one anonymous page, under down_write  (*)')
    munmap_us: float = cost(36.0, 'munmap of it: unmap, free tables, TLB flush, under down_write  (*)')
    mprotect_us: float = cost(20.0, 'mprotect, under down_write')
    fadvise_call_us: float = cost(0.3, 'posix_fadvise entry and range set-up')
    fadvise_page_us: float = cost(0.05, 'examining (and maybe dropping) one cached page')
    wakeup_us: float = spec(5.0, "real", "us", low=0.0, high=MAX_COST_US, ui=(0.1, 1000.0, "log"),
                        help='from the end of a wait to the woken task running again')
    reexecute_us: float = cost(0.2, 'refault: back in user mode, the access runs again up to its trap '
                                    '(the return to user is fault_exit_us, the new trap fault_entry_us)')
    truncate_us: float = cost(2.0, 'ftruncate: i_mutex, i_alloc_sem, notify_change, i_size_write')
    truncate_page_us: float = cost(0.2, 'truncate_complete_page: removing one page from the cache')

    def __post_init__(self):
        normalize(self)


@dataclass(frozen=True, slots=True)
class Scenario:
    """One run: the policy, the threads, the file, the disk, the costs, the seed."""

    policy: str = spec("sync", "choice", choices=_policies, help="the design (faultlab.POLICIES)")
    threads: tuple = (Reader(),)
    file_pages: int = spec(1 << 24, "int", "pages", low=1, high=MAX_FILE_PAGES,
                           help="size of the mapped file (default 64 GiB of 4 KiB pages)")
    cached_pages: int = spec(0, "int", "pages", low=0, high=MAX_FILE_PAGES,
                             help="pages [0, cached_pages) start in the page cache, uptodate")
    ra_pages: int = spec(32, "int", "pages", low=0, high=MAX_RA_PAGES,
                         help="read-around window (2.6.18 default: 128 KiB = 32 pages)")
    disk: Disk = field(default_factory=Disk)
    costs: Costs = field(default_factory=Costs)
    rwsem: str = spec("", "choice", choices=("",) + RWSEM_RULES, empty_means="the rules of the policy's era",
                      help='"2.6.18" (lib/rwsem-spinlock.c rules), "modern" (kernel/locking/rwsem.c), '
                           'or "" for the rules of the policy\'s era (policies.rwsem_rules)')
    hz: int = spec(250, "choice", choices=HZ_CHOICES,
                   help="CONFIG_HZ (kernel/Kconfig.hz): the tick of the modern rwsem's handoff timeout")
    seed: int = spec(0, "int", low=0, high=2 ** 64 - 1, help="fixes every random stream of the run")
    until_ms: float = spec(1000.0, "real", "ms", low=0.0, low_open=True, high=MAX_UNTIL_MS,
                           ui=(10.0, 2000.0, 10.0), help="simulated run length")
    name: str = ""
    drain: Drain = field(default_factory=Drain)   # what drains the LRU-add pagevecs (pagevec.py)
    cpus: CPUs | None = None         # None: a CPU per thread, no scheduler (cpu.py)
    signals: tuple = signals_field()  # Signal(thread, at_ms): SIGKILL to a thread (signals.py)

    def __post_init__(self):
        normalize(self)

    def check(self) -> None:
        """Raise InputError naming the first bad field and what it may be."""
        check_fields(self)
        if self.cached_pages > self.file_pages:
            raise refuse("cached_pages", f"{self.cached_pages} is more than file_pages ({self.file_pages})")
        if not isinstance(self.disk, Disk):
            raise refuse("disk", f"must be a faultlab.Disk, got {self.disk!r}")
        check_fields(self.disk, "disk.")
        if not isinstance(self.costs, Costs):
            raise refuse("costs", f"must be a faultlab.Costs, got {self.costs!r}")
        check_fields(self.costs, "costs.")
        if not isinstance(self.name, str):
            raise refuse("name", f"must be a string, got {self.name!r}")
        if not isinstance(self.threads, tuple) or not self.threads:
            raise refuse("threads", f"a scenario needs a tuple of at least one thread, got {self.threads!r}")
        for i, t in enumerate(self.threads):
            if not isinstance(t, ThreadKind):
                raise refuse(f"threads[{i}]", f"{t!r} is not a thread; the kinds are {kind_names()}")
            if not isinstance(t.name, str) or not t.name:
                raise refuse(f"threads[{i}].name", f"must be a non-empty string, got {t.name!r}")
        names = [t.name for t in self.threads]
        if len(set(names)) != len(names):
            raise refuse("threads", f"thread names must be unique, got {names}")
        for t in self.threads:
            t.check_all(self)
        if not isinstance(self.drain, Drain):
            raise refuse("drain", f"must be a faultlab.pagevec.Drain, got {self.drain!r}")
        self.drain.check(self)
        if self.cpus is not None:
            if not isinstance(self.cpus, CPUs):
                raise refuse("cpus", f"must be None or a faultlab.cpu.CPUs, got {self.cpus!r}")
            self.cpus.check(self)
        for i, sig in enumerate(self.signals):
            if sig.thread not in names:
                raise refuse(f"signals[{i}].thread", f"no thread named {sig.thread!r}; threads are {', '.join(names)}")
        self.check_cost()

    def estimated_ops(self) -> float:
        """The most operations the run may make, by its threads' own estimates (``max_ops``)."""
        return sum(t.max_ops(self) for t in self.threads)

    def within(self, max_ops) -> "Scenario":
        """This scenario, its run shortened (to whole ms, at least 1) if it is
        estimated to make more than ``max_ops`` operations (explorers use this)."""
        ops = self.estimated_ops()
        if ops <= max_ops:
            return self
        return replace(self, until_ms=float(max(1, math.floor(self.until_ms * max_ops / ops))))

    def check_cost(self) -> None:
        """Refuse a run estimated to make more than MAX_RUN_OPS operations (each
        thread kind's ``max_ops``): it would take too long, or too much memory."""
        ops = {t.name: t.max_ops(self) for t in self.threads}
        total = sum(ops.values())
        if total > MAX_RUN_OPS:
            top = max(ops, key=ops.get)

            def many(n):
                return "operations without end" if math.isinf(n) else f"about {n:,.0f} operations"
            raise refuse("until_ms", f"a run of {plain(self.until_ms)} ms would make {many(total)} "
                         f"(thread {top} alone {many(ops[top])}), more than the {MAX_RUN_OPS:,} a run may make; "
                         f"shorten the run or lengthen the threads' think times")


def check_scenario(scenario) -> None:
    """What ``faultlab.run`` checks first: a Scenario, and a valid one."""
    if not isinstance(scenario, Scenario):
        from .workloads import PRESETS          # workloads builds on this module
        hint = (f"; for the preset, run faultlab.workloads.{scenario}()"
                if isinstance(scenario, str) and scenario in PRESETS else
                "; build one with faultlab.Scenario(...) or a preset, e.g. faultlab.workloads.two_thread()")
        raise refuse("scenario", f"faultlab.run needs a faultlab.Scenario, got {scenario!r}{hint}")
    scenario.check()
