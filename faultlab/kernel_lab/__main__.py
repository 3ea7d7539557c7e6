"""Command line: ``python -m faultlab.kernel_lab {available,measure,record}``."""
from __future__ import annotations

import argparse
import json
import sys

from . import LabError, available, measure, record


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m faultlab.kernel_lab",
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
                   help="output file (default: faultlab/data/kernel_lab_recorded.json)")
    r.add_argument("--delay-ms", type=int, default=300)
    a = ap.parse_args(argv)

    if a.cmd == "available":
        ok, why = available()
        print(why)
        return 0 if ok else 1
    try:
        if a.cmd == "measure":
            third = None if a.third_reader == "none" else a.third_reader
            tp = {"auto": "auto", "on": True, "off": False}[a.tracepoints]
            res = measure(path=a.path, delay_ms=a.delay_ms, third_reader=third or False,
                          tracepoints=tp)
            print(json.dumps(res.summary(), indent=2))
        else:
            doc = record(a.out, delay_ms=a.delay_ms)
            print(json.dumps({p: d["summary"] for p, d in doc["runs"].items()}, indent=2))
    except (ValueError, LabError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
