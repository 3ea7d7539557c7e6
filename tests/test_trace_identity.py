"""Every preset under every policy gives the trace and summary it gave when
these digests were recorded (tests/data/trace_digests.json).

A refactoring of the model must leave every run byte-identical; a change
that means to change behaviour regenerates the file on purpose:

    python tests/test_trace_identity.py --write
"""
from __future__ import annotations

import hashlib
import json
import pathlib
import sys

import pytest

import faultlab
from faultlab.policies import POLICIES
from faultlab.workloads import PRESETS

DIGESTS = pathlib.Path(__file__).parent / "data" / "trace_digests.json"
# Long enough for every preset to show its story, short enough for CI.
UNTIL_MS = {"two_thread": 400.0, "threaded_app": 100.0}


def digest(preset: str, policy: str) -> str:
    kw = {"policy": policy}
    if preset in UNTIL_MS:
        kw["until_ms"] = UNTIL_MS[preset]
    r = faultlab.run(PRESETS[preset](**kw))
    h = hashlib.sha256()
    for line in r.trace_lines():
        h.update(line.encode() + b"\n")
    h.update(json.dumps(r.summary(), sort_keys=True).encode())
    return h.hexdigest()


def all_digests() -> dict:
    return {f"{preset}/{policy}": digest(preset, policy)
            for preset in sorted(PRESETS) for policy in sorted(POLICIES)}


@pytest.fixture(scope="module")
def recorded():
    return json.loads(DIGESTS.read_text())


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_traces_unchanged(preset, recorded):
    now = {f"{preset}/{p}": digest(preset, p) for p in sorted(POLICIES)}
    was = {k: v for k, v in recorded.items() if k.startswith(preset + "/")}
    changed = sorted(k for k in now.keys() | was.keys() if now.get(k) != was.get(k))
    assert not changed, f"traces changed (or pairs added/removed): {changed}"


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        DIGESTS.write_text(json.dumps(all_digests(), indent=1, sort_keys=True) + "\n")
        print(f"wrote {DIGESTS}")
