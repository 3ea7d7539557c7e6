"""A recorded run shipped with the package, for machines that cannot run it.

``record(path_out)`` runs :func:`faultlab.kernel_lab.measure` for both
paths with the same parameters and writes one JSON file (by default
``kernel_lab_recorded.json`` in the current directory, never inside the
installed package); ``faultlab/data/kernel_lab_recorded.json`` was made that
way and copied there (Linux release, date and parameters are inside).  ``load_recorded()`` reads it back as
:class:`~.result.LabResult` objects keyed by path, so notebooks can plot the
real timelines anywhere.

:func:`write_doc` and :func:`read_doc` are the one way a lab recording is
written (atomically, compact JSON) and read back (its ``format`` checked);
the two-thread benchmark's recordings (:mod:`.two_thread`) use them too.
"""
from __future__ import annotations

import datetime
import json
import os

from .result import FORMAT, LabResult

DEFAULT_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            "data", "kernel_lab_recorded.json")
OUT_NAME = "kernel_lab_recorded.json"     # record()'s default, in the current directory


def out_path(path_out, default_name: str) -> str:
    """Where a recording goes: ``path_out`` (a directory gets ``default_name`` inside it),
    or ``default_name`` in the current directory."""
    out = os.path.abspath(os.fspath(path_out) if path_out is not None else default_name)
    return os.path.join(out, default_name) if os.path.isdir(out) else out


def write_doc(out: str, doc: dict) -> dict:
    """Write ``doc`` to ``out`` as one line of compact JSON, atomically (a reader never
    sees half a file); returns ``doc``."""
    tmp = f"{out}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    os.replace(tmp, out)
    return doc


def read_doc(path, default: str, fmt: str, what: str) -> dict:
    """The recording at ``path`` (``default`` if None), refused unless its ``format`` is ``fmt``."""
    src = os.fspath(path) if path is not None else default
    with open(src) as f:
        doc = json.load(f)
    if doc.get("format") != fmt:
        raise ValueError(f"format: {src} is not {what} "
                         f"(expected {fmt!r}, got {doc.get('format')!r})")
    return doc


def record(path_out: str | os.PathLike | None = None, delay_ms: int = 300,
           third_reader=True, tracepoints="auto", **kwargs) -> dict:
    """Measure both paths here and write them to ``path_out`` (JSON; default
    ``kernel_lab_recorded.json`` in the current directory).

    Returns the dict that was written.  ``kwargs`` go to ``measure``.
    """
    from . import measure          # the package imports this module: a cycle otherwise

    out = out_path(path_out, OUT_NAME)
    runs = {}
    for p in ("fault", "procmem"):
        runs[p] = measure(path=p, delay_ms=delay_ms, third_reader=third_reader,
                          tracepoints=tracepoints, **kwargs).to_dict()
    doc = {
        "format": FORMAT,
        "what": "faultlab kernel lab: one slow page (FUSE read sleeping delay_ms) "
                "touched by an ordinary fault and by a /proc/self/mem read, "
                "with a writer looping mmap/munmap and a third reader",
        "kernel": os.uname().release,
        "machine": os.uname().machine,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "params": {"delay_ms": delay_ms, "third_reader": runs["fault"]["third_reader"],
                   "tracepoints": tracepoints, **kwargs},
        "runs": runs,
    }
    return write_doc(out, doc)


def load_recorded(path: str | os.PathLike | None = None) -> dict[str, LabResult]:
    """The shipped run: ``{"fault": LabResult, "procmem": LabResult}``."""
    doc = read_doc(path, DEFAULT_PATH, FORMAT, "a kernel lab recording")
    return {p: LabResult.from_dict(d) for p, d in doc["runs"].items()}
