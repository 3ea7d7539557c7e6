"""What one run of the model is: threads, a disk, costs, a policy, a seed.

Everything here is a frozen dataclass, so a scenario can be shared between
runs and changed with ``dataclasses.replace``. Validation happens in
``Scenario.check()`` (called by ``faultlab.run``): a bad value raises
``ValueError`` naming the field and what is allowed.

Times: the scenario speaks milliseconds where a human would (disk latency,
run length) and microseconds for CPU costs; the model itself runs in
microseconds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

DISK_DISTRIBUTIONS = ("fixed", "exponential", "lognormal")
RWSEM_RULES = ("2.6.18", "modern")
READER_PATTERNS = ("cold", "mixed", "fixed")
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


@dataclass(frozen=True, slots=True)
class Reader:
    """A thread that touches pages of the shared file mapping, one op per page.

    pattern:
      - ``cold``: every access lands in a block of the file nobody has read
        (a random read of a huge file), so every access is a major fault.
      - ``mixed``: each access is a miss with probability ``miss_ratio``,
        otherwise a page that is already in the page cache but not yet
        mapped (a minor fault).
      - ``fixed``: touch page ``page`` ``count`` times.
    """

    name: str = "reader"
    pattern: str = "cold"
    miss_ratio: float = 1.0
    page: int = 0
    think_us: float = 2.0            # user time between two accesses
    count: int | None = None         # accesses to make; None = until the run ends
    start_us: float = 0.0
    via: str = "fault"               # "fault" (a load) or "gup" (read via /proc/self/mem: get_user_pages)


@dataclass(frozen=True, slots=True)
class Mapper:
    """A thread that loops mmap + munmap of one anonymous page (a writer of mmap_sem).

    With ``mprotect=True`` each iteration also mprotects the page. One op is one iteration.
    """

    name: str = "mapper"
    think_us: float = 2.0
    mprotect: bool = False
    count: int | None = None
    start_us: float = 0.0


@dataclass(frozen=True, slots=True)
class Locker:
    """A thread that loops a syscall taking mmap_sem for *read* -- mincore or
    madvise -- holding it ``hold_us`` each time. One op is one syscall."""

    name: str = "locker"
    kind: str = "mincore"
    hold_us: float = 1.0
    think_us: float = 10.0
    count: int | None = None
    start_us: float = 0.0


@dataclass(frozen=True, slots=True)
class Evictor:
    """A separate process looping posix_fadvise(FADV_DONTNEED) over file pages.

    It shares the file, not the mm: it never takes the victim's mmap_sem.
    """

    name: str = "evictor"
    first_page: int = 0
    n_pages: int = 1
    period_us: float = 50.0
    start_us: float = 0.0
    count: int | None = None


@dataclass(frozen=True, slots=True)
class Script:
    """A thread that runs a fixed list of steps, for teaching scenarios.

    Steps are tuples:
      ("think", us)            user time
      ("touch", page)          load from file page ``page`` (a fault if not mapped)
      ("gup", page)            read it via get_user_pages under mmap_sem (/proc/self/mem, O_DIRECT)
      ("touch_pinned", page)   load from a driver mapping whose ->nopage pins file page ``page``
                               with get_user_pages (see fault.driver_nopage)
      ("munmap_file",)         unmap the file mapping
      ("remap_file",)          map the file again at the same address (a new VMA)
      ("mmap",) ("munmap",) ("mprotect",)   one anonymous-page syscall
    """

    name: str = "script"
    steps: tuple = ()
    start_us: float = 0.0


THREAD_KINDS = (Reader, Mapper, Locker, Evictor, Script)
SCRIPT_STEPS = {"think": 1, "touch": 1, "gup": 1, "touch_pinned": 1, "munmap_file": 0,
                "remap_file": 0, "mmap": 0, "munmap": 0, "mprotect": 0}


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

    def check(self) -> None:
        """Raise ValueError naming the first bad field and what it may be."""
        from .policies import POLICIES

        if self.policy not in POLICIES:
            raise ValueError(f"policy: unknown policy {self.policy!r}; choose one of {', '.join(POLICIES)}")
        _positive("until_ms", self.until_ms)
        _positive("file_pages", self.file_pages, integer=True)
        if self.file_pages > MAX_FILE_PAGES:
            raise ValueError(f"file_pages: at most {MAX_FILE_PAGES} (1 TiB of 4 KiB pages), got {self.file_pages}")
        _at_least("cached_pages", self.cached_pages, 0, integer=True)
        if self.cached_pages > self.file_pages:
            raise ValueError(f"cached_pages: {self.cached_pages} is more than file_pages ({self.file_pages})")
        _at_least("ra_pages", self.ra_pages, 0, integer=True)
        if self.rwsem not in RWSEM_RULES:
            raise ValueError(f"rwsem: unknown rules {self.rwsem!r}; choose one of {', '.join(RWSEM_RULES)}")
        if not isinstance(self.seed, int):
            raise ValueError(f"seed: must be an integer, got {self.seed!r}")
        if not isinstance(self.disk, Disk):
            raise ValueError(f"disk: must be a faultlab.Disk, got {self.disk!r}")
        _check_disk(self.disk)
        if not isinstance(self.costs, Costs):
            raise ValueError(f"costs: must be a faultlab.Costs, got {self.costs!r}")
        for f in fields(Costs):
            _at_least(f"costs.{f.name}", getattr(self.costs, f.name), 0.0)
        if not isinstance(self.threads, tuple) or not self.threads:
            raise ValueError("threads: a scenario needs a tuple of at least one thread")
        for i, t in enumerate(self.threads):
            if not isinstance(t, THREAD_KINDS):
                raise ValueError(f"threads[{i}]: {t!r} is not a Reader, Mapper, Locker, Evictor or Script")
            if not isinstance(t.name, str) or not t.name:
                raise ValueError(f"threads[{i}].name: must be a non-empty string, got {t.name!r}")
        names = [t.name for t in self.threads]
        if len(set(names)) != len(names):
            raise ValueError(f"threads: thread names must be unique, got {names}")
        for t in self.threads:
            _check_thread(self, t)


def _number(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ValueError(f"{name}: must be a number, got {value!r}")


def _whole(name, value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name}: must be a whole number, got {value!r}")


def _positive(name, value, integer=False):
    _number(name, value)
    if integer:
        _whole(name, value)
    if not value > 0 or math.isinf(value):
        raise ValueError(f"{name}: must be a finite number greater than 0, got {value!r}")


def _at_least(name, value, low, integer=False):
    _number(name, value)
    if integer:
        _whole(name, value)
    if value < low or math.isinf(value):
        raise ValueError(f"{name}: must be a finite number >= {low}, got {value!r}")


def _check_disk(d: Disk):
    _positive("disk.latency_ms", d.latency_ms)
    if d.distribution not in DISK_DISTRIBUTIONS:
        raise ValueError(f"disk.distribution: unknown {d.distribution!r}; choose one of {', '.join(DISK_DISTRIBUTIONS)}")
    _positive("disk.sigma", d.sigma)
    _positive("disk.queue_depth", d.queue_depth, integer=True)


def _check_count(prefix, count):
    if count is not None:
        _positive(f"{prefix}.count", count, integer=True)


def _check_thread(s: Scenario, t):
    p = f"threads[{t.name}]"
    if not isinstance(t, THREAD_KINDS):
        raise ValueError(f"threads: {t!r} is not a Reader, Mapper, Locker, Evictor or Script")
    _at_least(f"{p}.start_us", t.start_us, 0.0)
    if isinstance(t, Reader):
        if t.pattern not in READER_PATTERNS:
            raise ValueError(f"{p}.pattern: unknown {t.pattern!r}; choose one of {', '.join(READER_PATTERNS)}")
        if t.via not in ("fault", "gup"):
            raise ValueError(f"{p}.via: must be 'fault' or 'gup', got {t.via!r}")
        _number(f"{p}.miss_ratio", t.miss_ratio)
        if not 0.0 <= t.miss_ratio <= 1.0:
            raise ValueError(f"{p}.miss_ratio: must be between 0 and 1, got {t.miss_ratio!r}")
        if t.pattern == "mixed" and t.miss_ratio < 1.0 and s.cached_pages == 0:
            raise ValueError(f"{p}.miss_ratio: a mixed reader with hits needs cached_pages > 0")
        _at_least(f"{p}.think_us", t.think_us, 0.0)
        _check_count(p, t.count)
        if t.count is None and t.think_us <= 0:
            raise ValueError(f"{p}.think_us: a reader that loops until the run ends needs think_us > 0")
        _at_least(f"{p}.page", t.page, 0, integer=True)
        if t.pattern == "fixed" and not 0 <= t.page < s.file_pages:
            raise ValueError(f"{p}.page: page {t.page} is outside the file (0..{s.file_pages - 1})")
    elif isinstance(t, Mapper):
        _at_least(f"{p}.think_us", t.think_us, 0.0)
        _check_count(p, t.count)
        if t.count is None and t.think_us <= 0:
            raise ValueError(f"{p}.think_us: a mapper that loops until the run ends needs think_us > 0")
    elif isinstance(t, Locker):
        _at_least(f"{p}.hold_us", t.hold_us, 0.0)
        _at_least(f"{p}.think_us", t.think_us, 0.0)
        _check_count(p, t.count)
        if t.count is None and t.think_us + t.hold_us <= 0:
            raise ValueError(f"{p}.think_us: a locker that loops until the run ends needs think_us > 0")
    elif isinstance(t, Evictor):
        _positive(f"{p}.period_us", t.period_us)
        _positive(f"{p}.n_pages", t.n_pages, integer=True)
        _at_least(f"{p}.first_page", t.first_page, 0, integer=True)
        if t.first_page + t.n_pages > s.file_pages:
            raise ValueError(f"{p}.first_page: pages {t.first_page}..{t.first_page + t.n_pages - 1} "
                             f"are outside the file (0..{s.file_pages - 1})")
        _check_count(p, t.count)
    else:
        for i, step in enumerate(t.steps):
            if not isinstance(step, tuple) or not step or step[0] not in SCRIPT_STEPS \
                    or len(step) != 1 + SCRIPT_STEPS[step[0]]:
                raise ValueError(f"{p}.steps[{i}]: {step!r} is not a step; steps are "
                                 + ", ".join(f"({k!r}{', x' * n})" for k, n in SCRIPT_STEPS.items()))
            if step[0] == "think":
                _at_least(f"{p}.steps[{i}]", step[1], 0.0)
            if step[0] in ("touch", "gup", "touch_pinned") and not (isinstance(step[1], int) and 0 <= step[1] < s.file_pages):
                raise ValueError(f"{p}.steps[{i}]: page {step[1]!r} is outside the file (0..{s.file_pages - 1})")
