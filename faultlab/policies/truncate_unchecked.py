"""truncate_unchecked: 2.6.18 without the truncate_count recheck -- broken on purpose.

2.6.18's do_no_page reads mapping->truncate_count before ->nopage and,
under the page-table lock, drops the page and retries if it changed
(mm/memory.c do_no_page, ``goto retry``): the guard against a fault
that finds a page, then loses the race to a truncate that unmaps
the file's pages past the new end and removes them from the cache, and
maps it anyway. This variant leaves the recheck out. In truncate_race the
fault maps the page it found before the truncate; the truncate then
removes that page from the file while it is mapped: the process keeps a
pte to a page past the end of file that is no longer the file's. The
model records the kernel bug (``summary()["kernel_bugs"]``) instead of
raising, as seqcount_unchecked does.
"""
from . import register
from .sync import Sync


@register
class TruncateUnchecked(Sync):
    name = "truncate_unchecked"
    kernel = "a broken variant, for teaching"
    source = "2.6.18 mm/memory.c do_no_page without its truncate_count recheck"
    summary = "sync without the truncate_count recheck (maps a truncated page)"
    notebook = "05_seqcount"
    year = 2006
    era = "2.6.18"                      # the rwsem rules of its time
    injects_bugs = True

    def truncate_guard(self, f):
        return None
