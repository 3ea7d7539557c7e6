"""The policy contract: what a design may change in the shared fault path.

A policy is one design from the story. It changes only what the kernel
patch for that design changed; everything else is the 2.6.18 fault path
(fault.py), which calls the hooks below and reads nothing else of the
policy. The defaults *are* 2.6.18: no per-fault state, no per-VMA lock,
read-around submitted under mmap_sem, the page found under read counted as
major, nothing to change before a retry.

The hooks, each with its contract (``k`` the Kernel, ``f`` the fault.Fault):

    fault_begin(k, f)              arm the fault before its first pass (a task flag, per-fault flags)
    gup_begin(k, f)                arm a fault get_user_pages makes for a caller that holds mmap_sem
    fault_end(k, f)                disarm after the last pass
    lock_vma_under_rcu(k, f)       the VMA, read-locked without mmap_sem, or None to take mmap_sem
    vma_lock_retry(k, f)           what the arch code changes when the per-VMA attempt said RETRY
    before_retry(k, f)             what the arch code changes before ``goto retry``
    cache_miss(k, f, pgoff, ra)    (generator) submit the read of a missing page; None or a NOPAGE code
    page_not_uptodate(k, f, page)  (generator) the page is under read: the page, RETRY_ALL or NOPAGE_RETRY
    locked_page_is_major(f)        does finding the page under another read make the fault major?
    fault_around(f)                does a read fault first map the cached neighbours (3.15+)?
    counts_readahead_hit(f)        does this pass's cache hit count against mmap_miss (file->f_ra)?
    map_into_dead_vma(k, f, vma, page)  do_no_page found its VMA unmapped: raise ModelBug, or record the bug
    fatal_signal_on_retry(f)       at a RETRY with SIGKILL pending: end the fault (KILLED) instead of rerunning?
    truncate_guard(f)              what stops a fault mapping a page truncate removes: "truncate_count",
                                   "page_lock" or None
    map_truncated_page(k, f, page) do_no_page is about to map a page truncate removed: raise, or record
    truncate_mapped_page(k, task, page)  truncate (2.6.18 protocol) is removing a mapped page: raise, or record

And what a policy declares about itself (read by tables, the CLI, the
explorers and the run's defaults, never by the fault path):

    name      the registry name
    kernel    the kernel (or patch) it follows
    source    where to read it: mail Message-ID, commit, file
    summary   one line for tables and the CLI
    era       "2.6.18" or "modern": the rwsem rules of its time, which a run uses
              unless the scenario picks (policies.rwsem_rules)
    notebook  the notebook that introduces it; with ``year`` it orders the registry
    year      when the design was proposed or merged
    injects_bugs  True only for a variant that is broken on purpose

A new policy is one module in this package with one ``@register`` class;
the registry finds it (policies/__init__.py imports every module).
"""
from __future__ import annotations

from .. import fault
from ..errors import ModelBug


class Policy:
    name = ""
    kernel = ""
    source = ""
    summary = ""
    era = "2.6.18"
    notebook = ""
    year = 0
    injects_bugs = False

    def fault_begin(self, k, f):
        """Arm the fault before its first pass (a task flag, or per-fault flags)."""

    def gup_begin(self, k, f):
        """Arm a fault that get_user_pages makes for a caller holding mmap_sem."""

    def fault_end(self, k, f):
        """Disarm after the last pass."""

    def lock_vma_under_rcu(self, k, f):
        """Find and read-lock the VMA without mmap_sem; None: take mmap_sem
        (no per-VMA locks before 6.4)."""
        return None

    def vma_lock_retry(self, k, f):
        """The per-VMA attempt returned RETRY: what the arch code changes
        before it falls back to mmap_sem (``lock_mmap:``)."""

    def before_retry(self, k, f):
        """What the arch code changes before ``goto retry``."""

    def cache_miss(self, k, f, pgoff, readaround):
        """Submit the read of a missing page, with its read-around window or
        alone (no_cached_page): under mmap_sem (2.6.18 .. 5.0)."""
        if readaround:
            yield from fault.do_page_cache_readahead(k, f, pgoff)
        else:
            yield from fault.page_cache_read(k, f, pgoff)

    def page_not_uptodate(self, k, f, page):
        """The page is in the cache but its read is in flight. Return the page
        (referenced, uptodate), RETRY_ALL, or NOPAGE_RETRY."""
        raise NotImplementedError

    def locked_page_is_major(self, f) -> bool:
        """2.6.18's page_not_uptodate: a page found under another read makes the
        fault major (until 2.6.37, which counts only a page not in the cache)."""
        return True

    def fault_around(self, f) -> bool:
        """No fault-around before 3.15: a read fault maps its own page only
        (fault.do_fault_around is do_read_fault's first step since 3.15)."""
        return False

    def counts_readahead_hit(self, f) -> bool:
        """2.6.18 counts every cache hit against mmap_miss, a rerun's too (3.7's
        FAULT_FLAG_TRIED stopped counting the rerun's)."""
        return True

    def map_into_dead_vma(self, k, f, vma, page):
        """do_no_page is about to map ``page`` through a VMA that munmap removed:
        for a correct design that is a bug in the model (raise); a design broken
        on purpose (``injects_bugs``) records it as the kernel bug it would be."""
        if not self.injects_bugs:
            raise ModelBug(f"{f.task.name}: mapping page into {vma!r}, which was unmapped")
        k.rec.bug(f.task.name, f"mapped page {page.index} into unmapped VMA {vma.id} (stale vma pointer)")

    def fatal_signal_on_retry(self, f) -> bool:
        """At the arch code's RETRY with SIGKILL pending: end the fault instead of
        rerunning it? Not before KOSAKI's 37b23e0525d3 (2011); see signals.py."""
        return False

    def truncate_guard(self, f):
        """What keeps a fault from mapping a page a concurrent truncate removes:
        2.6.18's ``"truncate_count"`` recheck in do_no_page (``goto retry``), or
        ``"page_lock"`` (d00806b18315, 2.6.23+: ->nopage returns the page locked,
        truncate locks each page), or None (broken on purpose)."""
        return "truncate_count"

    def map_truncated_page(self, k, f, page):
        """do_no_page is about to map a page that truncate removed from the file:
        a bug in the model for a correct design; recorded for a broken one."""
        if not self.injects_bugs:
            raise ModelBug(f"{f.task.name}: mapping page {page.index}, which truncate removed from the cache")
        k.rec.bug(f.task.name, f"mapped page {page.index} after truncate removed it (beyond the end of file)")

    def truncate_mapped_page(self, k, task, page):
        """truncate_complete_page (2.6.18 does not look) is removing a page a
        fault has mapped: the race the truncate_count recheck exists for."""
        if not self.injects_bugs:
            raise ModelBug(f"{task.name}: truncate removed page {page.index} while it was mapped "
                           f"(the truncate_count recheck should have kept it unmapped)")
        k.rec.bug(task.name, f"truncated page {page.index} while a fault had it mapped "
                             f"(past the new end of file: the pte now maps a page outside the file)")

    def __repr__(self):
        return f"<policy {self.name}: {self.summary}>"
