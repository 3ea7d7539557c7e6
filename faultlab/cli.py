"""Command line: ``python -m faultlab list | run | bench | figures``.

``run`` echoes every parameter first as ``ARG name value`` lines (as the
OSTEP homework simulators do), then prints a summary table, or the JSON
summary with ``--json``. A bad argument ends the program with one line on
stderr and exit status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from .policies import POLICIES, rwsem_rules
from .workloads import PRESETS, get_preset


class CliError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise CliError(message)


def parse_value(name, text, default):
    """Turn ``--set name=text`` into the type of the preset's default."""
    if isinstance(default, bool):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{name}: must be true or false, got {text!r}")
    if isinstance(default, int):
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{name}: must be a whole number, got {text!r}") from None
    if isinstance(default, float):
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{name}: must be a number, got {text!r}") from None
    return text


def build_scenario(preset_name, policy, sets, seed, until_ms):
    fn = get_preset(preset_name)
    params = {}
    for item in sets:
        if "=" not in item:
            raise ValueError(f"--set: expected name=value, got {item!r}")
        name, text = item.split("=", 1)
        if name not in fn.parameters:
            raise ValueError(f"{name}: {preset_name} takes no parameter {name!r}; "
                             f"it takes {', '.join(fn.parameters)}")
        params[name] = parse_value(name, text, fn.parameters[name])
    if policy is not None:
        params["policy"] = policy
    if seed is not None:
        params["seed"] = seed
    if until_ms is not None:
        params["until_ms"] = until_ms
    return fn(**params), {**fn.parameters, **params}


def summary_table(s) -> str:
    f, sc = s["faults"], s["syscalls"]
    lines = [f"policy {s['policy']}  rwsem rules {s['rwsem']}  seed {s['seed']}  until {s['until_ms']} ms",
             f"faults    completed {f['completed']}  major {f['major']}  retries {f['retries']}  "
             f"unfinished {f['unfinished']}  max attempts {f['max_attempts']}",
             "          latency ms  " + "  ".join(f"{k} {v}" for k, v in f["latency_ms"].items()),
             f"syscalls  completed {sc['completed']}",
             "          wait ms     " + "  ".join(f"{k} {v}" for k, v in sc["wait_ms"].items()),
             f"mmap_sem  held across I/O {s['mmap_sem']['held_across_io_ms']} ms  "
             f"max queue {s['mmap_sem']['max_queue']}",
             f"redone walks {s['redone_walks']}  kernel bugs {len(s['kernel_bugs'])}",
             "thread        completed     ops/s  unfinished"]
    for name, t in s["threads"].items():
        lines.append(f"{name:<12}{t['completed']:>11}{t['ops_per_s']:>10.1f}{t['unfinished']:>12}")
    for b in s["kernel_bugs"]:
        lines.append(f"KERNEL BUG at {b['t_us']:.1f} us in {b['task']}: {b['bug']}")
    return "\n".join(lines)


def cmd_list(args):
    print("policies:")
    for name, p in POLICIES.items():
        print(f"  {name:<20} {p.kernel:<34} {p.summary}")
    print("presets:")
    for name, fn in PRESETS.items():
        print(f"  {name}")
        for pname, default in fn.parameters.items():
            print(f"      {pname} = {default!r}")
    return 0


def cmd_run(args):
    from .sim import run
    scenario, params = build_scenario(args.preset, args.policy, args.set, args.seed, args.until_ms)
    scenario.check()
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
    return bench_main(repeat=args.repeat)


def cmd_figures(args):
    from .figures import make_figures
    for path in make_figures(args.out):
        print(path)
    return 0


def make_parser():
    p = _Parser(prog="python -m faultlab", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    sub.add_parser("list", help="policies, presets and their parameters").set_defaults(fn=cmd_list)
    r = sub.add_parser("run", help="run one preset and print its summary")
    r.add_argument("--preset", default="two_thread")
    r.add_argument("--policy")
    r.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    r.add_argument("--seed", type=int)
    r.add_argument("--until-ms", type=float, dest="until_ms")
    r.add_argument("--json", action="store_true")
    r.add_argument("--trace", type=int, default=0, metavar="N", help="also print the first N trace lines")
    r.set_defaults(fn=cmd_run)
    b = sub.add_parser("bench", help="simulated faults per second against raw SimPy")
    b.add_argument("--repeat", type=int, default=3)
    b.set_defaults(fn=cmd_bench)
    f = sub.add_parser("figures", help="regenerate the lecture figures")
    f.add_argument("--out", default="figures")
    f.set_defaults(fn=cmd_figures)
    return p


def main(argv=None) -> int:
    try:
        args = make_parser().parse_args(argv)
        return args.fn(args)
    except (CliError, ValueError) as e:
        print(f"faultlab: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("faultlab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

