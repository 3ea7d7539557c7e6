"""The designs of the story, one small module each, looked up by name.

    sync                2.6.18 as released: mmap_sem held across the disk wait
    nopage_retry        Google's 2006 patch: drop, wait, retake, rerun once (task flag)
    retry_unlimited     the same, retrying every time (no livelock guard)
    pagefault_args      nopage_retry with its state in a per-fault struct
    seqcount            Morton's "better way": revalidate with an mm sequence counter
    seqcount_unchecked  the same without the check (a stale-VMA bug, for teaching)
    single_user_sync    Morton's "simple way": synchronous when the mm has one user
    vm_fault_retry      Linux 2.6.37: FAULT_FLAG_ALLOW_RETRY, lock_page_or_retry, once
    multi_retry         Linux 5.7 (+5.1): retry any number of times, drop the lock only the first
    per_vma_lock        Linux 6.8: file read faults under a per-VMA lock
    refault             Herrenschmidt's NOPAGE_REFAULT in filemap_nopage: back to user space, fault again
    page_flag_retry     Morton's "otoh": the retry-once marker as a bit in page->flags
    lock_page_nopage    Piggin's lock-the-page (2.6.23): the page lock, not truncate_count, stops truncate
    truncate_unchecked  2.6.18 without the truncate_count recheck (maps a truncated page, for teaching)

Every module of this package is imported here, and each registers its
class with ``@register``: a new design is a new module, nothing else. The
registry lists the designs in the order the notebooks introduce them
(``notebook``, then ``year``, then name). What a policy may override is
the contract in base.py.

Read two side by side with ``inspect.getsource(type(POLICIES["sync"]))``.
"""
from __future__ import annotations

import importlib
import pkgutil

POLICIES: dict = {}


def register(cls):
    """Class decorator: put one instance of the policy in the registry."""
    if not cls.name or cls.name in POLICIES:
        raise ValueError(f"policy name {cls.name!r} is empty or taken")
    POLICIES[cls.name] = cls()
    return cls


def get_policy(name: str):
    try:
        return POLICIES[name]
    except KeyError:
        raise ValueError(f"policy: unknown policy {name!r}; choose one of {', '.join(POLICIES)}") from None


def rwsem_rules(scenario) -> str:
    """The rwsem rules a run uses: the scenario's pick, else its policy's era
    ("2.6.18" for the 2006 designs and 2.6.37, "modern" for 5.7 and later)."""
    return scenario.rwsem or get_policy(scenario.policy).era


def _story_order(policy) -> tuple:
    return (policy.notebook, policy.year, policy.name)


MODULES = tuple(m.name for m in pkgutil.iter_modules(__path__) if m.name != "base")
for _module in MODULES:
    importlib.import_module(f"{__name__}.{_module}")
_ordered = sorted(POLICIES.items(), key=lambda item: _story_order(item[1]))
POLICIES.clear()
POLICIES.update(_ordered)
del _module, _ordered
