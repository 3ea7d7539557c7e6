"""The lab's exceptions: each message is one line naming what went wrong."""
from __future__ import annotations


class LabError(RuntimeError):
    """The experiment started but could not finish cleanly."""


class LabUnavailable(LabError):
    """This machine cannot run the live experiment (the reason says why).

    Raised for: not Linux, FUSE missing (no libfuse3, no fusermount3, no
    mfusepy), no /dev/fuse, no permission to mount, no readable
    /proc/self/mem.
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class LabTimeout(LabError):
    """A wait ran past its deadline; the lab aborted and cleaned up."""
