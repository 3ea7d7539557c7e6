"""The 2.6.18 fault call chain, its arguments, and what a struct would save.

Morton's pagefault_args proposal (<20060915001151.75f9a71b.akpm@osdl.org>)
promised "less code, faster code and less stack consumption": every
function on the path takes one pointer instead of four to six arguments.
This module lays the chain out as it was in 2.6.18 and counts, per call,
how many arguments go on the stack under

* i386 with regparm(3) (CONFIG_REGPARM in 2.6.18; unconditional from
  2.6.20): the first three integer/pointer arguments in eax, edx, ecx,
  the rest pushed, 4 bytes each;
* x86-64 (System V ABI): six integer/pointer arguments in rdi, rsi, rdx,
  rcx, r8, r9, the rest pushed, 8 bytes each.

Signatures paraphrased from the 2.6.18 sources named in ``CHAIN``. A
function marked ``inline`` is not a real call in the built kernel
(handle_mm_fault is an inline wrapper in include/linux/mm.h,
handle_pte_fault is ``static inline``): it passes nothing on the stack.
do_page_fault is entered from the exception stub with its two arguments
set up by the entry code, so it is listed but not counted as a call.
"""
from __future__ import annotations

from dataclasses import dataclass

ABIS = {"i386 regparm(3)": (3, 4), "x86-64": (6, 8)}   # registers, bytes per stacked argument


@dataclass(frozen=True)
class Call:
    name: str
    where: str
    args: tuple
    inline: bool = False
    entry: bool = False
    hook: bool = False        # called through a function pointer: every implementation shares the signature


CHAIN = (
    Call("do_page_fault", "arch/i386/mm/fault.c:328", ("struct pt_regs *regs", "unsigned long error_code"),
         entry=True),
    Call("handle_mm_fault", "include/linux/mm.h:744",
         ("struct mm_struct *mm", "struct vm_area_struct *vma", "unsigned long address", "int write_access"),
         inline=True),
    Call("__handle_mm_fault", "mm/memory.c:2321",
         ("struct mm_struct *mm", "struct vm_area_struct *vma", "unsigned long address", "int write_access")),
    Call("handle_pte_fault", "mm/memory.c:2264",
         ("struct mm_struct *mm", "struct vm_area_struct *vma", "unsigned long address", "pte_t *pte",
          "pmd_t *pmd", "int write_access"), inline=True),
    Call("do_no_page", "mm/memory.c:2090",
         ("struct mm_struct *mm", "struct vm_area_struct *vma", "unsigned long address",
          "pte_t *page_table", "pmd_t *pmd", "int write_access")),
    Call("filemap_nopage (vma->vm_ops->nopage)", "mm/filemap.c:1357",
         ("struct vm_area_struct *area", "unsigned long address", "int *type"), hook=True),
)

# What the struct would carry: everything the chain passes today, once.
PAGEFAULT_ARGS_FIELDS = ("struct mm_struct *mm", "struct vm_area_struct *vma", "unsigned long address",
                         "pte_t *pte", "pmd_t *pmd", "unsigned int flags (write, ALLOW_RETRY, TRIED)",
                         "int type (MINOR/MAJOR)", "int page_locked")


def stacked(n_args: int, abi: str) -> int:
    """Bytes of arguments pushed for one call with ``n_args`` arguments."""
    regs, size = ABIS[abi]
    return max(n_args - regs, 0) * size


def chain_table(after: bool = False):
    """One row per function: its arguments and the bytes each ABI pushes for the
    call. ``after=True``: every function takes just ``struct pagefault_args *``."""
    rows = []
    for c in CHAIN:
        args = ("struct pagefault_args *args",) if after and not c.entry else c.args
        counted = not (c.inline or c.entry)
        row = {"function": c.name, "where": c.where, "n_args": len(args), "args": ", ".join(args),
               "call": "entry" if c.entry else ("inline" if c.inline else "call")}
        for abi in ABIS:
            row[abi] = stacked(len(args), abi) if counted else 0
        rows.append(row)
    return rows


def stack_totals():
    """Argument bytes pushed along the whole chain, before and after, per ABI;
    and the struct's own size, which lives once in do_page_fault's frame."""
    out = {}
    for abi, (_, size) in ABIS.items():
        before = sum(r[abi] for r in chain_table(after=False))
        after = sum(r[abi] for r in chain_table(after=True))
        out[abi] = {"pushed_before": before, "pushed_after": after,
                    "struct_bytes": len(PAGEFAULT_ARGS_FIELDS) * size,
                    "arg_words_before": sum(r["n_args"] for r in chain_table(False) if r["call"] == "call"),
                    "arg_words_after": sum(r["n_args"] for r in chain_table(True) if r["call"] == "call")}
    return out


def carry(source: str, sink: str, struct: bool = False) -> list:
    """The calls whose parameter lists must grow for one more per-fault value to
    travel between ``source`` and ``sink`` (function names on ``CHAIN``).

    Going down, every function below ``source`` down to ``sink`` takes it as a
    new argument; going up, from a callee to a caller, every function below the
    caller down to the callee takes a new out-pointer (as ->nopage's ``int
    *type`` does). A ``hook`` in the list means every implementation changes
    too. With ``struct``, none: the value is a new field of the struct that
    every call already passes."""
    names = [c.name.split()[0] for c in CHAIN]
    for name in (source, sink):
        if name not in names:
            raise ValueError(f"{name!r} is not on the chain; the functions are {', '.join(names)}")
    lo, hi = sorted((names.index(source), names.index(sink)))
    return [] if struct else list(CHAIN[lo + 1:hi + 1])


def format_chain(after: bool = False) -> str:
    rows = chain_table(after)
    lines = [f"{'function':<38}{'args':>5}{'i386 push':>11}{'x86-64 push':>13}  kind"]
    for r in rows:
        lines.append(f"{r['function']:<38}{r['n_args']:>5}{r['i386 regparm(3)']:>11}{r['x86-64']:>13}  {r['call']}")
    return "\n".join(lines)
