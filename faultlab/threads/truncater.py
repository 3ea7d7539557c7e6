"""Truncater: a separate process that shrinks the shared file with ftruncate."""
from __future__ import annotations

from dataclasses import dataclass

from ..schema import MAX_FILE_PAGES, name, refuse, spec, start
from ..truncate import do_truncate
from . import ThreadKind, op_done, op_start, register


@register
@dataclass(frozen=True, slots=True)
class Truncater(ThreadKind):
    """A separate process that calls ftruncate on the shared file once, at
    ``start_us``, cutting it to ``new_pages`` pages (faultlab/truncate.py:
    unmap_mapping_range and truncate_inode_pages as 2.6.18 does them, with
    the page-lock protocol of 2.6.23 under the policies that use it). It
    takes no mmap_sem. One op is the truncate."""

    name: str = name("truncater")
    new_pages: int = spec(0, "int", "pages", low=0, high=MAX_FILE_PAGES - 1,
                          help="the file's size after the truncate (smaller than file_pages)")
    start_us: float = start()

    shares_mm = False

    def check(self, s) -> None:
        if self.new_pages >= s.file_pages:
            raise refuse(f"{self.where}.new_pages", f"must be smaller than file_pages ({s.file_pages}): "
                         f"ftruncate here only shrinks the file, got {self.new_pages}")

    def max_ops(self, s) -> float:
        """One truncate. (Its page-by-page work is bounded by the pages in the
        cache, which the other threads' operations bound.)"""
        return 1

    def body(self, k, task):
        op_start(task)
        yield from do_truncate(k, task, self.new_pages)
        op_done(task)
