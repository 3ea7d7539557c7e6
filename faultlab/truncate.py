"""Truncating the shared file: ftruncate -> vmtruncate (Linux 2.6.18).

    sys_ftruncate -> do_sys_ftruncate -> do_truncate     fs/open.c      (i_mutex)
      notify_change -> inode_setattr                     fs/attr.c      (i_alloc_sem, for write)
        vmtruncate                                       mm/memory.c
          i_size_write                the new end of file, first
          unmap_mapping_range         mapping->truncate_count++ under i_mmap_lock, then
                                      zap every pte of the file past the new end
          truncate_inode_pages        mm/truncate.c: pass 1 removes every page it can
                                      lock at once (TestSetPageLocked); pass 2 lock_page()s
                                      -- sleeping for a page whose read is in flight --
                                      and removes the rest (truncate_complete_page)

No mmap_sem anywhere: a truncate races the fault path, which is why
do_no_page rechecks truncate_count (fault.do_no_page). 2.6.18's
truncate_complete_page removes a page whether or not it is mapped: a
fault that maps a page after unmap_mapping_range has passed leaves a pte
to a page that is no longer in the file (the race the recheck exists
for; Piggin's mail credits Andrea Arcangeli with the variant inside
i_size, which the recheck cannot catch). Under Piggin's design (d00806b18315, 2.6.23;
<20070113011556.9479.64086.sendpatchset@linux.site>)
the fault holds the page lock until its pte is set, and truncate, holding
the same lock, unmaps a page it finds mapped before removing it
(truncate_inode_page's single-page unmap_mapping_range); vmtruncate calls
unmap_mapping_range a second time after truncate_inode_pages (for COWed
private pages, which the model does not have).

Simplifications: i_mutex and i_alloc_sem are taken uncontended (no other
truncater, writer or O_DIRECT in the model) and are not drawn; no partial
page (sizes are whole pages); no ->truncate of the filesystem's blocks;
pages past the new end that were never looked at (``cached_pages`` not yet
touched) vanish with no per-page cost.

Recorded: ``truncate_start`` (old, new size in pages), ``unmap_range``
(truncate_count after the bump, ptes zapped), ``truncate_wait`` /
``truncate_got`` (pass 2 sleeping for a page's lock), ``truncate_page``
(a page removed), ``truncate_end``.
"""
from __future__ import annotations

from .pagecache import lock_page, trylock_page, unlock_page


def do_truncate(k, task, new_pages):
    """ftruncate(fd, new_pages pages): the whole of vmtruncate, shrinking only."""
    cache = k.cache
    yield k.cpu(k.costs.syscall_entry_us + k.costs.truncate_us)
    k.rec.emit(task.name, "truncate_start", old=cache.i_size, new=new_pages)
    cache.i_size = min(cache.i_size, new_pages)          # i_size_write
    unmap_mapping_range(k, task, new_pages)
    yield from truncate_inode_pages(k, task, new_pages)
    if k.policy.truncate_guard(None) == "page_lock":
        unmap_mapping_range(k, task, new_pages)          # d00806b18315's second call
    k.rec.emit(task.name, "truncate_end")


def unmap_mapping_range(k, task, first_pgoff, only=None):
    """Bump truncate_count, then zap the file's ptes at pgoff >= first_pgoff
    (or, with ``only``, of that one page)."""
    cache = k.cache
    cache.truncate_count += 1                            # "Protect against page faults"
    zapped = 0
    for vma in k.mm.vmas:
        if vma.kind != "file":
            continue
        for address in [a for a in k.mm.ptes if vma.start <= a < vma.end]:
            pgoff = vma.pgoff + (address - vma.start)
            if pgoff >= first_pgoff and (only is None or pgoff == only):
                page = k.mm.ptes.pop(address)
                page.mapcount -= 1
                page.count -= 1
                zapped += 1
    k.rec.emit(task.name, "unmap_range", truncate_count=cache.truncate_count, zapped=zapped)


def truncate_inode_pages(k, task, first):
    """mm/truncate.c truncate_inode_pages_range, from page ``first`` to the end."""
    cache = k.cache
    for index in sorted(i for i in cache.pages if i >= first):       # pass 1: never blocks
        page = cache.pages[index]
        if not trylock_page(page):
            continue
        yield from truncate_complete_page(k, task, page)
        unlock_page(page)
    cache.preloaded = min(cache.preloaded, first)       # the untouched cached pages go too
    while True:                                          # pass 2: lock_page, wait if need be
        rest = sorted(i for i in cache.pages if i >= first)
        if not rest:
            return
        page = cache.pages[rest[0]]
        if not trylock_page(page):
            k.rec.emit(task.name, "truncate_wait", page=page.index)
            yield from lock_page(k.env, page)
            yield k.cpu(k.costs.wakeup_us)
            k.rec.emit(task.name, "truncate_got", page=page.index)
        yield from truncate_complete_page(k, task, page)
        unlock_page(page)


def truncate_complete_page(k, task, page):
    """Remove one page, which we hold locked, from the cache. Under the page-lock
    protocol a mapped page is unmapped first; 2.6.18 does not look, and a mapped
    page here is the race the truncate_count recheck exists for."""
    yield k.cpu(k.costs.truncate_page_us)
    if not page.in_cache:                                # page->mapping != mapping: gone already
        return
    if page.mapcount:
        if k.policy.truncate_guard(None) == "page_lock":
            unmap_mapping_range(k, task, page.index, only=page.index)   # truncate_inode_page's unmap
        else:
            k.policy.truncate_mapped_page(k, task, page)   # a ModelBug unless broken on purpose
    k.cache.remove(page)
    k.rec.emit(task.name, "truncate_page", page=page.index)
