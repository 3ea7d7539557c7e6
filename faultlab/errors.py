"""The two kinds of error faultlab raises, and whose fault each is.

Blame is explicit, as in xv6: a broken invariant of the model is our bug
(``ModelBug``, never a result to report); a value a user gave that the
model cannot run is theirs (``InputError``, a ``ValueError`` whose message
names the field and what is allowed). A simulated process's bad access is
neither: it is a result (SIGBUS, SIGSEGV) in the record.
"""
from __future__ import annotations


class ModelBug(AssertionError):
    """An invariant of the model broke: a bug in faultlab, never a result."""


class InputError(ValueError):
    """A value the model cannot run, with the field named and what is allowed."""
