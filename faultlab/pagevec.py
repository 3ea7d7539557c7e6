"""The per-CPU LRU-add pagevec of Linux 2.6.18 and what drains it.

A page that enters the page cache through ``add_to_page_cache_lru``
(mm/filemap.c, 2.6.18) goes to the LRU lists by way of ``lru_cache_add``
(mm/swap.c): it takes one more reference (``page_cache_get``) and parks
the page in the current CPU's ``lru_add_pvecs``, a pagevec of
PAGEVEC_SIZE = 14 pages (include/linux/pagevec.h). The reference goes only
when that pagevec is drained: when an add finds it full
(``__pagevec_lru_add`` puts all 14 on the LRU and releases them), or when
someone on that CPU calls ``lru_add_drain`` -- page reclaim does, first
thing in ``shrink_inactive_list`` and ``shrink_active_list``
(mm/vmscan.c), and so does every ``pagevec_release`` of a pagevec that
held pages (``__pagevec_release``, mm/swap.c), including the one at the
end of each batch of ``invalidate_mapping_pages``. All of these drain the
*calling* CPU's pagevec only; 2.6.18's ``lru_add_drain_all`` exists but
POSIX_FADV_DONTNEED (mm/fadvise.c) does not call it.

``invalidate_mapping_pages`` (mm/truncate.c) drops a page only if
``invalidate_complete_page`` sees ``page_count == 2``: the page cache's
reference and its own lookup's. A page still parked in a pagevec has a
third, so FADV_DONTNEED skips it. That is the precondition of Morton's
livelock (<20060920105317.7c3eb5f4.akpm@osdl.org>): the victim's freshly
read page can be dropped only after the victim's CPU has drained its
pagevec.

Which reads park a page: ``page_cache_read`` (filemap_nopage's
``no_cached_page``, the path of a fault without read-around) goes through
``add_to_page_cache_lru``. Read-around through ``mpage_readpages``
(fs/mpage.c, 2.6.18) adds its pages with ``add_to_page_cache`` and puts
them on the LRU through a pagevec local to the call, drained before it
returns, so read-around leaves no reference behind; the model gives
read-around pages none.

What drains the victim's CPU here (``Drain.kind``):

* ``"none"``: nothing but the pagevec filling up;
* ``"traffic"``: another thread on that CPU brings a new page into the
  page cache through ``add_to_page_cache_lru`` every ``period_us`` (reads
  of another file with read-ahead off, or appends to one); every 14th add
  of the CPU drains it;
* ``"reclaim"``: page reclaim runs on that CPU and calls ``lru_add_drain``
  every ``period_us`` (one ``shrink_inactive_list`` batch each).

Simplifications: the other thread's pages and reclaim's work are not
modelled, only their effect on the pagevec (they take no CPU time from the
model's threads, and reclaim does not evict the victim's page itself); the
active-list pagevec (``lru_add_active_pvecs``) is not modelled, since file
pages read by a fault do not enter it. Drain times are exact: the traffic
adds land at whole multiples of ``period_us`` from the start of the run,
and the model wakes only at the add that fills the pagevec, not at every
add, so a fast drain costs nothing to simulate.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import ModelBug
from .pagecache import page_cache_release
from .schema import positive, refuse

PAGEVEC_SIZE = 14                 # include/linux/pagevec.h
DRAINS = ("none", "traffic", "reclaim")


@dataclass(frozen=True, slots=True)
class Drain:
    """What drains the LRU-add pagevec of thread ``on``'s CPU ("" = the first thread's)."""

    kind: str = "none"
    period_us: float = 2.0
    on: str = ""

    def check(self, scenario) -> None:
        if self.kind not in DRAINS:
            raise refuse("drain", f"unknown {self.kind!r}; choose one of {', '.join(DRAINS)}")
        positive("drain_us", self.period_us)
        names = [t.name for t in scenario.threads]
        if self.on and self.on not in names:
            raise refuse("drain.on", f"no thread named {self.on!r}; threads are {', '.join(names)}")


class Pagevec:
    """One CPU's lru_add_pvecs: how many pages it holds, and which of them are the file's."""

    __slots__ = ("cpu", "n", "pages", "traffic_adds")

    def __init__(self, cpu):
        self.cpu = cpu
        self.n = 0                # pagevec_count()
        self.pages = []           # the model's file pages among them (others are only counted)
        self.traffic_adds = 0     # adds by the traffic source so far


class Pagevecs:
    """Every CPU's pagevec, and the drain source of the scenario."""

    def __init__(self, k, drain: Drain, cpu_of):
        self.k = k
        self.drain = drain
        self.cpu_of = cpu_of                  # task name -> CPU number
        self.by_cpu: dict = {}
        self.drains = 0
        self.drain_cpu = None
        self._gen = 0                         # the armed wake-up that still counts
        if drain.kind != "none":
            first = k.scenario.threads[0].name
            self.drain_cpu = cpu_of(drain.on or first)

    def of(self, cpu) -> Pagevec:
        pv = self.by_cpu.get(cpu)
        if pv is None:
            pv = self.by_cpu[cpu] = Pagevec(cpu)
        return pv

    # -- mm/swap.c ------------------------------------------------------------
    def lru_cache_add(self, task_name: str, page) -> None:
        """page_cache_get, park the page in this CPU's pagevec; a full pagevec drains."""
        cpu = self.cpu_of(task_name)
        pv = self.of(cpu)
        self._catch_up(pv)
        page.count += 1
        pv.n += 1
        pv.pages.append(page)
        if pv.n >= PAGEVEC_SIZE:
            self._drain(pv, task_name, "full")
        elif cpu == self.drain_cpu:
            self._arm(pv)

    def lru_add_drain(self, task_name: str) -> None:
        """Drain the calling task's CPU's pagevec."""
        pv = self.of(self.cpu_of(task_name))
        self._catch_up(pv)
        if pv.n:
            self._drain(pv, task_name, "lru_add_drain")

    def holds(self, task_name: str, page) -> bool:
        """Is ``page`` parked in ``task_name``'s CPU's pagevec (a drain by that task would free it)?"""
        pv = self.by_cpu.get(self.cpu_of(task_name))
        return pv is not None and any(p is page for p in pv.pages)

    def _drain(self, pv, by, why) -> None:
        pages, pv.pages, pv.n = pv.pages, [], 0
        self.drains += 1
        self._gen += pv.cpu == self.drain_cpu      # the armed wake-up is spent
        if pages:
            self.k.rec.emit(by, "lru_drain", cpu=pv.cpu, why=why, pages=len(pages))
        for page in pages:
            page_cache_release(page)

    # -- the drain source on one CPU --------------------------------------------
    def _next_drain_us(self, pv) -> float:
        """When the drain source next drains ``pv``, given what it holds now."""
        p = self.drain.period_us
        if self.drain.kind == "reclaim":
            return (math.floor(self.k.env.now / p) + 1) * p
        return (pv.traffic_adds + PAGEVEC_SIZE - pv.n) * p       # the add that fills it

    def _catch_up(self, pv) -> None:
        """Count the traffic adds made on ``pv``'s CPU since it was last looked at."""
        if self.drain.kind != "traffic" or pv.cpu != self.drain_cpu:
            return
        now_adds = math.floor(self.k.env.now / self.drain.period_us + 1e-9)
        new = now_adds - pv.traffic_adds
        if new <= 0:
            return
        if pv.pages and pv.n + new >= PAGEVEC_SIZE:
            raise ModelBug("pagevec: a traffic drain of a page of the file was missed")
        pv.traffic_adds = now_adds
        pv.n = (pv.n + new) % PAGEVEC_SIZE if not pv.pages else pv.n + new

    def _arm(self, pv) -> None:
        """Wake at the next drain of the drain source's CPU while it holds a page of the file
        (an add moves that drain earlier: the wake-up armed before it no longer counts)."""
        self._gen += 1
        if not pv.pages:
            return
        gen = self._gen
        at = self._next_drain_us(pv)
        self.k.env.timeout(max(at - self.k.env.now, 0.0)).callbacks.append(
            lambda _e: self._fire(pv, gen))

    def _fire(self, pv, gen) -> None:
        if gen != self._gen:
            return
        who = "traffic" if self.drain.kind == "traffic" else "kswapd"
        if self.drain.kind == "traffic":
            pv.traffic_adds = math.floor(self.k.env.now / self.drain.period_us + 1e-9)
        if pv.n or pv.pages:
            self._drain(pv, who, "full" if self.drain.kind == "traffic" else "lru_add_drain")
