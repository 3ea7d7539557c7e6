"""Command line: ``python -m faultlab list | run | bench | figures``.

``run`` echoes every parameter first as ``ARG name value`` lines (as the
OSTEP homework simulators do), then prints a summary table, or the JSON
summary with ``--json``. A bad argument ends the program with one line on
stderr and exit status 2, never a traceback; the line names the option
the user typed (``--until-ms``, or the NAME of ``--set NAME=VALUE``) and
says what is allowed (from ``workloads.PARAMS``). Output cut short by a
closed pipe (``| head``) ends quietly.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

from .errors import InputError
from .policies import POLICIES, rwsem_rules
from .schema import refuse
from .workloads import PARAMS, PRESETS, get_preset

OPTIONS = {"policy": "--policy", "seed": "--seed", "until_ms": "--until-ms", "preset": "--preset"}


class CliError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise CliError(message)


def parse_value(name, text):
    """Turn ``--set name=text`` into a value of the parameter's type and range."""
    return PARAMS[name].check(name, PARAMS[name].parse(name, text))


def renamed(error: InputError, typed: dict) -> InputError:
    """``error`` naming the option the user typed for its field, if any."""
    field, _, rest = str(error).partition(": ")
    return refuse(typed[field], rest) if field in typed else error


def build_scenario(preset_name, policy, sets, seed, until_ms):
    """The preset's scenario and its parameters; errors name what the user typed."""
    try:
        fn = get_preset(preset_name)
    except InputError as e:
        raise renamed(e, OPTIONS) from None
    params = {}
    for item in sets:
        if "=" not in item:
            raise refuse("--set", f"expected NAME=VALUE, got {item!r}")
        name, text = item.split("=", 1)
        if name not in fn.parameters:
            raise refuse(name, f"{preset_name} takes no parameter {name!r}; it takes {', '.join(fn.parameters)}")
        params[name] = parse_value(name, text)
    typed = {}
    for name, value in (("policy", policy), ("seed", seed), ("until_ms", until_ms)):
        if value is not None:
            params[name] = PARAMS[name].check(OPTIONS[name], value)
            typed[name] = OPTIONS[name]
    try:
        scenario = fn(**params)
        scenario.check()
    except InputError as e:
        raise renamed(e, typed) from None
    return scenario, {**fn.parameters, **params}


def summary_table(s) -> str:
    f, sc = s["faults"], s["syscalls"]
    lines = [f"policy {s['policy']}  rwsem rules {s['rwsem']}  seed {s['seed']}  until {s['until_ms']} ms",
             f"faults    completed {f['completed']}  major {f['major']}  retries {f['retries']}  "
             f"unfinished {f['unfinished']}  max attempts {f['max_attempts']}",
             "          outcomes    " + "  ".join(f"{k} {v}" for k, v in sorted(f["outcomes"].items())),
             "          latency ms  " + "  ".join(f"{k} {v}" for k, v in f["latency_ms"].items()),
             f"syscalls  completed {sc['completed']}",
             "          wait ms     " + "  ".join(f"{k} {v}" for k, v in sc["wait_ms"].items()),
             f"mmap_sem  held across I/O {s['mmap_sem']['held_across_io_ms']} ms  "
             f"max queue {s['mmap_sem']['max_queue']}",
             f"redone walks {s['redone_walks']}  kernel bugs {len(s['kernel_bugs'])}",
             "thread        completed     ops/s  unfinished"]
    for name, t in s["threads"].items():
        lines.append(f"{name:<12}{t['completed']:>11}{t['ops_per_s']:>10.1f}{t['unfinished']:>12}")
    for sig in s.get("signals", ()):
        fate = (f"died at {sig['died_ms']} ms ({sig['where']})" if sig["died_ms"] is not None
                else "never died")
        lines.append(f"SIGKILL   to {sig['thread']} at {sig['sent_ms']} ms: {fate}")
    for b in s["kernel_bugs"]:
        lines.append(f"KERNEL BUG at {b['t_us']:.1f} us in {b['task']}: {b['bug']}")
    return "\n".join(lines)


def cmd_list(args):
    print("policies:")
    for name, p in POLICIES.items():
        print(f"  {name:<20} {p.kernel:<34} {p.summary}")
    print("presets (set a parameter with --set NAME=VALUE):")
    for name, fn in PRESETS.items():
        print(f"  {name}")
        for pname, default in fn.parameters.items():
            print(f"      {pname} = {default!r}    {PARAMS[pname].allowed()}")
    return 0


def cmd_run(args):
    from .sim import run
    scenario, params = build_scenario(args.preset, args.policy, args.set, args.seed, args.until_ms)
    if not args.json:
        print(f"ARG preset {args.preset}")
        for name, value in params.items():
            if name != "rwsem":
                print(f"ARG {name} {value}")
        chosen = "chosen" if scenario.rwsem else f"the era of {scenario.policy}"
        print(f"ARG rwsem {rwsem_rules(scenario)} ({chosen})")
        for f in dataclasses.fields(scenario.costs):
            print(f"ARG costs.{f.name} {getattr(scenario.costs, f.name)}")
    from .progress import bar          # the events are kept only for --trace; a long run shows progress
    result = run(scenario, keep_events=bool(args.trace), progress=bar())
    if args.json:
        print(json.dumps(result.summary(), indent=2, sort_keys=True))
    else:
        print()
        print(summary_table(result.summary()))
        if args.trace:
            print()
            print("\n".join(result.trace_lines(limit=args.trace)))
    return 0


def cmd_bench(args):
    from .bench import main as bench_main
    return bench_main(repeat=args.repeat, memory=not args.quick)


def cmd_figures(args):
    from .figures import make_figures
    try:
        paths = make_figures(args.out)
    except OSError as e:
        raise refuse("--out", f"cannot write the figures to {args.out!r}: {e.strerror or e}") from None
    for path in paths:
        print(path)
    return 0


def count_arg(low, high):
    """An argparse type: a whole number from ``low`` to ``high``."""
    def parse(text):
        try:
            n = int(text)
        except ValueError:
            n = None
        if n is None or not low <= n <= high:
            raise argparse.ArgumentTypeError(f"must be a whole number from {low} to {high}, got {text!r}")
        return n
    return parse


def set_help() -> str:
    names = sorted({n for fn in PRESETS.values() for n in fn.parameters})
    return "a preset parameter (python -m faultlab list shows each preset's): " + "; ".join(
        f"{n}: {PARAMS[n].allowed()}" for n in names)


def make_parser():
    p = _Parser(prog="python -m faultlab", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    sub.add_parser("list", help="policies, presets and their parameters").set_defaults(fn=cmd_list)
    r = sub.add_parser("run", help="run one preset and print its summary")
    r.add_argument("--preset", default="two_thread")
    r.add_argument("--policy")
    r.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help=set_help())
    r.add_argument("--seed", type=int, help=PARAMS["seed"].allowed())
    r.add_argument("--until-ms", type=float, dest="until_ms", help=PARAMS["until_ms"].allowed())
    r.add_argument("--json", action="store_true")
    r.add_argument("--trace", type=count_arg(0, 10 ** 9), default=0, metavar="N",
                   help="also print the first N trace lines")
    r.set_defaults(fn=cmd_run)
    b = sub.add_parser("bench", help="simulated faults per second against raw SimPy")
    b.add_argument("--repeat", type=count_arg(1, 100), default=3, help="best of how many runs (1 to 100)")
    b.add_argument("--quick", action="store_true", help="leave out the memory figures (two long runs)")
    b.set_defaults(fn=cmd_bench)
    f = sub.add_parser("figures", help="regenerate the lecture figures")
    f.add_argument("--out", default="figures")
    f.set_defaults(fn=cmd_figures)
    return p


def main(argv=None) -> int:
    try:
        args = make_parser().parse_args(argv)
        code = args.fn(args)
        sys.stdout.flush()                # a closed pipe shows here, not at exit
        return code
    except (CliError, ValueError) as e:
        print(f"faultlab: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader went away (| head): stop quietly; point stdout at
        # /dev/null so that the flush at exit does not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("faultlab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

