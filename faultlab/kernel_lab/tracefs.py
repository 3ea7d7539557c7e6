"""The kernel's own mmap_lock tracepoints, recorded for the experiment.

Linux 5.11 added three tracepoints around every mmap lock operation
(include/trace/events/mmap_lock.h, commit 2b5067a8143e; the wrappers in
include/linux/mmap_lock.h fire them):

- ``mmap_lock_start_locking``    a task asks for the lock (``write`` says which side)
- ``mmap_lock_acquire_returned`` it got it (``success`` is false for a killable
  lock interrupted by a fatal signal)
- ``mmap_lock_released``         it let go

The model's trace uses the same three names, minus the prefix.  This module
records them for the experiment's threads only: it makes a private tracing
instance (``instances/faultlab-*``, so the global buffer and anyone else's
settings are untouched; the name carries the owner's pid, so a later run
removes what a killed one left), sets its clock to ``mono`` (the same clock as
``time.clock_gettime_ns(CLOCK_MONOTONIC)``), filters by thread id with
``set_event_pid``, and on every exit path turns the events off, clears the
pid filter and removes the instance.  If tracefs is not mounted and we are
root it mounts it and unmounts it again afterwards (unless another run is
recording through it by then).
"""
from __future__ import annotations

import os
import re
import subprocess

ROOTS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
EVENTS = ("mmap_lock_start_locking", "mmap_lock_acquire_returned",
          "mmap_lock_released")
_LINE = re.compile(r"^\s*(?P<comm>.*?)-(?P<tid>\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[\d+\]\s+"
                   r"(?:\S+\s+)?(?P<ts>\d+\.\d+):\s+(?P<event>\w+):\s*(?P<rest>.*)$")


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def find_root() -> str | None:
    """A mounted tracefs that has the mmap_lock events, or None."""
    for root in ROOTS:
        if os.path.isdir(os.path.join(root, "events", "mmap_lock")):
            return root
    return None


def probe(mount: bool = True) -> tuple[bool, str]:
    """Whether tracepoints can be recorded here, and why not if they cannot."""
    root = find_root()
    if root is not None:
        if os.access(os.path.join(root, "instances"), os.W_OK):
            return True, f"tracefs at {root}"
        return False, f"no permission to write {root}/instances"
    if not mount:
        return False, "tracefs is not mounted"
    if os.geteuid() != 0:
        return False, "tracefs is not mounted and mounting it needs root"
    return True, "tracefs is not mounted; it will be mounted for the run (root)"


class TraceSession:
    """Record the three mmap_lock events for a set of thread ids."""

    def __init__(self, mount: bool = True, buffer_kb: int = 4096):
        self.mount = mount
        self.buffer_kb = buffer_kb
        self.root: str | None = None
        self.instance: str | None = None
        self._mounted_here = False

    # every step below can fail; close() undoes whatever was done
    def open(self) -> None:
        self.root = find_root()
        if self.root is None and self.mount and os.geteuid() == 0:
            try:
                r = subprocess.run(["mount", "-t", "tracefs", "nodev", ROOTS[0]],
                                   capture_output=True, text=True, timeout=5)
            except (OSError, subprocess.SubprocessError) as e:
                raise OSError(f"cannot mount tracefs: {e}") from None
            if r.returncode == 0:
                self._mounted_here = True
                self.root = find_root()
        if self.root is None:
            raise OSError("tracefs with mmap_lock events is not available")
        reclaim_stale(self.root)
        inst = os.path.join(self.root, "instances", f"faultlab-{os.getpid()}-{id(self):x}")
        os.mkdir(inst)
        self.instance = inst
        _write(os.path.join(inst, "tracing_on"), "0")
        _write(os.path.join(inst, "trace_clock"), "mono")
        _write(os.path.join(inst, "buffer_size_kb"), str(self.buffer_kb))

    def start(self, tids) -> None:
        inst = self.instance
        _write(os.path.join(inst, "set_event_pid"), " ".join(str(t) for t in tids))
        for ev in EVENTS:
            _write(os.path.join(inst, "events", "mmap_lock", ev, "enable"), "1")
        _write(os.path.join(inst, "tracing_on"), "1")

    def stop(self) -> list[tuple[int, int, str, dict]]:
        """Stop recording; return (t_ns, tid, event, fields) sorted by time."""
        inst = self.instance
        _write(os.path.join(inst, "tracing_on"), "0")
        with open(os.path.join(inst, "trace")) as f:
            return parse(f.read())

    def close(self) -> None:
        inst, self.instance = self.instance, None
        if inst:
            remove_instance(inst)
        if self._mounted_here:
            self._mounted_here = False
            if _others_recording(self.root):
                return          # another run found it mounted and records through it
            try:
                subprocess.run(["umount", self.root], capture_output=True, timeout=5)
            except (OSError, subprocess.SubprocessError):
                pass

    def __enter__(self) -> "TraceSession":
        try:
            self.open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def remove_instance(inst: str) -> None:
    """Turn an instance's recording off, clear its pid filter and remove it;
    every step is tried even when one before it fails."""
    if not os.path.isdir(inst):
        return
    for step in (lambda: _write(os.path.join(inst, "tracing_on"), "0"),
                 *(lambda ev=ev: _write(os.path.join(inst, "events", "mmap_lock", ev, "enable"), "0")
                   for ev in EVENTS),
                 lambda: _write(os.path.join(inst, "set_event_pid"), ""),
                 lambda: os.rmdir(inst)):
        try:
            step()
        except OSError:
            pass


_OWNED = re.compile(r"^faultlab-(\d+)-[0-9a-f]+$")


def _others_recording(root: str) -> bool:
    """Does a live process (another run) have a faultlab instance under ``root``?"""
    try:
        names = os.listdir(os.path.join(root, "instances"))
    except OSError:
        return False
    return any(m and os.path.exists(f"/proc/{m[1]}") for m in map(_OWNED.match, names))


def reclaim_stale(root: str) -> list[str]:
    """Remove the instances a killed run left recording (``faultlab-<pid>-*``
    whose owner no longer runs); return their names."""
    done = []
    try:
        names = os.listdir(os.path.join(root, "instances"))
    except OSError:
        return done
    for name in names:
        m = _OWNED.match(name)
        if m and not os.path.exists(f"/proc/{m[1]}"):
            remove_instance(os.path.join(root, "instances", name))
            done.append(name)
    return done


def parse(text: str) -> list[tuple[int, int, str, dict]]:
    out = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m or not m["event"].startswith("mmap_lock_"):
            continue
        sec, _, frac = m["ts"].partition(".")
        t_ns = int(sec) * 1_000_000_000 + int((frac + "000000000")[:9])
        fields = dict(kv.split("=", 1) for kv in m["rest"].split() if "=" in kv)
        out.append((t_ns, int(m["tid"]), m["event"][len("mmap_lock_"):], fields))
    out.sort(key=lambda e: e[0])
    return out


def to_events(records, names: dict[int, str], t0_ns: int) -> list:
    """Kernel records -> model events ``(t_us, task, event, details)``."""
    events = []
    for t_ns, tid, event, fields in records:
        task = names.get(tid)
        if task is None or t_ns < t0_ns:
            continue
        details = [("write", fields.get("write") == "true")]
        if event == "acquire_returned":
            details.append(("success", fields.get("success", "true") == "true"))
        events.append(((t_ns - t0_ns) / 1000.0, task, event, tuple(details)))
    return events
