"""single_user_sync: Morton's "simple way".

Morton, 15 Sep 2006 (<20060915001151.75f9a71b.akpm@osdl.org>): if no
other thread shares this mm_struct, nobody can be waiting for its
mmap_sem, so just read synchronously inside it; otherwise retry once.
Linus asked Ying Han the same in April 2009: skip the RETRY path when
mm_users == 1 (Message-ID beginning <alpine.LFD.2.00.0904131254480, cut
short in the archive). Morton's caveat the same day: the simple way assumes
no other process works on a single-threaded mm; the one exception he
could name, access_process_vm (ptrace, /proc/pid/mem), takes its
mmap_sem only for read, and Hugh Dickins agreed that is harmless.
"""
from . import register
from .nopage_retry import NopageRetry


@register
class SingleUserSync(NopageRetry):
    name = "single_user_sync"
    kernel = "2.6.18 + Morton's simple way (proposal)"
    source = "<20060915001151.75f9a71b.akpm@osdl.org>"
    summary = "synchronous when the mm has one user, retry once otherwise"
    notebook = "05_seqcount"
    year = 2006

    def fault_begin(self, k, f):
        if k.mm.users > 1:
            super().fault_begin(k, f)
