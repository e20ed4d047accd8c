"""End-to-end fixtures: a real gunicorn + Huey consumer on the embedded stack, driven by Chromium."""
from __future__ import annotations

import email
import email.policy
import json
import os
import re
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
from typing import Callable

import pytest
from playwright.sync_api import Browser
from playwright.sync_api import BrowserContext
from playwright.sync_api import Page
from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # huey_consumer lives next to the venv's python
_SERVER_TMP = pytest.StashKey[Path]()
#: axe-core, vendored from the npm package (see e2e/vendor/README.md for the version).
AXE_SOURCE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
RESULTS = ROOT / "test-results"
#: The demo accounts seed-db creates, one per role.
ACCOUNTS = {
    "reader": ("grace@example.com", "demo-password"),
    "author": ("ada@example.com", "demo-password"),
    "moderator": ("moderator@example.com", "demo-password"),
    "admin": ("admin@example.com", "admin-demo-password"),
}
#: id(context) -> whether JavaScript runs in it (Playwright cannot tell us afterwards).
_JS_ENABLED: dict[int, bool] = {}


def pytest_configure(config: pytest.Config) -> None:
    """On failure keep a Playwright trace and a screenshot under test-results/ (unless told otherwise)."""
    if getattr(config.option, "tracing", None) == "off":
        config.option.tracing = "retain-on-failure"
    if getattr(config.option, "screenshot", None) == "off":
        config.option.screenshot = "only-on-failure"


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
    """Console errors, uncaught exceptions and failed requests seen by one test's browser contexts."""

    def __init__(self) -> None:
        super().__init__()
        self.contexts: list[BrowserContext] = []

    def allow(self, text: str) -> None:
        """Forget the errors containing ``text`` (for a test that expects them, e.g. a 404 page)."""
        self[:] = [error for error in self if text not in error]

    def watch(self, context: BrowserContext) -> None:
        """Record the console errors, uncaught exceptions and failed requests of ``context``."""

        def on_console(message) -> None:
            # A form with errors answers 422 on purpose (htmx swaps it in; without JS it is the page),
            # and Chromium logs every 4xx as "Failed to load resource".
            if message.type == "error" and "status of 422" not in message.text:
                self.append(f"console error at {message.location.get('url')}: {message.text}")

        def on_request_failed(req) -> None:
            # Leaving a page cancels its in-flight loads (the favicon, say); that is not the app's fault.
            if req.failure == "net::ERR_ABORTED":
                return
            self.append(f"request failed: {req.method} {req.url}: {req.failure}")

        context.on("console", on_console)
        context.on("weberror", lambda error: self.append(f"uncaught exception: {error.error}"))
        context.on("requestfailed", on_request_failed)
        self.contexts.append(context)


@pytest.fixture(autouse=True)
def browser_errors(request: pytest.FixtureRequest):
    """Fail the test at teardown if any page logged an error: this is how CSP violations surface."""
    errors = BrowserErrors()
    if "context" in request.fixturenames or "page" in request.fixturenames:
        errors.watch(request.getfixturevalue("context"))
    yield errors
    for context in errors.contexts:
        for page in context.pages:
            if not page.is_closed():
                page.title()  # a round trip, so events already sent by the browser get delivered
    if errors:
        pytest.fail("the browser reported errors:\n" + "\n".join(errors), pytrace=False)


def _js_marker(request: pytest.FixtureRequest) -> bool:
    """Whether the test's own ``page``/``context`` run JavaScript (the browser_context_args marker)."""
    marker = request.node.get_closest_marker("browser_context_args")
    return bool(marker.kwargs.get("java_script_enabled", True)) if marker else True


def log_in(page: Page, email_address: str, password: str) -> None:
    """Log in through the form, as a person would: by the fields' labels and the button's name."""
    page.goto("/auth/login")
    page.get_by_label("Email", exact=True).fill(email_address)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("status").filter(has_text="Welcome back")).to_be_visible()


@pytest.fixture(scope="session")
def login_states(browser: Browser, base_url: str, tmp_path_factory: pytest.TempPathFactory):
    """Each demo role logs in once per session; tests start from the saved cookies (``storage_state``)."""
    folder = tmp_path_factory.mktemp("logins")
    saved: dict[str, Path] = {}

    def state_for(role: str) -> Path:
        if role not in saved:
            context = browser.new_context(base_url=base_url)
            log_in(context.new_page(), *ACCOUNTS[role])
            saved[role] = folder / f"{role}.json"
            context.storage_state(path=saved[role])
            context.close()
        return saved[role]

    return state_for


@pytest.fixture
def open_page(new_context, browser_errors: BrowserErrors, login_states, request: pytest.FixtureRequest):
    """``open_page(role=None, js=True)``: a page in a new traced, watched context, logged in as ``role``."""
    marked = request.node.get_closest_marker("browser_context_args") is not None

    def _open(role: str | None = None, js: bool = True) -> Page:
        options = {} if marked else {"java_script_enabled": js}
        if role:
            options["storage_state"] = login_states(role)
        context = new_context(**options)
        _JS_ENABLED[id(context)] = js if not marked else _js_marker(request)
        browser_errors.watch(context)
        return context.new_page()

    return _open


class Axe:
    """Runs axe-core on a page; pages without JavaScript are audited from a snapshot of their DOM."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self._snapshots: Page | None = None
        #: state -> rule ids that failed, for test-results/axe-summary.json
        self.seen: dict[str, list[str]] = {}

    def violations(self, page: Page, js: bool) -> list[dict]:
        """axe's violations on ``page`` as it stands (all rules axe runs by default)."""
        target = page if js else self._snapshot(page)
        if not target.evaluate("typeof window.axe === 'object'"):
            target.evaluate(AXE_SOURCE)  # an evaluation, not a <script>: our CSP allows it
        return target.evaluate("""async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " :: " + n.failureSummary)}));
        }""")

    def _snapshot(self, page: Page) -> Page:
        """The page's DOM as served (no script ran), re-opened with JavaScript for axe, scripts blocked."""
        if self._snapshots is None:
            self._snapshots = self.browser.new_context(viewport=page.viewport_size).new_page()
        html, url, snap = page.content(), page.url, self._snapshots
        snap.unroute("**/*")

        def handle(route) -> None:
            request = route.request
            if request.resource_type == "document":
                route.fulfill(body=html, content_type="text/html; charset=utf-8")
            elif request.resource_type == "script":
                route.fulfill(body="", content_type="text/javascript")
            else:
                route.continue_()

        snap.route("**/*", handle)
        snap.goto(url)
        return snap

    def close(self) -> None:
        if self._snapshots is not None:
            self._snapshots.context.close()


@pytest.fixture(scope="session")
def axe(browser: Browser):
    """The session's axe runner; writes test-results/axe-summary.json at the end."""
    runner = Axe(browser)
    yield runner
    runner.close()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "axe-summary.json").write_text(json.dumps(runner.seen, indent=1, sort_keys=True))


@pytest.fixture
def audit(axe: Axe, request: pytest.FixtureRequest) -> Callable[[Page, str], None]:
    """``audit(page, state)``: fail if axe-core finds any violation on the page as it is now."""
    default_js = _js_marker(request)

    def _audit(page: Page, state: str) -> None:
        js = _JS_ENABLED.get(id(page.context), default_js)
        page.wait_for_load_state()
        found = axe.violations(page, js)
        key = f"{state} [{'js' if js else 'no-js'}]"
        axe.seen[key] = sorted({v["id"] for v in found})
        if found:
            lines = [f"{v['id']} ({v['impact']}): {v['help']}\n    " + "\n    ".join(v["nodes"]) for v in found]
            pytest.fail(f"axe-core: {len(found)} violation(s) on {state} ({page.url}):\n" + "\n".join(lines),
                        pytrace=False)

    return _audit


class Outbox:
    """The live server's mail folder (no SMTP in e2e): the worker writes each mail there as .eml."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def wait(self, to: str, subject: str, timeout: float = 20) -> email.message.EmailMessage:
        """The newest mail to ``to`` whose subject contains ``subject``, once the worker has written it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for path in sorted(self.folder.glob("*.eml"), reverse=True) if self.folder.exists() else []:
                message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                if message["To"] == to and subject in message["Subject"]:
                    return message
            time.sleep(0.2)  # the file system has no auto-waiting assertion; the page is never reloaded
        raise AssertionError(f"no mail '{subject}' to {to} within {timeout} s")

    @staticmethod
    def link(message: email.message.EmailMessage, path: str) -> str:
        """The path (no host) of the first link in the mail's text that contains ``path``."""
        text = message.get_body(preferencelist=("plain",)).get_content()
        url = re.search(r"https?://\S+" + re.escape(path) + r"\S+", text).group(0)
        return re.sub(r"^https?://[^/]+", "", url)


@pytest.fixture(scope="session")
def outbox(live_server: LiveServer) -> Outbox:
    return Outbox(live_server.path / "outbox")


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
