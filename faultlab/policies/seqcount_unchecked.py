"""seqcount_unchecked: seqcount without the check -- broken on purpose.

After retaking mmap_sem it carries on with the VMA it found before the
wait. If a munmap (or an mmap over the same range) ran meanwhile, that VMA
is gone and the fault maps the page through a stale pointer: in a kernel,
a use-after-free. The model does not raise: it records the bug in
``summary()["kernel_bugs"]`` so the notebook can show it happen.
"""
from . import register
from .seqcount import Seqcount


@register
class SeqcountUnchecked(Seqcount):
    name = "seqcount_unchecked"
    kernel = "a broken variant, for teaching"
    source = "seqcount without its check"
    summary = "seqcount that never looks at the counter (maps into stale VMAs)"
    notebook = "05_seqcount"
    year = 2006
    check = False
    injects_bugs = True
