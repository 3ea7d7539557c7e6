"""faultlab.kernel_lab: the mmap lock convoy measured on the running kernel.

The live tests run where FUSE, /proc/self/mem and Linux are available and
skip elsewhere with the reason; with FAULTLAB_REQUIRE_KERNEL_LAB=1 they fail
instead of skipping.
"""
from __future__ import annotations

import ctypes
import statistics
import errno
import glob
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from faultlab import kernel_lab as kl
from faultlab.kernel_lab import experiment, slowfs, tracefs
from faultlab.kernel_lab.libc import BLOCKING, Libc

DELAY = 250
REQUIRE = os.environ.get("FAULTLAB_REQUIRE_KERNEL_LAB") == "1"


def _need_lab():
    ok, why = kl.available()
    if not ok:
        if REQUIRE:
            pytest.fail(f"kernel lab required but unavailable: {why}")
        pytest.skip(f"kernel lab unavailable: {why}")


def _measure(**kw):
    _need_lab()
    try:
        return kl.measure(**kw)
    except kl.LabUnavailable as e:
        if REQUIRE:
            pytest.fail(f"kernel lab required but unavailable: {e}")
        pytest.skip(f"kernel lab unavailable: {e}")


_OWNER = re.compile(r"faultlab-(?:slowfs-)?(?:log-)?(\d+)-")


def _ours(text: str) -> bool:
    """Made by this test process or by one that died (a killed child): the
    owner's pid is in every name the lab makes.  Other live processes' lab
    runs (another checkout's tests on the same machine) are not ours."""
    m = _OWNER.search(text)
    if m is None:
        return False
    pid = int(m[1])
    return pid == os.getpid() or not os.path.exists(f"/proc/{pid}")


def _our_mounts(child: int | None = None) -> list[str]:
    out = []
    with open("/proc/self/mounts") as f:
        for line in f:
            dev, mnt = line.split()[:2]
            if ("faultlab-slowfs" in dev or "faultlab-slowfs" in mnt) and \
                    (_ours(mnt) or (child is not None and f"faultlab-slowfs-{child}-" in mnt)):
                out.append(mnt)
    return out


def _helpers() -> list[int]:
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if b"kernel_lab/slowfs.py" in cmd and _ours(cmd.decode(errors="replace")):
            pids.append(int(pid))
    return pids


def _trace_instances() -> list[str]:
    root = tracefs.find_root()
    if root is None:
        return []
    return [d for d in os.listdir(os.path.join(root, "instances"))
            if d.startswith("faultlab-") and _ours(d + "-")]


def _temp_dirs() -> set[str]:
    return {d for d in glob.glob(os.path.join(tempfile.gettempdir(), "faultlab-slowfs-*"))
            if _ours(os.path.basename(d))}


@pytest.fixture
def clean_after():
    """Whatever the test did, nothing of the lab may be left behind.  (Whether
    tracefs is mounted is machine-wide state that other runs change too; the
    test below checks that a session unmounts what it mounted.)"""
    dirs_before = _temp_dirs()
    yield
    deadline = time.monotonic() + 5      # a killed process's helper cleans up on its own
    while (_our_mounts() or _helpers() or _temp_dirs() - dirs_before) \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _our_mounts() == [], "a slow FUSE mount was left behind"
    assert _helpers() == [], "a FUSE helper process was left behind"
    assert _temp_dirs() - dirs_before == set(), "a temporary directory was left behind"
    assert _trace_instances() == [], "a tracing instance was left behind"


def test_tracefs_mounted_for_a_session_is_unmounted_after():
    if os.geteuid() != 0 or not tracefs.probe()[0]:
        pytest.skip("needs root and tracefs")
    if tracefs.find_root() is not None:
        pytest.skip("tracefs is already mounted here")
    with tracefs.TraceSession() as s:
        assert s._mounted_here and tracefs.find_root() is not None
    assert tracefs.find_root() is None


# ------------------------------------------------------------------ live runs
@pytest.fixture(scope="module")
def fault_run():
    return _measure(path="fault", delay_ms=DELAY, third_reader=True)


@pytest.fixture(scope="module")
def procmem_run():
    return _measure(path="procmem", delay_ms=DELAY, third_reader=True)


def test_fault_path_writer_does_not_wait(fault_run):
    s = fault_run.summary()
    assert s["resident_before"] is False
    assert s["major_faults"] >= 1
    assert s["fault_ms"] >= 0.9 * DELAY
    assert s["writer_max_wait_ms"] < 0.25 * DELAY
    assert s["reader3_max_wait_ms"] < 0.25 * DELAY
    assert s["writer_ops_during_io"] > 10      # the writer kept going


def test_procmem_path_writer_and_third_reader_convoy(procmem_run):
    s = procmem_run.summary()
    assert s["resident_before"] is False
    assert s["major_faults"] >= 1
    assert s["fault_ms"] >= 0.9 * DELAY
    assert s["writer_max_wait_ms"] > 0.6 * DELAY
    assert s["reader3_max_wait_ms"] > 0.5 * DELAY
    assert s["writer_ops_during_io"] == 0


@pytest.mark.parametrize("third", ["madvise", "procmem"])
def test_other_mmap_lock_readers_convoy_too(third, clean_after):
    s = _measure(path="procmem", delay_ms=200, third_reader=third,
                 tracepoints=False).summary()
    assert s["third_reader"] == third
    assert s["reader3_max_wait_ms"] > 0.5 * 200


def test_result_fits_the_model_record(procmem_run):
    r = procmem_run
    assert r.threads == ["reader", "mapper", "reader3"]
    times = [e[0] for e in r.events]
    assert times == sorted(times) and times[0] >= 0
    for t, task, ev, details in r.events:
        assert isinstance(t, float) and task in r.threads and isinstance(details, tuple)
        assert all(isinstance(kv, tuple) and len(kv) == 2 for kv in details)
    kinds = {ev for _, _, ev, _ in r.events}
    assert {"op_start", "op_end", "io_wait_start", "io_wait_end"} <= kinds
    assert all(set(o) >= {"task", "kind", "start_us", "end_us"} for o in r.ops)
    assert sum(1 for e in r.events if e[2] == "op_start") == len(r.ops)
    acc = r.access()
    io = [e[0] for e in r.events if e[1] == "reader" and e[2].startswith("io_wait")]
    assert acc["start_us"] <= io[0] < io[1] <= acc["end_us"]
    start = next(e for e in r.events if e[2] == "io_wait_start")
    assert dict(start[3])["mmap_sem"] is True       # held across the I/O on this path
    s = r.summary()
    for key in ("writer_max_wait_ms", "reader3_max_wait_ms", "fault_ms", "kernel",
                "path", "delay_ms", "writer_ops", "reader3_ops", "reader_ops"):
        assert key in s
    assert s["kernel"] == os.uname().release
    assert {"mmap", "munmap", "mincore"} <= set(s["syscall_cost_us"])
    assert all(0 < v < 10_000 for v in s["syscall_cost_us"].values())


def test_tracepoints_show_the_queued_writer(procmem_run, fault_run):
    if not procmem_run.tracepoints:
        pytest.skip(f"tracepoints not recorded here: {procmem_run.tracepoint_note}")
    lw = procmem_run.summary()["lock_wait_ms"]
    assert lw["mapper"] > 0.6 * DELAY and lw["reader3"] > 0.5 * DELAY
    # the reader holds the lock (read side) across the whole slow access
    acc = procmem_run.access()
    held = [e for e in procmem_run.events if e[1] == "reader"
            and e[2] in ("acquire_returned", "released")
            and acc["start_us"] - 1 <= e[0] <= acc["end_us"] + 1]
    assert held[0][2] == "acquire_returned" and dict(held[0][3])["write"] is False
    assert held[-1][0] - held[0][0] > 0.9 * DELAY
    assert fault_run.summary()["lock_wait_ms"].get("mapper", 0) < 0.25 * DELAY


def test_user_mountpoint_is_used_and_kept(tmp_path, clean_after):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = _measure(path="fault", delay_ms=50, mountpoint=str(mnt), tracepoints=False)
    assert r.summary()["fault_ms"] >= 45
    assert mnt.is_dir() and not os.listdir(mnt)


# ---------------------------------------------------------- the GIL regression
def test_blocking_calls_are_cdll_functions():
    lib = Libc.gil_releasing()
    assert lib.releases_gil()
    assert type(lib.lib) is ctypes.CDLL
    for name in BLOCKING:
        assert not getattr(lib, name)._flags_ & ctypes._FUNCFLAG_PYTHONAPI, name
    assert not Libc.gil_holding().releases_gil()
    # the experiment builds its Libc this way unless a test overrides it
    assert "Libc.gil_releasing()" in open(experiment.__file__).read()


def _longest_heartbeat_gap_ms(r) -> float:
    """The longest stretch of the slow access during which the pure-Python
    heartbeat thread never ticked."""
    acc = r.access()
    start, end = acc["start_us"], acc["end_us"]
    pts = [start] + sorted(t for t in r.heartbeat if start < t < end) + [end]
    return max(b - a for a, b in zip(pts, pts[1:])) / 1000.0


@pytest.mark.parametrize("path", ["fault", "procmem"])
def test_python_threads_run_while_the_reader_sleeps(path, clean_after):
    """A 400 ms read: a gap of a quarter of it is far beyond what a busy machine's
    scheduler gives a runnable thread, and far below a GIL held for the read."""
    r = _measure(path=path, delay_ms=400, heartbeat=True, tracepoints=False)
    assert r.summary()["fault_ms"] >= 360
    assert _longest_heartbeat_gap_ms(r) < 0.25 * 400


def test_a_gil_holding_libc_would_be_caught(clean_after):
    """The regression the previous test guards against, made on purpose."""
    with experiment.injected(libc=Libc.gil_holding()):
        r = _measure(path="procmem", delay_ms=200, third_reader=True, heartbeat=True,
                     tracepoints=False)
    assert _longest_heartbeat_gap_ms(r) > 0.6 * 200
    # ...and with the GIL held the convoy becomes invisible, which is the trap
    # (the bound leaves room for a loaded machine's scheduling stalls)
    assert r.summary()["writer_max_wait_ms"] < 0.5 * 200


# ------------------------------------------------ faults: nothing left mounted
def test_failure_after_mount_leaves_nothing(clean_after):
    _need_lab()
    with pytest.raises(kl.LabError, match="injected failure after mount"), \
            experiment.injected("raise_after_mount"):
        kl.measure(path="fault", delay_ms=50)


def test_killed_helper_leaves_nothing(clean_after):
    _need_lab()
    with pytest.raises(kl.LabError, match="reader: .*(FUSE helper exited|Input/output)"), \
            experiment.injected("kill_helper_during_access"):
        kl.measure(path="procmem", delay_ms=300, third_reader=True)


def test_killed_helper_under_an_ordinary_fault_is_an_error_not_sigbus(clean_after):
    """The kernel answers a fault on a file whose FUSE server died with SIGBUS
    (filemap_fault: VM_FAULT_SIGBUS); the guarded load turns it into a LabError."""
    _need_loops()
    with pytest.raises(kl.LabError, match="reader: the access raised SIGBUS"), \
            experiment.injected("kill_helper_during_access"):
        kl.measure(path="fault", delay_ms=300, third_reader=True)
    # and a later run works: the guard was removed, nothing is left
    assert kl.measure(path="fault", delay_ms=30, tracepoints=False).summary()["fault_ms"] >= 25


def test_measure_has_no_test_only_arguments():
    import inspect
    params = inspect.signature(kl.measure).parameters
    assert not [p for p in params if p.startswith("_")]
    with pytest.raises(ValueError, match="^inject: "):
        with experiment.injected("nope"):
            pass


def test_cleanup_survives_enotconn_from_a_dead_helper(clean_after):
    """close() on a file of a FUSE server that died answers ENOTCONN; the
    cleanup must still unmount, stop the helper and remove its directories."""
    _need_lab()
    mount = slowfs.SlowMount(50)
    mount.start()
    fd = os.open(mount.file_path, os.O_RDONLY)
    os.read(fd, 16)
    mount.kill_helper()
    with pytest.raises(OSError) as closing:      # the kernel's answer: no server
        os.close(os.dup(fd))                     # every close flushes (fuse_flush)
    assert closing.value.errno == errno.ENOTCONN
    st = {"fd": fd, "memfd": -1, "addr": None, "anon": None, "trace": None}
    experiment._cleanup(experiment.Plan(path="procmem", delay_ms=50), None, mount, st, [],
                        (threading.Event(), threading.Event(), threading.Event()),
                        sys.getswitchinterval(), failed=False)
    assert not mount.alive()
    assert st["fd"] == -1 and not slowfs.is_mounted(mount.mountpoint)


@pytest.mark.parametrize("path", ["fault", "procmem"])
def test_keyboard_interrupt_leaves_nothing(path, clean_after):
    _need_lab()
    with pytest.raises(KeyboardInterrupt), experiment.injected("interrupt_during_access"):
        kl.measure(path=path, delay_ms=300, third_reader=True)


@pytest.mark.parametrize("path", ["fault", "procmem"])
def test_hung_helper_times_out_and_leaves_nothing(path, clean_after):
    _need_lab()
    with pytest.raises(kl.LabTimeout, match="reader: the access did not finish"), \
            experiment.injected("stop_helper_during_access"):
        kl.measure(path=path, delay_ms=100, timeout_s=0.3, tracepoints=False)


def test_slowmount_unmounts_when_the_helper_was_killed(clean_after):
    _need_lab()
    m = slowfs.SlowMount(50)
    try:
        m.start()
        assert slowfs.is_mounted(m.mountpoint)
        m.kill_helper()
    finally:
        m.close()
    assert not slowfs.is_mounted(m.mountpoint) and not os.path.exists(m.mountpoint)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("kw, field", [
    (dict(delay_ms=0), "delay_ms"),
    (dict(delay_ms=5001), "delay_ms"),
    (dict(delay_ms="300"), "delay_ms"),
    (dict(delay_ms=True), "delay_ms"),
    (dict(path="mmap"), "path"),
    (dict(third_reader="fsync"), "third_reader"),
    (dict(duration_ms=0), "duration_ms"),
    (dict(tracepoints="yes"), "tracepoints"),
    (dict(gap_us=-1), "gap_us"),
    (dict(timeout_s=0), "timeout_s"),
])
def test_bad_input_names_the_field(kw, field):
    with pytest.raises(ValueError, match=f"^{field}: ") as ei:
        kl.measure(**kw)
    assert "\n" not in str(ei.value)


def test_busy_mountpoint_is_refused(tmp_path):
    (tmp_path / "x").write_text("occupied")
    with pytest.raises(ValueError, match="^mountpoint: .*busy"):
        kl.measure(mountpoint=str(tmp_path))
    with pytest.raises(ValueError, match="^mountpoint: .*busy"):
        kl.measure(mountpoint="/proc")
    with pytest.raises(ValueError, match="^mountpoint: .*not an existing directory"):
        kl.measure(mountpoint=str(tmp_path / "missing"))


def test_unavailable_is_a_runtime_error_with_a_reason(monkeypatch):
    assert issubclass(kl.LabUnavailable, RuntimeError)
    ok, why = kl.available()
    assert isinstance(ok, bool) and isinstance(why, str) and why
    monkeypatch.setattr(sys, "platform", "darwin")
    assert kl.available() == (False, "not Linux (sys.platform='darwin')")
    with pytest.raises(kl.LabUnavailable, match="not Linux"):
        kl.measure(path="fault", delay_ms=100)


def test_missing_fuse_is_reported(monkeypatch):
    if not sys.platform.startswith("linux") or not os.path.exists("/dev/fuse"):
        pytest.skip("checks the fusermount3 branch, which comes after the Linux and /dev/fuse checks")
    import shutil
    monkeypatch.setattr(shutil, "which", lambda name: None)
    ok, why = kl.available()
    assert not ok and why.startswith("FUSE missing: fusermount3")


# ------------------------------------------------------------ recorded run
def test_load_recorded_has_both_paths():
    runs = kl.load_recorded()
    assert set(runs) == {"fault", "procmem"}
    for path, r in runs.items():
        s = r.summary()
        assert s["path"] == path and s["kernel"] and r.date
        assert r.threads == ["reader", "mapper", "reader3"]
        assert [e[0] for e in r.events] == sorted(e[0] for e in r.events)
        assert s["resident_before"] is False
        d = s["delay_ms"]
        if path == "fault":
            assert s["writer_max_wait_ms"] < 0.25 * d
        else:
            assert s["writer_max_wait_ms"] > 0.6 * d
            assert s["reader3_max_wait_ms"] > 0.5 * d
        again = kl.LabResult.from_dict(r.to_dict())
        assert again.summary() == s and again.events == r.events


def test_record_writes_a_loadable_file(tmp_path, clean_after):
    _need_lab()
    out = tmp_path / "rec.json"
    doc = kl.record(out, delay_ms=60, tracepoints=False, warmup_ms=20, tail_ms=20)
    assert doc["kernel"] == os.uname().release and doc["params"]["delay_ms"] == 60
    runs = kl.load_recorded(out)
    assert runs["procmem"].summary()["writer_max_wait_ms"] > 0.6 * 60
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "other"}')
    with pytest.raises(ValueError, match="^format: "):
        kl.load_recorded(bad)


def test_killed_python_process_leaves_nothing(tmp_path, clean_after):
    """kill -9 of the measuring process mid-convoy: the helper sees its stdin
    close, answers the read and unmounts itself."""
    _need_lab()
    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(kl.__file__))))
    code = ("import sys; sys.path.insert(0, %r)\n"
            "from faultlab import kernel_lab as kl\n"
            "kl.measure(path='procmem', delay_ms=1500, third_reader=True, tracepoints=False)\n"
            % top)
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 10
        while not _our_mounts(proc.pid) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        assert _our_mounts(proc.pid), "the child never mounted"
        time.sleep(0.3)
        proc.kill()
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while (_our_mounts() or _helpers()) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.kill()


# ------------------------------------------------ the two-thread benchmark
from faultlab import record   # noqa: E402
from faultlab.kernel_lab import lessons   # noqa: E402
from faultlab.kernel_lab import native, two_thread   # noqa: E402


def _need_loops():
    _need_lab()
    try:
        native.load()
    except kl.LabUnavailable as e:
        if REQUIRE:
            pytest.fail(f"kernel lab required but its C loops cannot be built: {e}")
        pytest.skip(f"kernel lab's C loops unavailable: {e}")


def _bench(**kw):
    _need_loops()
    try:
        return kl.benchmark(**kw)
    except kl.LabUnavailable as e:
        if REQUIRE:
            pytest.fail(f"kernel lab required but unavailable: {e}")
        pytest.skip(f"kernel lab unavailable: {e}")


def test_histogram_buckets_cover_every_duration():
    """loops.c's hbucket, decoded: each bucket's range holds the values mapped to it."""
    def hbucket(ns):            # the C function, in Python
        if ns < 64:
            return ns
        e = ns.bit_length() - 1
        return (e - 5) * 64 + ((ns >> (e - 6)) & 63)
    for ns in list(range(0, 300)) + [10**k + d for k in range(3, 11) for d in (-1, 0, 1, 12345)]:
        lo, hi = native.bucket_bounds(hbucket(ns))
        assert lo <= ns < hi, ns
        assert hi - lo <= max(1, ns // 64 + 1)
    assert hbucket(2**63) < native.HBUCKETS


def test_percentiles_are_inverted_cdf():
    import numpy as np
    rng = np.random.default_rng(1)
    values = rng.integers(0, 64, 500)          # below 64 ns the buckets are exact
    hist = [0] * native.HBUCKETS
    for v in values:
        hist[int(v)] += 1
    got = native.percentiles_us(hist, qs=(10, 50, 90, 99))
    for q in (10, 50, 90, 99):
        want = np.percentile(values, q, method="inverted_cdf") / 1000.0
        assert got[f"p{q:g}"] == pytest.approx(want, abs=1e-9), q


def test_calibration_has_the_agreed_keys():
    cal = kl.calibrate.__doc__
    for key in two_thread.CALIBRATION_KEYS:
        assert f"\n    {key}" in cal or f" {key} " in cal, f"{key} is not documented in calibrate()"
    _need_loops()
    c = kl.calibrate(path="procmem", disk_ms=10, seconds=0.3)
    assert tuple(c) == two_thread.CALIBRATION_KEYS
    assert c["disk_ms"] == 10 and c["path"] == "procmem"
    assert c["read_us"] >= 10_000 and 0 < c["reader_alone_per_s"] <= 100
    for k in ("mmap_us", "munmap_us", "minor_fault_us", "wakeup_same_cpu_us"):
        assert 0 < c[k] < 10_000, k
    assert c["mapper_alone_per_s"] > 1000
    assert c["ncpus"] == len(os.sched_getaffinity(0))
    if c["ncpus"] > 1:
        assert 0 < c["wakeup_us"] < 10_000
    assert c["slice_us"] is None or 100 < c["slice_us"] < 100_000
    # the reader's lone relock gap comes from the tracepoints, where tracefs can be used
    assert c["reader_relock_us"] is None or 0 < c["reader_relock_us"] < c["read_us"]
    if tracefs.probe()[0]:
        assert c["reader_relock_us"] is not None
    assert c["hz"] in (None, 100, 250, 300, 1000) or c["hz"] > 0
    assert c["kernel"] == os.uname().release


# Short live runs, one per placement and path (1.5 s each; the qualitative facts of issue 11).
@pytest.fixture(scope="module")
def bench():
    cache = {}

    def get(path, cpus, disk_ms=18, **kw):
        key = (path, cpus, disk_ms, tuple(sorted(kw.items())))
        if key not in cache:
            cache[key] = _bench(path=path, disk_ms=disk_ms, seconds=1.5, cpus=cpus,
                                calibration_s=0.5, **kw)
        return cache[key]
    return get


def _need_cpus(n):
    if len(os.sched_getaffinity(0)) < n:
        pytest.skip(f"needs {n} CPUs, this process may use {len(os.sched_getaffinity(0))}")


def test_procmem_on_separate_cpus_ties_the_mapper_to_the_reader(bench, clean_after):
    _need_cpus(2)
    r = bench("procmem", "split")
    s = r.summary()
    assert s["reader_per_s"] > 5
    # Tied to the reader: it spends its time waiting out the reads and loops only in the gaps
    # between them (lessons.waits_out_the_reads: 0.9999 of its time, measured idle).
    # How many loops a gap holds is a race, not a fact: measured from 0.26 to 4.9 per read
    # at loads under 1, 11.7 once at load 0.6, 17 at load 2.4, so no per-read bound is checked.
    assert lessons.waits_out_the_reads(r), s
    assert s["mapper_alone_per_s"] > 20 * s["mapper_per_s"], s
    assert s["mapper_max_ms"] >= 0.5 * s["read_ms_median"], s     # most of a read


def test_procmem_on_one_cpu_lets_the_mapper_run(bench, clean_after):
    """On one CPU the woken mapper runs before the reader can ask again, and every loop
    it makes meanwhile needs no wait: tens to hundreds of loops per read, against at most
    a few on separate CPUs. Measured on 6.18 (EEVDF), 5 s runs: 4,918 to 6,848 loops/s
    beside 50 to 52 reads/s (98 to 130 per read), once 54,000/s (about 1,000 per read);
    100 per read sits inside that spread, so the check asks for 20."""
    s = bench("procmem", "same").summary()
    assert s["mapper_per_s"] >= 20 * s["reader_per_s"], s


def test_fault_path_keeps_the_mapper_going(bench, clean_after):
    """The mapper keeps half its lone rate and never waits for a read.

    A longer read (100 ms) keeps scheduling stalls (a few ms on an idle
    machine) apart from a wait for the read.  On a machine busier than it has
    CPUs, a single call can be stalled for tens of ms by other processes; the
    test then checks that such calls are rare (far fewer than the reads: on
    the procmem path nearly every mapper call waits for one)."""
    _need_cpus(2)
    r = bench("fault", "split", disk_ms=100)
    s = r.summary()
    read = s["read_ms_median"]
    assert s["mapper_per_s"] >= 0.5 * s["mapper_alone_per_s"], s
    assert s["mapper_latency_us"]["p99.9"] < 0.1 * read * 1000, s
    assert not lessons.waits_out_the_reads(r), s             # no convoy: the check can say no
    # the fault path's reader takes mmap_lock only after its read: no relock gap to measure
    assert r.calibration["reader_relock_us"] is None and s["twin"]["relock_gap"] == "not used"
    if os.getloadavg()[0] <= len(os.sched_getaffinity(0)):
        assert s["mapper_max_ms"] < 0.5 * read, s
    else:
        waited = sum(1 for a, b, _ in r.mapper_long if b - a >= 500 * read)
        assert waited <= max(1, s["reader_accesses"] // 4), (waited, s)


@pytest.mark.parametrize("path, cpus", [("procmem", "split"), ("procmem", "same"),
                                        ("fault", "free")])
def test_one_fuse_read_per_access(bench, path, cpus, clean_after):
    if cpus == "split":
        _need_cpus(2)
    r = bench(path, cpus)
    s = r.summary()
    assert s["reader_accesses"] > 5
    assert s["reads_per_access"] == 1.0
    assert s["fuse_reads"] == s["reader_accesses"]
    assert all(length == kl.libc.PAGE_SIZE for *_, length in r.fuse_reads)


def test_reader_relocks_within_microseconds_on_its_own_cpu(bench, clean_after):
    """From the mmap_lock tracepoints: after its released, the reader's next
    start_locking comes microseconds later (it never lost its CPU)."""
    _need_cpus(2)
    have, why = tracefs.probe()
    if not have:
        pytest.skip(f"tracepoints unavailable: {why}")
    r = bench("procmem", "split", tracepoints="auto")
    if not r.tracepoints:
        if REQUIRE and tracefs.find_root() is not None:
            pytest.fail(f"tracefs is there but nothing was recorded: {r.tracepoint_note}")
        pytest.skip(f"tracepoints not recorded: {r.tracepoint_note}")
    gaps = r.relock_gaps_us()
    assert len(gaps) >= 5
    assert statistics.median(gaps) < 200, sorted(gaps)[:20]


def test_benchmark_records_fit_the_model_plots(bench, clean_after):
    import matplotlib
    matplotlib.use("Agg")
    from faultlab import plots
    from faultlab.record import format_event

    r = bench("procmem", "same")
    times = [e[0] for e in r.events]
    assert times == sorted(times)
    for t, task, ev, details in r.events:
        assert isinstance(t, float) and task in r.threads and isinstance(details, tuple)
        assert all(isinstance(kv, tuple) and len(kv) == 2 for kv in details)
        format_event((t, task, ev, details))
    assert {"op_start", "op_end", "io_wait_start", "io_wait_end"} <= {e[2] for e in r.events}
    held = {dict(e[3])["mmap_sem"] for e in r.events if e[2] == "io_wait_start"}
    assert held == {True}
    plots.timeline(r, start_ms=0, end_ms=200)
    again = two_thread.BenchResult.from_dict(r.to_dict())
    s, t = again.summary(), r.summary()
    assert {k: v for k, v in s.items() if k != "twin"} == {k: v for k, v in t.items() if k != "twin"}


def test_summary_keys_and_twin(bench, clean_after):
    s = bench("procmem", "same").summary()
    for key in ("reader_per_s", "reader_alone_per_s", "mapper_per_s", "mapper_alone_per_s",
                "mapper_max_ms", "fuse_reads", "cpus", "kernel", "mapper_latency_us",
                "calibration", "twin"):
        assert key in s, key
    assert set(s["mapper_latency_us"]) == {"p50", "p90", "p99", "p99.9"}
    assert tuple(s["calibration"]) == two_thread.CALIBRATION_KEYS
    twin = s["twin"]
    try:
        from faultlab.kernel_lab.twin import predict_two_thread   # noqa: F401
    except ImportError:
        assert set(twin) == {"absent"} and "predict_two_thread" in twin["absent"]
    else:
        assert {"mapper_per_s", "reader_per_s", "mapper_ratio", "reader_ratio"} <= set(twin)


@pytest.mark.parametrize("kw, field", [
    (dict(disk_ms=0), "disk_ms"), (dict(disk_ms=1001), "disk_ms"), (dict(disk_ms=18.0), "disk_ms"),
    (dict(disk_ms=True), "disk_ms"), (dict(seconds=0.1), "seconds"), (dict(seconds=61), "seconds"),
    (dict(seconds="5"), "seconds"), (dict(cpus="both"), "cpus"), (dict(path="mmap"), "path"),
    (dict(tracepoints="yes"), "tracepoints"), (dict(calibration={"disk_ms": 18}), "calibration"),
    (dict(calibration_s=0), "calibration_s"), (dict(seed=1.5), "seed"),
])
def test_benchmark_bad_input_names_the_argument(kw, field, clean_after):
    with pytest.raises(ValueError, match=f"^{field}: ") as ei:
        kl.benchmark(**kw)
    assert "\n" not in str(ei.value)


def test_benchmark_without_fuse_says_so_and_leaves_nothing(monkeypatch, clean_after):
    if not sys.platform.startswith("linux") or not os.path.exists("/dev/fuse"):
        pytest.skip("checks the fusermount3 branch, which comes after the Linux and /dev/fuse checks")
    import shutil
    real = shutil.which
    monkeypatch.setattr(shutil, "which", lambda n, *a, **k: None if n == "fusermount3" else real(n))
    with pytest.raises(kl.LabUnavailable, match="^FUSE missing: fusermount3"):
        kl.benchmark(seconds=1)


def test_benchmark_without_permission_says_so(monkeypatch, clean_after):
    if not sys.platform.startswith("linux") or not os.path.exists("/dev/fuse") \
            or not kl.available()[0]:
        pytest.skip("needs a machine where FUSE is otherwise available")
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m, *a, **k: False if p == "/dev/fuse" else real(p, m))
    monkeypatch.setattr(kl, "_setuid_root", lambda path: False)
    with pytest.raises(kl.LabUnavailable, match="^no permission to open /dev/fuse"):
        kl.benchmark(seconds=1)


def test_without_a_compiler_the_error_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(native, "_LIB", None)
    monkeypatch.setattr(native, "compiler", lambda: None)
    with pytest.raises(kl.LabUnavailable, match="gcc libc6-dev"):
        native.load()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(kl.LabUnavailable, match="no C compiler"):
        kl.benchmark(seconds=1)


def test_built_library_lives_in_the_user_cache(tmp_path, monkeypatch):
    if native.compiler() is None:
        pytest.skip("no C compiler")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    so = native.build()
    assert so.startswith(str(tmp_path / "faultlab")) and os.path.exists(so)
    assert native.build() == so                      # cached: not built again
    pkg = os.path.dirname(os.path.abspath(kl.__file__))
    assert not [f for f in os.listdir(pkg) if f.endswith(".so")]


# ---------------------------------------- what a killed run leaves, reclaimed
def _dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_stale_mount_of_a_killed_run_is_reclaimed(clean_after):
    """Owner and helper both killed: the mount stays (ENOTCONN) until the next run."""
    _need_lab()
    dead = _dead_pid()
    mnt = tempfile.mkdtemp(prefix=f"{slowfs.MOUNT_PREFIX}{dead}-")
    log = tempfile.mkdtemp(prefix=f"{slowfs.LOG_PREFIX}{dead}-")
    helper = subprocess.Popen([sys.executable, slowfs.__file__, mnt, "--no-auto-unmount",
                               "--delay-ms", "10"], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not slowfs.is_mounted(mnt) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert slowfs.is_mounted(mnt)
        helper.kill()
        helper.wait(5)
        assert slowfs.is_mounted(mnt)                   # left behind
        reclaimed = slowfs.reclaim_stale()
        assert mnt in reclaimed and log in reclaimed
        assert not slowfs.is_mounted(mnt) and not os.path.exists(mnt) and not os.path.exists(log)
    finally:
        if helper.poll() is None:
            helper.kill()
        slowfs._unmount(mnt, lazy=True)
        for d in (mnt, log):
            if os.path.isdir(d):
                os.rmdir(d)


def test_mounts_of_live_owners_are_left_alone():
    mnt = tempfile.mkdtemp(prefix=f"{slowfs.MOUNT_PREFIX}{os.getpid()}-")
    try:
        assert mnt not in slowfs.reclaim_stale() and os.path.isdir(mnt)
    finally:
        os.rmdir(mnt)


def test_stale_tracing_instance_is_reclaimed(clean_after):
    have, why = tracefs.probe()
    if not have:
        pytest.skip(f"tracefs unavailable: {why}")
    first = tracefs.TraceSession()
    try:
        first.open()
        stale = os.path.join(first.root, "instances", f"faultlab-{_dead_pid()}-dead")
        os.mkdir(stale)
        with open(os.path.join(stale, "tracing_on"), "w") as f:
            f.write("1")
        assert os.path.isdir(stale)
        second = tracefs.TraceSession()
        try:
            second.open()
            assert not os.path.exists(stale)
            assert os.path.isdir(first.instance)       # a live owner's instance stays
        finally:
            second.close()
    finally:
        if os.path.isdir(stale):
            tracefs.remove_instance(stale)
        first.close()


# ------------------------------------------------------------------- CLI
def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "faultlab.kernel_lab", *args],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}, **kw)


@pytest.mark.parametrize("args", [["benchmark", "--cpus", "both"], ["benchmark", "--disk-ms", "0"],
                                  ["benchmark", "--seconds", "99"], ["measure", "--path", "x"]])
def test_cli_errors_are_one_line(args):
    r = _cli(*args)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("error: ")
    assert "Traceback" not in r.stderr


def test_cli_broken_pipe_ends_quietly():
    """``... | head``: the reader goes away before we write."""
    code = ("import sys, os\n"
            "from faultlab.kernel_lab import __main__ as cli\n"
            "r, w = os.pipe(); os.close(r); os.dup2(w, 1)\n"
            "sys.exit(cli._quiet_on_broken_pipe(cli.main, ['available']))\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert p.returncode == 0 and "Traceback" not in p.stderr and p.stderr == "", p.stderr


def test_record_writes_to_the_current_directory_not_the_package(tmp_path, monkeypatch):
    from faultlab.kernel_lab import recorded
    pkg_file = recorded.DEFAULT_PATH
    before = os.stat(pkg_file).st_mtime_ns
    calls = []
    monkeypatch.setattr(kl, "measure", lambda **kw: calls.append(kw) or _FakeRun(kw["path"]))
    monkeypatch.chdir(tmp_path)
    doc = kl.record(None, delay_ms=60)
    assert (tmp_path / recorded.OUT_NAME).exists() and len(calls) == 2
    assert os.stat(pkg_file).st_mtime_ns == before
    kl.record(str(tmp_path / "sub.json"), delay_ms=60)
    assert (tmp_path / "sub.json").exists()
    assert doc["params"]["delay_ms"] == 60


class _FakeRun:
    def __init__(self, path):
        self.path = path

    def to_dict(self):
        return {"path": self.path, "third_reader": "mincore", "summary": {}}


def test_benchmark_recordings_round_trip_through_the_shared_writer(tmp_path):
    """record_runs and load_recorded_runs use the lab's one writer and reader: a recording
    written into a directory lands under its default name, reads back equal, and a file of
    another format (the single-access lab's) is refused by name."""
    runs = two_thread.load_recorded_runs()
    doc = two_thread.record_runs(runs.values(), tmp_path, lock_events_ms=50.0)
    back = two_thread.load_recorded_runs(tmp_path / two_thread.RECORD_NAME)
    assert doc["format"] == two_thread.FORMAT and list(back) == list(runs)
    for key, r in runs.items():
        assert back[key].mapper_loops == r.mapper_loops
        kept = [e for e in r.lock_events if e[0] <= 50_000.0]
        assert len(back[key].lock_events) == len(kept)
        assert back[key].relock_gaps_us() == record.relock_gaps_us(kept, "reader")
    with pytest.raises(ValueError, match="^format: .* is not a two-thread benchmark recording"):
        two_thread.load_recorded_runs(kl.recorded.DEFAULT_PATH)


def test_a_benchmark_result_runs_its_twin_once(monkeypatch):
    """summary() (through twin()) and twin.relock_race share one prediction per twin and
    result: the second twin's and, for a procmem run with a relock gap, the first's."""
    from faultlab.kernel_lab import twin
    calls = []
    real = twin.predict_two_thread
    monkeypatch.setattr(twin, "predict_two_thread", lambda *a: calls.append(a) or real(*a))
    r = two_thread.load_recorded_runs()[("procmem", "split")]
    first = r.summary()["twin"]
    assert r.summary()["twin"] == first and twin.relock_race(r)["twin_loops_per_read"] is not None
    assert r.calibration["reader_relock_us"] and len(calls) == 2
    second, first_twin = calls[0][0], calls[1][0]
    assert {k: v for k, v in second.items() if k != "reader_relock_us"} == first_twin
