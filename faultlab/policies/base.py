"""What every policy is: a few hooks into the shared fault path (fault.py).

A policy is one design from the story. It changes only what the kernel
patch for that design changed; everything else is the 2.6.18 fault path.
The defaults below *are* 2.6.18: no per-fault state, read-around
submitted under mmap_sem, nothing to change before a retry.
"""
from __future__ import annotations

from .. import fault


class Policy:
    name = ""            # registry name
    kernel = ""          # the kernel (or patch) it follows
    source = ""          # where to read it: mail Message-ID, commit, file
    summary = ""         # one line for tables and the CLI
    injects_bugs = False  # True only for a variant that is broken on purpose
    tried_skips_hit = False  # a rerun's cache hit is not counted as a read-ahead hit (TRIED, 3.7+)
    major_on_locked_page = True  # finding the page under another read counts as major (until 2.6.37)

    def do_page_fault(self, k, task, address):
        """The arch entry; per-VMA locking overrides it."""
        return fault.do_page_fault(k, task, address)

    def fault_begin(self, k, f):
        """Arm the fault before its first pass (a task flag, or per-fault flags)."""

    def gup_begin(self, k, f):
        """Arm a fault that get_user_pages makes for a caller holding mmap_sem."""

    def fault_end(self, k, f):
        """Disarm after the last pass."""

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

    def __repr__(self):
        return f"<policy {self.name}: {self.summary}>"
