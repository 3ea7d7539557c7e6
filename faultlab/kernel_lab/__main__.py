"""Command line: ``python -m faultlab.kernel_lab {available,measure,record,benchmark}``.

Errors print one line and exit 2; output cut short by the reader (``... | head``)
ends quietly.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from . import LabError, available, measure, record
from . import two_thread
from .recorded import OUT_NAME


def _list(allowed, what):
    def parse(text):
        items = list(allowed) if text == "all" else text.split(",")
        bad = [x for x in items if x not in allowed]
        if bad or not items:
            raise argparse.ArgumentTypeError(
                f"{what}: {text!r}; use one of {', '.join(allowed)}, a comma list, or all")
        return items
    return parse


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors on one line (exit 2)."""

    def error(self, message):
        self.exit(2, f"error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="python -m faultlab.kernel_lab",
                                 description="Measure the mmap lock convoy on this kernel")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("available", help="can the live experiment run here?")
    m = sub.add_parser("measure", help="run once and print the summary as JSON")
    m.add_argument("--path", choices=("fault", "procmem"), default="procmem")
    m.add_argument("--delay-ms", type=int, default=300)
    m.add_argument("--third-reader", default="mincore",
                   help="mincore, madvise, procmem or none")
    m.add_argument("--tracepoints", choices=("auto", "on", "off"), default="auto")
    r = sub.add_parser("record", help="measure both paths and write a JSON recording")
    r.add_argument("out", nargs="?", default=None,
                   help=f"output file (default: {OUT_NAME} in the current directory)")
    r.add_argument("--delay-ms", type=int, default=300)
    b = sub.add_parser("benchmark", help="the two-thread benchmark: a reader of a slow file "
                                         "beside an mmap/munmap loop, with its twin's ratios")
    b.add_argument("--path", type=_list(two_thread.PATHS, "--path"), default=["procmem"],
                   help="procmem, fault, a comma list or all (default procmem)")
    b.add_argument("--cpus", type=_list(two_thread.PLACEMENTS, "--cpus"), default=["split"],
                   help="split, same, free, a comma list or all (default split)")
    b.add_argument("--disk-ms", type=int, default=18)
    b.add_argument("--seconds", type=float, default=5.0)
    b.add_argument("--tracepoints", choices=("auto", "on", "off"), default="off")
    b.add_argument("--json", action="store_true", help="print the summaries as JSON")
    b.add_argument("--record", metavar="FILE", default=None,
                   help="also write the runs to FILE (JSON, loadable with load_recorded_runs)")
    return ap


def _bench_line(s: dict) -> str:
    t = s.get("twin") or {}
    twin = ("twin: absent (" + t["absent"] + ")") if "absent" in t else (
        f"twin: mapper {t['mapper_per_s']:.1f}/s (x{t['mapper_ratio']}), "
        f"reader {t['reader_per_s']:.1f}/s (x{t['reader_ratio']})")
    lat = s["mapper_latency_us"]
    return (f"{s['path']:<8}{s['cpus']:<6} reader {s['reader_per_s']:7.1f}/s "
            f"(alone {s['reader_alone_per_s']})  mapper {s['mapper_per_s']:10.1f}/s "
            f"(alone {s['mapper_alone_per_s']})  longest {s['mapper_max_ms']:.1f} ms  "
            f"p50 {lat.get('p50')} us p99 {lat.get('p99')} us  "
            f"FUSE reads/access {s['reads_per_access']}  {twin}")


def main(argv=None) -> int:
    a = _parser().parse_args(argv)
    if a.cmd == "available":
        ok, why = available()
        print(why)
        return 0 if ok else 1
    tp = {"auto": "auto", "on": True, "off": False}[a.tracepoints] if "tracepoints" in a else None
    try:
        if a.cmd == "measure":
            third = None if a.third_reader == "none" else a.third_reader
            res = measure(path=a.path, delay_ms=a.delay_ms, third_reader=third or False,
                          tracepoints=tp)
            print(json.dumps(res.summary(), indent=2))
        elif a.cmd == "record":
            doc = record(a.out, delay_ms=a.delay_ms)
            print(json.dumps({p: d["summary"] for p, d in doc["runs"].items()}, indent=2))
        else:
            runs = []
            for path in a.path:
                for cpus in a.cpus:
                    r = two_thread.benchmark(path=path, disk_ms=a.disk_ms, seconds=a.seconds,
                                             cpus=cpus, tracepoints=tp)
                    runs.append(r)
                    s = r.summary()
                    if a.json:
                        print(json.dumps(s, indent=2))
                    else:
                        print(_bench_line(s), flush=True)
            if a.record:
                two_thread.record_runs(runs, a.record)
    except (ValueError, LabError, OSError) as e:
        if isinstance(e, BrokenPipeError):
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def _quiet_on_broken_pipe(fn, *args) -> int:
    """Run ``fn``; if the reader of our output went away, end without a traceback."""
    try:
        rc = fn(*args)
        sys.stdout.flush()
        return rc
    except BrokenPipeError:
        # Python flushes stdout again at exit: point it at /dev/null first
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(_quiet_on_broken_pipe(main))
