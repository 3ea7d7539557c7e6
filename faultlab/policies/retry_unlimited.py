"""retry_unlimited: NOPAGE_RETRY without the once-only limit.

What "always retry" means with none of the guards Ben Herrenschmidt
proposed (signal_pending, need_resched, pte_present), 20 Sep 2006.
Morton's reply the same day (<20060920105317.7c3eb5f4.akpm@osdl.org>):
a process looping FADV_DONTNEED over the page can drop it between the
end of the read and the rerun's lookup, every time, and the fault never
finishes. The model shows exactly that (fadvise_dos).
"""
from . import register
from .nopage_retry import NopageRetry


@register
class RetryUnlimited(NopageRetry):
    name = "retry_unlimited"
    kernel = "2.6.18 + NOPAGE_RETRY, every time"
    source = "<20060920105317.7c3eb5f4.akpm@osdl.org> (the livelock)"
    summary = "like nopage_retry, but the flag is never cleared: retry every time"
    notebook = "03_livelock"
    year = 2006
    once = False
