"""What one run of the model is: threads, a disk, costs, a policy, a seed.

Everything here is a frozen dataclass, so a scenario can be shared between
runs and changed with ``dataclasses.replace``. Validation happens in
``Scenario.check()`` (called by ``faultlab.run``): a bad value raises
``InputError`` (a ValueError) naming the field and what is allowed.

Times: the scenario speaks milliseconds where a human would (disk latency,
run length) and microseconds for CPU costs; the model itself runs in
microseconds.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

from .schema import at_least, positive, refuse
from .threads import ThreadKind, kind_names
from .threads.evictor import Evictor  # noqa: F401  (the thread kinds, importable from here too)
from .threads.locker import Locker  # noqa: F401
from .threads.mapper import Mapper  # noqa: F401
from .threads.reader import Reader
from .threads.script import Script  # noqa: F401
from .cpu import CPUs
from .pagevec import Drain

DISK_DISTRIBUTIONS = ("fixed", "exponential", "lognormal")
RWSEM_RULES = ("2.6.18", "modern")
MAX_FILE_PAGES = 1 << 28


@dataclass(frozen=True, slots=True)
class Disk:
    """A block device: per-request latency and how many requests it serves at once.

    One read-around (or single-page) submission is one request. Each
    request's latency is drawn from the disk's own seeded random stream.
    """

    latency_ms: float = 18.0
    distribution: str = "fixed"   # fixed | exponential (mean latency_ms) | lognormal (median latency_ms)
    sigma: float = 0.5            # lognormal shape
    queue_depth: int = 1          # requests in flight at once


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

    fault_entry_us: float = 0.5     # trap, do_page_fault prologue, down_read_trylock
    find_vma_us: float = 0.2        # find_vma + the permission checks after it
    walk_us: float = 0.5            # __handle_mm_fault: pgd/pud/pmd/pte alloc and walk
    find_get_page_us: float = 0.2   # one radix-tree lookup
    ra_submit_us: float = 2.0       # building and submitting one read request
    ra_page_us: float = 0.1         # allocating and inserting one page into the cache
    map_us: float = 0.5             # do_no_page: pte lock, set_pte, rmap
    fault_exit_us: float = 0.3      # up_read, return to user
    syscall_entry_us: float = 0.3   # getting into and out of the kernel for a syscall
    mmap_us: float = 25.0           # mmap of one anonymous page, under down_write  (*)
    munmap_us: float = 36.0         # munmap of it: unmap, free tables, TLB flush, under down_write  (*)
    mprotect_us: float = 20.0       # mprotect, under down_write
    fadvise_call_us: float = 0.3    # posix_fadvise entry and range set-up
    fadvise_page_us: float = 0.05   # examining (and maybe dropping) one cached page
    wakeup_us: float = 5.0          # from the end of a wait to the woken task running again
    reexecute_us: float = 0.2       # refault: back in user mode, the access runs again up to its trap
                                    # (the return to user is fault_exit_us, the new trap fault_entry_us)
    truncate_us: float = 2.0        # ftruncate: i_mutex, i_alloc_sem, notify_change, i_size_write
    truncate_page_us: float = 0.2   # truncate_complete_page: removing one page from the cache


@dataclass(frozen=True, slots=True)
class Scenario:
    """One run: the policy, the threads, the file, the disk, the costs, the seed."""

    policy: str = "sync"
    threads: tuple = (Reader(),)
    file_pages: int = 1 << 24        # size of the mapped file, in pages (64 GiB of 4 KiB pages)
    cached_pages: int = 0            # pages [0, cached_pages) start in the page cache, uptodate
    ra_pages: int = 32               # read-around window (2.6.18 default: 128 KiB = 32 pages)
    disk: Disk = field(default_factory=Disk)
    costs: Costs = field(default_factory=Costs)
    rwsem: str = "2.6.18"            # "2.6.18" (lib/rwsem-spinlock.c rules) or "modern" (kernel/locking/rwsem.c)
    seed: int = 0
    until_ms: float = 1000.0
    name: str = ""
    drain: Drain = field(default_factory=Drain)   # what drains the LRU-add pagevecs (pagevec.py)
    cpus: CPUs | None = None         # None: a CPU per thread, no scheduler (cpu.py)
    signals: tuple = ()              # Signal(thread, at_ms): SIGKILL to a thread (signals.py)

    def check(self) -> None:
        """Raise ValueError naming the first bad field and what it may be."""
        from .policies import POLICIES

        if not isinstance(self.policy, str) or self.policy not in POLICIES:
            raise refuse("policy", f"unknown policy {self.policy!r}; choose one of {', '.join(POLICIES)}")
        positive("until_ms", self.until_ms)
        positive("file_pages", self.file_pages, integer=True)
        if self.file_pages > MAX_FILE_PAGES:
            raise refuse("file_pages", f"at most {MAX_FILE_PAGES} (1 TiB of 4 KiB pages), got {self.file_pages}")
        at_least("cached_pages", self.cached_pages, 0, integer=True)
        if self.cached_pages > self.file_pages:
            raise refuse("cached_pages", f"{self.cached_pages} is more than file_pages ({self.file_pages})")
        at_least("ra_pages", self.ra_pages, 0, integer=True)
        if self.rwsem not in RWSEM_RULES:
            raise refuse("rwsem", f"unknown rules {self.rwsem!r}; choose one of {', '.join(RWSEM_RULES)}")
        if not isinstance(self.seed, int):
            raise refuse("seed", f"must be an integer, got {self.seed!r}")
        if not isinstance(self.disk, Disk):
            raise refuse("disk", f"must be a faultlab.Disk, got {self.disk!r}")
        _check_disk(self.disk)
        if not isinstance(self.costs, Costs):
            raise refuse("costs", f"must be a faultlab.Costs, got {self.costs!r}")
        for f in fields(Costs):
            at_least(f"costs.{f.name}", getattr(self.costs, f.name), 0.0)
        if not isinstance(self.threads, tuple) or not self.threads:
            raise refuse("threads", "a scenario needs a tuple of at least one thread")
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
        _check_signals(self, names)


def _check_signals(s: Scenario, names):
    from .signals import Signal
    if not isinstance(s.signals, tuple):
        raise refuse("signals", f"must be a tuple of faultlab.Signal, got {s.signals!r}")
    for i, sig in enumerate(s.signals):
        if not isinstance(sig, Signal):
            raise refuse(f"signals[{i}]", f"must be a faultlab.Signal(thread, at_ms), got {sig!r}")
        if sig.thread not in names:
            raise refuse(f"signals[{i}].thread", f"no thread named {sig.thread!r}; threads are {', '.join(names)}")
        positive(f"signals[{i}].at_ms", sig.at_ms)


def _check_disk(d: Disk):
    positive("disk.latency_ms", d.latency_ms)
    if d.distribution not in DISK_DISTRIBUTIONS:
        raise refuse("disk.distribution", f"unknown {d.distribution!r}; choose one of {', '.join(DISK_DISTRIBUTIONS)}")
    positive("disk.sigma", d.sigma)
    positive("disk.queue_depth", d.queue_depth, integer=True)
