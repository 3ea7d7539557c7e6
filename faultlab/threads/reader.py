"""Reader: a thread that loads from pages of the shared file mapping."""
from __future__ import annotations

from dataclasses import dataclass

from ..schema import MAX_FILE_PAGES, count, name, refuse, spec, start, think
from . import ThreadKind, loop_ops, op_done, op_start, register, touch

PATTERNS = ("cold", "mixed", "fixed", "shared")
VIA = ("fault", "gup")


@register
@dataclass(frozen=True, slots=True)
class Reader(ThreadKind):
    """A thread that touches pages of the shared file mapping, one op per page.

    pattern:
      - ``cold``: every access lands in a block of the file nobody has read
        (a random read of a huge file), so every access is a major fault.
      - ``mixed``: each access is a miss with probability ``miss_ratio``,
        otherwise a page that is already in the page cache but not yet
        mapped (a minor fault).
      - ``fixed``: touch page ``page`` ``count`` times.
      - ``shared``: each access is a miss with probability ``miss_ratio``,
        otherwise a page drawn at random from the hot set
        ``[page, page + span)``, which all ``shared`` readers share and which
        starts out of the cache (siblings meet on pages whose read is in
        flight).

    ``pages_per_access`` k: one access spans k consecutive pages (a read that
    straddles page boundaries): it touches its page and the k-1 after it, one
    fault each where no pte is present -- the first major, the others minor
    when read-around brought their pages in with the first (a cold page is
    the middle of its read-around block), major otherwise.
    """

    name: str = name("reader")
    pattern: str = spec("cold", "choice", choices=PATTERNS, help="which pages: cold, mixed, fixed or shared")
    miss_ratio: float = spec(1.0, "real", low=0.0, high=1.0, ui=(0.0, 1.0, 0.01),
                             help="a mixed or shared reader's chance that an access misses the page cache")
    page: int = spec(0, "int", "", low=0, high=MAX_FILE_PAGES - 1,
                     help="a fixed reader's page; a shared reader's first hot page")
    think_us: float = think(2.0, "user time between two accesses", ui=(0.0, 1000.0, 1.0))
    count: int | None = count(None, "accesses")
    start_us: float = start()
    via: str = spec("fault", "choice", choices=VIA,
                    help='"fault" (a load) or "gup" (read via /proc/self/mem: get_user_pages)')
    pages_per_access: int = spec(1, "int", "pages", low=1, high=1024, help="consecutive pages one access touches")
    span: int = spec(1, "int", "pages", low=1, high=MAX_FILE_PAGES,
                     help='pattern "shared": the hot set\'s size in pages, from page')

    def check(self, s) -> None:
        p = self.where
        if self.pattern == "mixed" and self.miss_ratio < 1.0 and s.cached_pages == 0:
            raise refuse(f"{p}.miss_ratio", "a mixed reader with hits needs cached_pages > 0")
        if self.count is None and self.think_us <= 0:
            raise refuse(f"{p}.think_us", "a reader that loops until the run ends needs think_us > 0")
        if self.pattern == "fixed" and not 0 <= self.page < s.file_pages:
            raise refuse(f"{p}.page", f"page {self.page} is outside the file (0..{s.file_pages - 1})")
        if self.pattern == "shared" and not (s.cached_pages <= self.page and self.page + self.span <= s.file_pages):
            raise refuse(f"{p}.page", f"the hot set {self.page}..{self.page + self.span - 1} must lie in the "
                         f"file and out of the cache ({s.cached_pages}..{s.file_pages - 1})")

    def max_ops(self, s) -> float:
        """Each access takes its think time and, if it misses, about one disk
        latency (the mean or median): cold readers always miss, mixed ones at
        their miss ratio (a shared one too: its hot set is read once), a fixed
        reader only the first time."""
        miss = {"cold": 1.0, "mixed": self.miss_ratio, "fixed": 0.0, "shared": self.miss_ratio}[self.pattern]
        return loop_ops(self.run_us(s), self.think_us + miss * s.disk.latency_ms * 1000.0, self.count)

    def setup(self, k) -> None:
        if "reader.pages" not in k.shared:
            k.shared["reader.pages"] = Pages(k.scenario)

    def body(self, k, task):
        pages = k.shared["reader.pages"]
        while self.count is None or task.ops < self.count:
            page = pages.next_page(task, self)
            op_start(task)
            for i in range(self.pages_per_access):
                if page + i < k.scenario.file_pages:
                    yield from touch(k, task, page + i, self.via)
            op_done(task)
            if self.think_us:
                yield k.env.timeout(self.think_us)


class Pages:
    """Where the readers of one run find their pages (shared by all of them)."""

    def __init__(self, scenario):
        self.cached_pages = scenario.cached_pages
        self.block = max(scenario.ra_pages, 1)
        self.first = -(-scenario.cached_pages // self.block)
        self.n_blocks = scenario.file_pages // self.block - self.first
        self.hot = 0
        self.used_blocks = set()
        for t in scenario.threads:           # cold reads stay out of any shared hot set
            if isinstance(t, Reader) and t.pattern == "shared":
                self.used_blocks.update(range(t.page // self.block, (t.page + t.span - 1) // self.block + 1))

    def next_page(self, task, spec) -> int:
        if spec.pattern == "fixed":
            return spec.page
        draw = task.rng.random()
        if spec.pattern == "mixed" and draw >= spec.miss_ratio:
            return self.next_hot_page()
        if spec.pattern == "shared" and draw >= spec.miss_ratio:
            return spec.page + task.rng.randrange(spec.span)
        return self.next_cold_page(task.rng)

    def next_hot_page(self) -> int:
        """The next cached page, in order, shared by all mixed readers."""
        page = self.hot % self.cached_pages
        self.hot += 1
        return page

    def next_cold_page(self, rng) -> int:
        """The middle page of a read-around block nobody has read: a sure miss."""
        if self.n_blocks <= len(self.used_blocks):
            raise refuse("until_ms", f"the readers have read every block of the file "
                         f"({len(self.used_blocks)} blocks of {self.block} pages) and need an unread one; "
                         f"shorten the run (or, in a Scenario, raise file_pages)")
        while True:
            b = self.first + rng.randrange(self.n_blocks)
            if b not in self.used_blocks:
                self.used_blocks.add(b)
                return b * self.block + self.block // 2
