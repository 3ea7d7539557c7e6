"""The command line: ARG echo, summary table, JSON, and one-line errors with exit 2."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from faultlab.cli import main


def cli(*args):
    p = subprocess.run([sys.executable, "-m", "faultlab", *args], capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def test_list_names_every_policy_and_preset(capsys):
    import faultlab
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in list(faultlab.POLICIES) + list(faultlab.workloads.PRESETS):
        assert name in out


def test_run_echoes_every_parameter_first_then_the_summary(capsys):
    assert main(["run", "--preset", "two_thread", "--policy", "sync", "--set", "disk_ms=18",
                 "--seed", "0", "--until-ms", "500"]) == 0
    lines = capsys.readouterr().out.splitlines()
    args = [ln for ln in lines if ln.startswith("ARG ")]
    assert lines[:len(args)] == args                       # all ARG lines come first
    assert "ARG disk_ms 18.0" in args and "ARG policy sync" in args and "ARG costs.wakeup_us 5.0" in args
    assert any(ln.startswith("reader ") for ln in lines)


@pytest.mark.parametrize("policy, fate", [("refault", "died at 51.273 ms (return_to_user)"),
                                          ("retry_unlimited", "never died")])
def test_run_says_how_each_fault_ended_and_what_a_signal_did(capsys, policy, fate):
    """The outcomes line counts each way a fault ended; a SIGKILL line says when the
    signalled thread died and where the kernel noticed, or that it never did."""
    assert main(["run", "--preset", "fadvise_dos", "--policy", policy, "--set", "kill_at_ms=50"]) == 0
    out = capsys.readouterr().out
    main(["run", "--preset", "fadvise_dos", "--policy", policy, "--set", "kill_at_ms=50", "--json"])
    s = json.loads(capsys.readouterr().out)
    outcomes = "  ".join(f"{k} {v}" for k, v in sorted(s["faults"]["outcomes"].items()))
    assert f"          outcomes    {outcomes}" in out.splitlines()
    assert f"SIGKILL   to victim at 50.0 ms: {fate}" in out.splitlines()


def test_run_json_is_the_summary(capsys):
    assert main(["run", "--preset", "fadvise_dos", "--policy", "nopage_retry", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["policy"] == "nopage_retry" and s["faults"]["max_attempts"] == 2


def test_same_seed_same_output(capsys):
    argv = ["run", "--preset", "threaded_app", "--until-ms", "100", "--seed", "3", "--json"]
    main(argv)
    first = capsys.readouterr().out
    main(argv)
    assert capsys.readouterr().out == first


@pytest.mark.parametrize("args, field", [
    (["run", "--preset", "nope"], "preset"),
    (["run", "--policy", "nope"], "policy"),
    (["run", "--set", "disk_ms=-1"], "disk_ms"),
    (["run", "--set", "disk_ms=fast"], "disk_ms"),
    (["run", "--set", "colour=red"], "colour"),
    (["run", "--set", "disk_ms"], "--set"),
    (["run", "--preset", "threaded_app", "--set", "n_readers=0"], "n_readers"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_is_one_line_and_exit_2(args, field):
    code, out, err = cli(*args)
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("faultlab: error: ") and field in err


def test_bench_prints_its_figures():
    """The benchmark reports numbers; it asserts nothing about speed."""
    code, out, err = cli("bench", "--repeat", "1", "--quick")
    assert code == 0, err
    for label in ("simulated faults / s", "acquire/hold/release cycles / s", "ratio", "s wall",
                  "keep_events=False", "explorer convoy"):
        assert label in out


@pytest.mark.parametrize("args, first_words", [
    (["run", "--set", "disk_ms=inf"], "disk_ms: must be a number of ms"),          # not disk.latency_ms
    (["run", "--until-ms", "1e7"], "--until-ms: must be"),
    (["run", "--until-ms", "1e6"], "--until-ms: a run of 1,000,000 ms would make about"),   # the cost bound
    (["run", "--set", "until_ms=1e6"], "until_ms: a run of"),
    (["run", "--seed", "-1"], "--seed: must be"),
    (["run", "--policy", "nope"], "--policy: must be one of sync"),
    (["run", "--set", "ra_pages=16777216", "--until-ms", "1"], "ra_pages: must be a whole number of pages"),
    (["run", "--preset", "threaded_app", "--set", "mapper=maybe"], "mapper: must be true or false"),
    (["run", "--set", "reader_think_us=1e-20"], "reader_think_us: must be a number of us from 0.01"),
    (["run", "--trace", "-5"], "argument --trace: must be a whole number from 0"),
    (["bench", "--repeat", "0"], "argument --repeat: must be a whole number from 1"),
    (["figures", "--out", "/proc/nope"], "--out: cannot write the figures to '/proc/nope'"),
])
def test_errors_name_what_the_user_typed(args, first_words):
    """One line, exit 2, naming the option or --set NAME the user typed and what is allowed."""
    code, out, err = cli(*args)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("faultlab: error: " + first_words), err


def test_set_help_and_list_say_what_each_parameter_allows(capsys):
    """The allowed values come from the one schema (workloads.PARAMS)."""
    from faultlab.workloads import PARAMS
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert f"disk_ms = 18.0    {PARAMS['disk_ms'].allowed()}" in out
    code, out, err = cli("run", "--help")
    assert code == 0 and "n_readers: a whole number of threads from 1 to 256" in " ".join(out.split())


def test_output_into_a_closed_pipe_ends_quietly():
    """`python -m faultlab list | head -1`: no BrokenPipe traceback, exit 0."""
    p = subprocess.run(f"{sys.executable} -m faultlab run --trace 100000 | head -1", shell=True,
                       capture_output=True, text=True, timeout=120)
    assert p.stdout.startswith("ARG preset") and p.stdout.count("\n") == 1
    assert p.stderr == "", p.stderr
