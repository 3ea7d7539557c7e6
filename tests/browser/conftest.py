"""Fixtures for the browser tests: a private JupyterLab server and headless Chromium.

The server runs on a free loopback port with a random token, against a
temporary copy of the notebooks, with its own settings, workspaces, config
and runtime folders so that nothing from the developer's own Jupyter setup
leaks in.  Notebook windowing is switched off so that every cell (and every
widget) is attached to the page, not only the ones in the viewport.

Without Playwright or a Chromium binary the tests are skipped; with
FAULTLAB_REQUIRE_BROWSER=1 (set in CI) they fail instead.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = Path(os.environ.get("FAULTLAB_NOTEBOOK_DIR") or REPO / "notebooks")
SCREENSHOT_DIR = REPO / "test-output" / "browser"
REQUIRE_BROWSER = os.environ.get("FAULTLAB_REQUIRE_BROWSER") == "1"

SYSTEM_CHROMIUMS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",  # root inside a container
    "--disable-gpu",
    "--disable-background-networking",  # the machine has no general network
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
]

# JupyterLab user settings written into a temporary user_settings_dir.
LAB_SETTINGS = {
    # Attach and render every cell (the default modes may skip off-screen cells).
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    # No news / update checks (no network) and no "receive news?" toast over the page.
    "@jupyterlab/apputils-extension/notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}

SERVER_START_TIMEOUT = 90  # seconds until /api/status answers

# Explorer latency, per notebook: seconds from a control change to the explorer's
# final output (and the first "Show answer"), printed at the end of the run.
LATENCY: dict[str, dict[str, list[float]]] = {}
LATENCY_GOAL = {"median": 0.3, "worst": 1.0}  # seconds: a goal to report, not an assertion


def notebook_paths() -> list[Path]:
    """Notebooks to test, sorted by name (empty if the folder does not exist)."""
    return sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def pytest_generate_tests(metafunc):
    """One test per notebook; a single skipped test when there are none yet."""
    if "notebook" in metafunc.fixturenames:
        paths = notebook_paths()
        params = [pytest.param(p, id=p.stem) for p in paths] or [
            pytest.param(
                None,
                id="no-notebooks",
                marks=pytest.mark.skip(reason=f"no notebooks in {NOTEBOOK_DIR} yet"),
            )
        ]
        metafunc.parametrize("notebook", params)


def skip_or_fail(reason: str) -> None:
    """Skip, unless the browser tests are required (CI), then fail."""
    if REQUIRE_BROWSER:
        pytest.fail(f"{reason} (FAULTLAB_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(reason)


def find_chromium() -> str | None:
    """Debian's Chromium first, then a browser Playwright downloaded itself, if any."""
    for path in SYSTEM_CHROMIUMS:
        if os.access(path, os.X_OK):
            return path
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            own = p.chromium.executable_path
        if own and os.access(own, os.X_OK):
            return own
    except Exception:
        pass
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LabServer:
    base_url: str
    token: str
    root_dir: Path
    log_path: Path

    def api(self, method: str, path: str, timeout: float = 10) -> object:
        """Call the server's REST API; returns decoded JSON (or None)."""
        req = urllib.request.Request(
            f"{self.base_url}{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """Stop every kernel so one notebook's kernel does not outlive its test."""
        try:
            for kernel in self.api("GET", "/api/kernels") or []:
                self.api("DELETE", f"/api/kernels/{kernel['id']}")
        except (OSError, urllib.error.URLError):
            pass

    def log_tail(self, n: int = 40) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])


@pytest.fixture(scope="session")
def latency_log() -> dict[str, dict[str, list[float]]]:
    return LATENCY


def pytest_terminal_summary(terminalreporter):
    """The explorers' latency figures: median and worst per notebook, against the goal."""
    if not LATENCY:
        return
    import statistics

    tr = terminalreporter
    tr.section("explorer latency (control change -> final output)")
    tr.write_line(
        f"goal: median <= {LATENCY_GOAL['median']:.1f} s, worst <= {LATENCY_GOAL['worst']:.1f} s "
        "(a figure to report, not a timed assertion)"
    )
    tr.write_line(f"{'notebook':<26}{'changes':>8}{'median s':>10}{'worst s':>9}  goal   {'first answer s':>14}")
    for name in sorted(LATENCY):
        rec = LATENCY[name]
        times = rec.get("explorer", [])
        answer = rec.get("answer", [])
        answer_s = f"{answer[0]:14.2f}" if answer else f"{'-':>14}"
        if times:
            med, worst = statistics.median(times), max(times)
            met = med <= LATENCY_GOAL["median"] and worst <= LATENCY_GOAL["worst"]
            tr.write_line(
                f"{name:<26}{len(times):>8}{med:>10.2f}{worst:>9.2f}  {'met ' if met else 'MISS'}   {answer_s}"
            )
        else:
            tr.write_line(f"{name:<26}{0:>8}{'-':>10}{'-':>9}  -      {answer_s}")


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    return SCREENSHOT_DIR


@pytest.fixture(scope="session")
def chromium_path() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        skip_or_fail("the playwright package is not installed")
    path = find_chromium()
    if path is None:
        skip_or_fail(
            "no Chromium found (apt-get install chromium; looked in "
            + ", ".join(SYSTEM_CHROMIUMS)
            + " and Playwright's own browsers)"
        )
    return path


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        except Exception as exc:  # a broken browser install
            skip_or_fail(f"Chromium at {chromium_path} did not start: {exc}")
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory, chromium_path) -> LabServer:
    """Start `jupyter lab` on a copy of the notebooks; stop it at the end of the session."""
    base = tmp_path_factory.mktemp("jupyterlab")
    root = base / "notebooks"
    shutil.copytree(NOTEBOOK_DIR, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    settings_dir = base / "user-settings"
    for plugin, values in LAB_SETTINGS.items():
        target = settings_dir / f"{plugin}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values, indent=2))
    for sub in ("workspaces", "config", "runtime"):
        (base / sub).mkdir()

    port, token = free_port(), secrets.token_hex(24)
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(base / "config"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        PYTHONUNBUFFERED="1",
    )
    cmd = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port-retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
        f"--LabApp.user_settings_dir={settings_dir}",
        f"--LabApp.workspaces_dir={base / 'workspaces'}",
        "--LabApp.extension_manager=readonly",  # no PyPI look-ups from the server
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # CI runs as root
    log_path = base / "jupyterlab.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    server = LabServer(f"http://127.0.0.1:{port}", token, root, log_path)

    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"jupyter lab exited with {proc.returncode}:\n{server.log_tail()}",
                    pytrace=False,
                )
            try:
                server.api("GET", "/api/status", timeout=2)
                break
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"jupyter lab did not answer /api/status within "
                        f"{SERVER_START_TIMEOUT} s:\n{server.log_tail()}",
                        pytrace=False,
                    )
                time.sleep(0.5)
        yield server
    finally:
        # Polite shutdown (stops kernels too), then the whole process group if needed.
        try:
            server.api("POST", "/api/shutdown", timeout=5)
        except (OSError, urllib.error.URLError):
            pass
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()


@pytest.fixture
def page(browser, lab_server):
    """A fresh browser context per notebook; kernels are stopped afterwards."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.console_errors = []  # collected for failure messages
    pg.on("pageerror", lambda exc: pg.console_errors.append(f"pageerror: {exc}"))
    pg.on(
        "console",
        lambda msg: (
            pg.console_errors.append(f"console: {msg.text}") if msg.type == "error" else None
        ),
    )
    try:
        yield pg
    finally:
        context.close()
        lab_server.shutdown_kernels()
