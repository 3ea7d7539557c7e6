"""Script: a thread that runs a fixed list of steps, for teaching scenarios."""
from __future__ import annotations

import numbers
from dataclasses import dataclass

from ..fault import do_page_fault
from ..mm import DRIVER_BASE
from ..schema import MAX_TIME_US, name, refuse, start
from ..syscalls import sys_mmap_anon, sys_mmap_file, sys_mprotect_anon, sys_munmap_anon, sys_munmap_file
from . import ThreadKind, op_done, op_start, register, touch


def _think(k, task, us):
    yield k.env.timeout(us)


def _touch(k, task, page):
    yield from touch(k, task, page)


def _gup(k, task, page):
    yield from touch(k, task, page, via="gup")


def _touch_pinned(k, task, page):
    yield from do_page_fault(k, task, DRIVER_BASE + page)


def _map_driver(k, page):
    """One driver mapping per pinned page (see fault.driver_nopage)."""
    vma = k.mm.find_vma(DRIVER_BASE + page)
    if vma is None or vma.start != DRIVER_BASE + page:
        k.mm.insert_vma(DRIVER_BASE + page, DRIVER_BASE + page + 1, "driver", pgoff=page)


class Step:
    """One kind of script step: its argument (None, "us" or "page"), what it
    does, and what it needs mapped before the run (``setup(k, arg)``)."""

    __slots__ = ("arg", "run", "setup", "meaning")

    def __init__(self, arg, run, meaning, setup=None):
        self.arg, self.run, self.meaning, self.setup = arg, run, meaning, setup

    def usage(self, name) -> str:
        return f"({name!r}, {self.arg})" if self.arg else f"({name!r},)"


STEPS = {
    "think": Step("us", _think, "user time"),
    "touch": Step("page", _touch, "load from file page (a fault if not mapped)"),
    "gup": Step("page", _gup, "read the page via get_user_pages under mmap_sem (/proc/self/mem, O_DIRECT)"),
    "touch_pinned": Step("page", _touch_pinned, "load from a driver mapping whose ->nopage pins file page "
                         "with get_user_pages (see fault.driver_nopage)", setup=_map_driver),
    "munmap_file": Step(None, sys_munmap_file, "unmap the file mapping"),
    "remap_file": Step(None, sys_mmap_file, "map the file again at the same address (a new VMA)"),
    "mmap": Step(None, sys_mmap_anon, "mmap one anonymous page"),
    "munmap": Step(None, sys_munmap_anon, "munmap it"),
    "mprotect": Step(None, sys_mprotect_anon, "mprotect it"),
}


@register
@dataclass(frozen=True, slots=True)
class Script(ThreadKind):
    """A thread that runs a fixed list of steps, for teaching scenarios.

    Steps are tuples, one of ``STEPS``:
      ("think", us)            user time
      ("touch", page)          load from file page ``page`` (a fault if not mapped)
      ("gup", page)            read it via get_user_pages under mmap_sem (/proc/self/mem, O_DIRECT)
      ("touch_pinned", page)   load from a driver mapping whose ->nopage pins file page ``page``
                               with get_user_pages (see fault.driver_nopage)
      ("munmap_file",)         unmap the file mapping
      ("remap_file",)          map the file again at the same address (a new VMA)
      ("mmap",) ("munmap",) ("mprotect",)   one anonymous-page syscall
    One op is one step.
    """

    name: str = name("script")
    steps: tuple = ()
    start_us: float = start()

    def check(self, s) -> None:
        p = self.where
        if not isinstance(self.steps, (tuple, list)):
            raise refuse(f"{p}.steps", f"must be a tuple of steps such as ('touch', 5), got {self.steps!r}")
        for i, step in enumerate(self.steps):
            where = f"{p}.steps[{i}]"
            if not isinstance(step, tuple) or not step or not isinstance(step[0], str) \
                    or step[0] not in STEPS or len(step) != 1 + bool(STEPS[step[0]].arg):
                raise refuse(where, f"{step!r} is not a step; steps are "
                             + ", ".join(st.usage(name) for name, st in STEPS.items()))
            arg = STEPS[step[0]].arg
            if arg == "us":
                v = step[1]
                if isinstance(v, bool) or not isinstance(v, numbers.Real) or not 0 <= v <= MAX_TIME_US:
                    raise refuse(where, f"{step!r}: the time must be a number of us from 0 to {MAX_TIME_US:.0f}, "
                                 f"got {v!r}")
            elif arg == "page":
                v = step[1]
                if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                    raise refuse(where, f"{step!r}: the page must be a whole number, got {v!r}")
                if not 0 <= v < s.file_pages:
                    raise refuse(where, f"{step!r}: page {v} is outside the file (0..{s.file_pages - 1})")

    def __post_init__(self):
        super(Script, self).__post_init__()
        if isinstance(self.steps, (tuple, list)):      # numpy scalars in steps become Python numbers
            object.__setattr__(self, "steps", tuple(
                tuple(int(x) if isinstance(x, numbers.Integral) and not isinstance(x, bool) else x for x in st)
                if isinstance(st, tuple) else st for st in self.steps))

    def max_ops(self, s) -> float:
        return len(self.steps)

    def setup(self, k) -> None:
        for name, arg in sorted({step[:2] for step in self.steps if STEPS[step[0]].setup is not None}):
            STEPS[name].setup(k, arg)

    def body(self, k, task):
        for step in self.steps:
            op_start(task)
            yield from STEPS[step[0]].run(k, task, *step[1:])
            op_done(task)
