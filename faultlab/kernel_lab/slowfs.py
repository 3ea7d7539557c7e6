"""Slow file pages: a tiny read-only FUSE filesystem whose reads sleep.

It plays the disk of the 2006 report.  The file it serves is one page long,
so the kernel's readahead (mm/readahead.c page_cache_sync_ra) cannot fetch
more than the page that faulted, and a FUSE_READ request for it reaches
``SlowFS.read``, which sleeps ``delay_ms`` before answering.  Until then the
page-cache folio stays locked, and whoever faults on it waits in
mm/filemap.c filemap_fault() -> lock_folio_maybe_drop_mmap() (Linux 6.x)
for the read to finish.

A real major fault on every measurement: each measurement mounts a fresh
instance (a new superblock has an empty page cache) and opens a file name
never used before; the caller also checks with mincore(2) that the page is
not resident before touching it and with getrusage(RUSAGE_THREAD) that the
access counted as a major fault.

Process layout: the server runs in its own Python process (this file run as
a script, libfuse3 through mfusepy, ``-f`` foreground, multithreaded loop),
so its sleeping reads never compete with the experiment's threads for a GIL.
The parent talks to it over stdin: ``release`` makes sleeping reads answer
at once; end of file (the parent closed the pipe or died) makes it unmount
itself.  ``auto_unmount`` asks fusermount3 to unmount if the server dies.
:class:`SlowMount` is the parent's side and unmounts on every exit path.

Run by hand: ``python slowfs.py MOUNTPOINT --name f.bin --delay-ms 300``.
"""
from __future__ import annotations

import argparse
import errno
import os
import re
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time

SERVER_TIMEOUT_S = 10.0        # mount must be ready within this
PATTERN = b"faultlab slow page\n"


def page_bytes(size: int, offset: int = 0) -> bytes:
    """The file's content from ``offset``: a known pattern, so a reader can check its bytes."""
    skip = offset % len(PATTERN)
    return (PATTERN * ((skip + size) // len(PATTERN) + 1))[skip:skip + size]


# --------------------------------------------------------------- server side
def serve(mountpoint: str, name: str, size: int, delay_ms: int, log_path: str,
          auto_unmount: bool, owned_dirs=(), max_readahead: int | None = None) -> None:
    import mfusepy          # only the helper process needs it

    release = threading.Event()
    log_lock = threading.Lock()
    now = time.time_ns()

    class SlowFS(mfusepy.Operations):
        use_ns = True

        def getattr(self, path, fh=None):
            if path == "/":
                return {"st_mode": stat.S_IFDIR | 0o555, "st_nlink": 2,
                        "st_mtime": now, "st_ctime": now, "st_atime": now}
            if path == "/" + name:
                return {"st_mode": stat.S_IFREG | 0o444, "st_nlink": 1,
                        "st_size": size, "st_mtime": now, "st_ctime": now,
                        "st_atime": now}
            raise mfusepy.FuseOSError(errno.ENOENT)

        def readdir(self, path, fh):
            return [".", "..", name]

        def open(self, path, flags):
            if path != "/" + name:
                raise mfusepy.FuseOSError(errno.ENOENT)
            return 0

        def read(self, path, length, offset, fh):
            t0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
            release.wait(delay_ms / 1000.0)
            t1 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
            with log_lock, open(log_path, "a") as log:
                log.write(f"{t0} {t1} {offset} {length}\n")
            return page_bytes(max(0, min(length, size - offset)), offset)

        def init_with_config(self, conn, config):
            # fuse_conn_info.max_readahead: the most the kernel may read ahead
            # (fs/fuse/inode.c process_init_reply caps ra_pages with it)
            if conn is not None and max_readahead is not None:
                conn.max_readahead = max_readahead
            sys.stdout.write("ready\n")
            sys.stdout.flush()

    def watch_parent():
        for line in sys.stdin:
            if line.strip() == "release":
                release.set()
        release.set()           # parent closed the pipe or died: leave
        leaving.set()
        try:
            _tidy_up()
        finally:
            tidied.set()

    def _tidy_up():
        if _unmount(mountpoint, lazy=True):
            for d in owned_dirs:    # the parent's temp dirs, if it could not
                if d == mountpoint:
                    try:
                        os.rmdir(d)
                    except OSError:
                        pass
                else:
                    shutil.rmtree(d, ignore_errors=True)

    leaving, tidied = threading.Event(), threading.Event()
    threading.Thread(target=watch_parent, daemon=True).start()
    opts = dict(foreground=True, ro=True, fsname="faultlab-slowfs")
    if auto_unmount:
        opts["auto_unmount"] = True
    try:
        mfusepy.FUSE(SlowFS(), mountpoint, **opts)
    finally:
        if leaving.is_set():    # the loop ended because we unmounted: finish tidying
            tidied.wait(10)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="FUSE filesystem with slow reads")
    ap.add_argument("mountpoint")
    ap.add_argument("--name", default="slow.bin")
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--delay-ms", type=int, default=300)
    ap.add_argument("--log", default=os.devnull)
    ap.add_argument("--no-auto-unmount", action="store_true")
    ap.add_argument("--max-readahead", type=int, default=None,
                    help="FUSE max_readahead in bytes (0: the kernel reads only what faulted)")
    ap.add_argument("--owned-dir", action="append", default=[],
                    help="a temp dir to remove if the parent goes away first")
    a = ap.parse_args(argv)
    serve(a.mountpoint, a.name, a.size, a.delay_ms, a.log, not a.no_auto_unmount,
          a.owned_dir, a.max_readahead)
    return 0


# --------------------------------------------------------------- parent side
def mounted_paths() -> set[str]:
    """Mount points of this mount namespace (octal escapes like \\040 decoded)."""
    out = set()
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) > 1:
                    out.add(_OCTAL.sub(lambda m: chr(int(m[1], 8)), parts[1]))
    except OSError:
        pass
    return out


_OCTAL = re.compile(r"\\([0-7]{3})")


def is_mounted(path: str) -> bool:
    mounts = mounted_paths()
    return os.path.realpath(path) in mounts or path in mounts


def _unmount(path: str, lazy: bool = False) -> bool:
    """fusermount3 -u (``-z`` for lazy); umount as root if that fails."""
    cmds = []
    if shutil.which("fusermount3"):
        cmds.append(["fusermount3", "-u", "-q"] + (["-z"] if lazy else []) + [path])
    if os.geteuid() == 0 and shutil.which("umount"):
        cmds.append(["umount"] + (["-l"] if lazy else []) + [path])
    for cmd in cmds:
        try:
            subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if not is_mounted(path):
            return True
    return not is_mounted(path)


def check_mountpoint(path: str) -> None:
    """A caller's mount point must be an existing, empty, unmounted directory."""
    if not os.path.isdir(path):
        raise ValueError(f"mountpoint: {path!r} is not an existing directory; "
                         "pass an empty directory or None")
    if is_mounted(path):
        raise ValueError(f"mountpoint: {path!r} is busy (already a mount point); "
                         "pass an empty directory or None")
    if os.listdir(path):
        raise ValueError(f"mountpoint: {path!r} is busy (not empty); "
                         "pass an empty directory or None")


MOUNT_PREFIX = "faultlab-slowfs-"
LOG_PREFIX = "faultlab-slowfs-log-"
_OWNED = re.compile(r"^faultlab-slowfs-(?:log-)?(\d+)-")


def _pid_alive(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}")


def reclaim_stale() -> list[str]:
    """Unmount and remove what a killed run left behind; return what was reclaimed.

    A run's mount point and work directory sit in the temp dir and carry the
    owner's pid (``faultlab-slowfs-<pid>-*``, ``faultlab-slowfs-log-<pid>-*``).
    Normally the helper tidies up when its owner dies; if the helper died
    too (kill -9 of both), the mount stays ("Transport endpoint is not
    connected").  Only this user's directories of owners that no longer run
    are touched."""
    tmp = tempfile.gettempdir()
    done = []
    for path in sorted(mounted_paths()):
        head, base = os.path.split(path)
        m = _OWNED.match(base)
        if m and head == tmp and not _pid_alive(int(m[1])):
            if _unmount(path, lazy=True):
                done.append(path)
    try:
        names = os.listdir(tmp)
    except OSError:
        names = []
    for base in names:
        m = _OWNED.match(base)
        path = os.path.join(tmp, base)
        if not m or _pid_alive(int(m[1])) or is_mounted(path):
            continue
        try:
            if os.lstat(path).st_uid != os.getuid() or not os.path.isdir(path):
                continue
        except OSError:
            continue
        shutil.rmtree(path, ignore_errors=True)
        done.append(path)
    return done


class SlowMount:
    """One fresh mount of the slow filesystem, served by a helper process.

    ``close()`` (also run by ``with``) always leaves nothing mounted: it
    unmounts with fusermount3 -u, falls back to a lazy unmount, stops the
    helper (kill after a timeout) and removes the directory it made.
    """

    def __init__(self, delay_ms: int, mountpoint: str | None = None,
                 size: int = 4096, timeout_s: float = SERVER_TIMEOUT_S,
                 max_readahead: int | None = None):
        self.delay_ms = delay_ms
        self.size = size
        self.timeout_s = timeout_s
        self.max_readahead = max_readahead
        self.name = f"slow-{os.getpid()}-{time.monotonic_ns()}.bin"
        self._own_dir = mountpoint is None
        if mountpoint is not None:
            check_mountpoint(mountpoint)
        reclaim_stale()
        # the owner's pid is in both names, so a later run can tell a killed run's leftovers
        self.mountpoint = mountpoint or tempfile.mkdtemp(prefix=f"{MOUNT_PREFIX}{os.getpid()}-")
        self._work = tempfile.mkdtemp(prefix=f"{LOG_PREFIX}{os.getpid()}-")
        self.log_path = os.path.join(self._work, "reads.log")
        self._err_path = os.path.join(self._work, "stderr.txt")
        self.proc: subprocess.Popen | None = None
        self.leftover: str | None = None

    @property
    def file_path(self) -> str:
        return os.path.join(self.mountpoint, self.name)

    def __enter__(self) -> "SlowMount":
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        from .errors import LabUnavailable    # this file also runs as a script: no relative import at the top

        cmd = [sys.executable, os.path.abspath(__file__), self.mountpoint,
               "--name", self.name, "--size", str(self.size),
               "--delay-ms", str(self.delay_ms), "--log", self.log_path]
        if not shutil.which("fusermount3"):
            cmd.append("--no-auto-unmount")
        if self.max_readahead is not None:
            cmd += ["--max-readahead", str(self.max_readahead)]
        for d in ([self.mountpoint] if self._own_dir else []) + [self._work]:
            cmd += ["--owned-dir", d]
        with open(self._err_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=err, start_new_session=True)
        deadline = time.monotonic() + self.timeout_s
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                break
            ready, _, _ = select.select([self.proc.stdout], [], [], min(left, 0.2))
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 64)
                if not chunk:
                    break
                line += chunk
        if line.strip() != b"ready" or not is_mounted(self.mountpoint):
            why = self.stderr_tail() or ("no answer within %.0f s" % self.timeout_s)
            raise LabUnavailable(f"FUSE mount failed at {self.mountpoint}: {why}")

    def stderr_tail(self) -> str:
        try:
            with open(self._err_path, "rb") as f:
                lines = f.read().decode(errors="replace").strip().splitlines()
            return lines[-1] if lines else ""
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def release(self) -> None:
        """Make any sleeping read answer now (the way out of a stuck fault)."""
        if self.alive():
            try:
                os.kill(self.proc.pid, signal.SIGCONT)     # in case it was stopped
            except OSError:
                pass
            try:
                self.proc.stdin.write(b"release\n")
                self.proc.stdin.flush()
            except OSError:
                pass

    def stop_helper(self) -> None:
        """For tests: freeze the server (SIGSTOP) as if it hung."""
        if self.alive():
            os.kill(self.proc.pid, signal.SIGSTOP)

    def kill_helper(self) -> None:
        """For tests: kill the server as if it crashed (mount left behind)."""
        if self.alive():
            self.proc.kill()
            self.proc.wait(timeout=5)

    def reads(self) -> list[tuple[int, int, int, int]]:
        """(start_ns, end_ns, offset, length) of every read the server served."""
        try:
            with open(self.log_path) as f:
                return [tuple(int(x) for x in ln.split()) for ln in f if ln.strip()]
        except OSError:
            return []

    def close(self, lazy_only: bool = False) -> None:
        """Unmount and stop the helper; never raises.

        ``lazy_only`` detaches the mount without stopping the helper (used
        when a thread may still be faulting on the file: killing the server
        under an ordinary fault would deliver SIGBUS to this process).
        """
        if is_mounted(self.mountpoint):
            if lazy_only or not _unmount(self.mountpoint):
                _unmount(self.mountpoint, lazy=True)
        if self.proc is not None and not lazy_only:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
            if self.proc.stdout:
                self.proc.stdout.close()
        if is_mounted(self.mountpoint):
            _unmount(self.mountpoint, lazy=True)
        if is_mounted(self.mountpoint):
            self.leftover = self.mountpoint
        elif self._own_dir:
            try:
                os.rmdir(self.mountpoint)
            except OSError:
                pass
        shutil.rmtree(self._work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
