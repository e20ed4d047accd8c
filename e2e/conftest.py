"""End-to-end fixtures: a real gunicorn + Huey consumer on the embedded stack, driven by Chromium."""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # huey_consumer lives next to the venv's python
_SERVER_TMP = pytest.StashKey[Path]()


@dataclass
class LiveServer:
    """Where the running blog answers, and the instance folder it writes to."""

    url: str
    path: Path


def _server_env(tmp: Path) -> dict[str, str]:
    """The developer's environment, pointed at a throw-away instance folder on the embedded stack."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TEST_")}
    env.update(
        BLOG_ENV="development",
        INSTANCE_PATH=str(tmp),
        DATABASE_URL=f"sqlite:///{tmp / 'blog.db'}",
        SECRET_KEY=secrets.token_hex(32),
        LOG_LEVEL="WARNING",
        # Present but empty: config treats "" as unset, and python-dotenv never
        # overrides a variable that exists, so a developer's .env cannot pull
        # the server onto Redis or real SMTP.
        REDIS_URL="",
        MAIL_SERVER="",
        UPLOAD_FOLDER="",
        LOG_FILE="",
        # The browser types faster than the form's anti-bot timer allows (that check has its own
        # tests), and every seeded reader would already be trusted: make comments wait for review.
        COMMENT_MIN_SECONDS="0",
        COMMENTS_TRUSTED_AFTER="0",
    )
    return env


def _free_port() -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _flask(env: dict[str, str], *args: str) -> None:
    """Run the real CLI, failing with its output if it fails."""
    cmd = [sys.executable, "-m", "flask", "--app", "wsgi", *args]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    if done.returncode:
        pytest.fail(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def _logs(tmp: Path) -> str:
    """Everything the server processes printed, for failure messages."""
    return "\n".join(f"--- {log.name} ---\n{log.read_text(errors='replace')}" for log in sorted(tmp.glob("*.log")))


def _wait_healthy(url: str, procs: list[subprocess.Popen], tmp: Path, timeout: float = 30) -> None:
    """Poll /healthz until it answers 200; fail early if a process dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                pytest.fail(f"{proc.args[0]} exited with {proc.returncode}:\n{_logs(tmp)}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:  # refused while booting, or 503 while a check fails
            pass
        time.sleep(0.2)
    pytest.fail(f"{url}/healthz did not answer 200 within {timeout} s:\n{_logs(tmp)}")


def _stop(proc: subprocess.Popen, first: signal.Signals) -> None:
    """Ask politely with ``first``, then SIGTERM, then SIGKILL."""
    for sig in (first, signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="session")
def live_server(request: pytest.FixtureRequest):
    """Migrated, seeded blog served by gunicorn (2 workers) with a Huey consumer, in a temp folder."""
    tmp = Path(tempfile.mkdtemp(prefix="blog-e2e-"))
    request.config.stash[_SERVER_TMP] = tmp  # for the failure reports, see pytest_runtest_makereport
    env = _server_env(tmp)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    commands = {
        "gunicorn": [sys.executable, "-m", "gunicorn", "wsgi:app", "-b", f"127.0.0.1:{port}",
                     "-w", "2", "--no-control-socket"],
        # huey_consumer puts its cwd on sys.path, so it must start in the repo root.
        "huey": [str(BIN / "huey_consumer"), "wsgi.huey", "-w", "1"],
    }
    procs: dict[str, subprocess.Popen] = {}
    try:
        _flask(env, "db", "upgrade")
        _flask(env, "seed-db", "--posts", "25", "--comments", "40", "--users", "6")
        for name, cmd in commands.items():
            with open(tmp / f"{name}.log", "wb") as log:  # the child keeps its own descriptor
                procs[name] = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        _wait_healthy(url, list(procs.values()), tmp)
        yield LiveServer(url=url, path=tmp)
    finally:
        if "huey" in procs:
            _stop(procs["huey"], signal.SIGINT)  # SIGINT lets running tasks finish
        if "gunicorn" in procs:
            _stop(procs["gunicorn"], signal.SIGTERM)  # gunicorn's graceful shutdown
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def base_url(live_server: LiveServer) -> str:
    """page.goto("/") and friends resolve against the live server."""
    return live_server.url


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Use the system Chromium when there is one, and keep every lookup on this machine."""
    args = dict(browser_type_launch_args)  # keeps --headed, --slowmo and friends
    executable = os.environ.get("CHROMIUM_PATH") or shutil.which("/usr/bin/chromium")
    if executable:  # else Playwright's own download (scripts/ensure-browser.sh)
        args["executable_path"] = executable
    args["args"] = [
        *args.get("args", []),
        "--no-sandbox",  # containers and CI run as root
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        # Chromium still resolves Google hosts at start; this keeps every lookup local and
        # makes any page that loads something from another host fail loudly.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
    ]
    return args


class BrowserErrors(list):
    """Console errors, uncaught exceptions and failed requests seen by one test's browser context."""

    def allow(self, text: str) -> None:
        """Forget the errors containing ``text`` (for a test that expects them, e.g. a 404 page)."""
        self[:] = [error for error in self if text not in error]


@pytest.fixture(autouse=True)
def browser_errors(request: pytest.FixtureRequest):
    """Fail the test at teardown if the page logged an error: this is how CSP violations surface."""
    errors = BrowserErrors()
    if "context" not in request.fixturenames and "page" not in request.fixturenames:
        yield errors
        return
    context = request.getfixturevalue("context")

    def on_console(message) -> None:
        # A form with errors answers 422 on purpose (htmx swaps it in; without JS it is the page),
        # and Chromium logs every 4xx as "Failed to load resource".
        if message.type == "error" and "status of 422" not in message.text:
            errors.append(f"console error at {message.location.get('url')}: {message.text}")

    def on_request_failed(req) -> None:
        # Leaving a page cancels its in-flight loads (the favicon, say); that is not the app's fault.
        if req.failure == "net::ERR_ABORTED":
            return
        errors.append(f"request failed: {req.method} {req.url}: {req.failure}")

    context.on("console", on_console)
    context.on("weberror", lambda error: errors.append(f"uncaught exception: {error.error}"))
    context.on("requestfailed", on_request_failed)
    yield errors
    for page in context.pages:
        page.title()  # a round trip, so events already sent by the browser get delivered
    if errors:
        pytest.fail("the browser reported errors:\n" + "\n".join(errors), pytrace=False)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under e2e/ carries the ``e2e`` marker, so ``-m "not e2e"`` skips the browser."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Attach the server processes' output to every failed e2e report."""
    report = yield
    tmp = item.config.stash.get(_SERVER_TMP, None)
    if report.failed and tmp is not None and tmp.exists() and "live_server" in item.fixturenames:
        report.sections.append(("live server output", _logs(tmp)))
    return report
