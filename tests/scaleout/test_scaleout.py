"""Scale-out, proven on this machine: two gunicorn processes and two Huey consumers on PostgreSQL + Redis.

The stack is the production one (BLOG_ENV=production, gunicorn with gunicorn.conf.py, RedisHuey,
Redis cache and rate limits, SMTP), as nginx would reach it: every request carries
X-Forwarded-For / X-Forwarded-Proto and the processes run with PROXY_COUNT=1. It gets a scratch
PostgreSQL database of its own on the shared server (``scaleout_<pid>``, dropped afterwards), its
own redis-server on a free port, and an aiosmtpd server; nothing is shared with other test runs.

Runs only when TEST_DATABASE_URL and TEST_REDIS_URL are set (CI's second run), like the rest of
the PostgreSQL + Redis suite.
"""
from __future__ import annotations

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
from collections import Counter
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    not (os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql") and os.environ.get("TEST_REDIS_URL")),
    reason="the scale-out test needs TEST_DATABASE_URL (PostgreSQL) and TEST_REDIS_URL",
)

import requests  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PROBE = Path(__file__).with_name("probe_consumer.py")
ADMIN = {"email": "boss@example.com", "password": "scale-out-admin-password"}
#: How long anything may take to come true before the test gives up (the whole module stays bounded).
PATIENCE = 20.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(what: str, check: Callable[[], object], timeout: float = PATIENCE, every: float = 0.05):
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout} s")
        time.sleep(every)


class Web:
    """One gunicorn process, reached the way nginx reaches it (X-Forwarded-For, X-Forwarded-Proto: https)."""

    def __init__(self, name: str, url: str) -> None:
        self.name, self.url = name, url

    def request(self, method: str, path: str, *, client_ip: str = "198.51.100.7", cookies: dict | None = None,
                **kwargs) -> requests.Response:
        headers = {"X-Forwarded-For": client_ip, "X-Forwarded-Proto": "https", **kwargs.pop("headers", {})}
        # Cookies by hand: production cookies are Secure, and requests' jar keeps those from plain http.
        response = requests.request(method, self.url + path, headers=headers, cookies=dict(cookies or {}),
                                    allow_redirects=False, timeout=10, **kwargs)
        if cookies is not None:
            cookies.update(response.cookies.get_dict())
        return response

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def api(self, method: str, path: str, token: str, **kwargs) -> requests.Response:
        return self.request(method, "/api/v1" + path, headers={"Authorization": f"Bearer {token}"}, **kwargs)

    def form(self, page: str, fields: dict, *, client_ip: str, cookies: dict) -> requests.Response:
        """GET the page for its CSRF token (and session), then POST the form with it, as a browser would."""
        html = self.get(page, client_ip=client_ip, cookies=cookies).text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or \
            re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
        assert token, f"no CSRF token on {self.name}{page}"
        # Over https Flask-WTF also wants a same-origin Referer, which a browser sends.
        referer = self.url.replace("http://", "https://") + page
        return self.request("POST", page, client_ip=client_ip, cookies=cookies, headers={"Referer": referer},
                            data={"csrf_token": token.group(1), **fields})


@dataclass
class Stack:
    webs: list[Web]
    tmp: Path
    probe: Path
    redis_url: str
    smtp: object
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    token: str = ""

    def logs(self) -> str:
        return "\n".join(f"--- {log.name} ---\n{log.read_text(errors='replace')[-4000:]}"
                         for log in sorted(self.tmp.glob("*.log")))

    def probe_lines(self) -> list[str]:
        return self.probe.read_text().splitlines() if self.probe.exists() else []

    def queue_idle(self) -> bool:
        """Nothing waiting in Redis for the consumers, nothing scheduled."""
        from huey import RedisHuey

        queue = RedisHuey("blog", url=self.redis_url)
        return queue.pending_count() == 0 and queue.scheduled_count() == 0


def _run(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    if done.returncode:
        pytest.fail(f"flask {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def _start(stack: Stack, name: str, cmd: list[str], env: dict[str, str]) -> None:
    with open(stack.tmp / f"{name}.log", "wb") as log:  # the child keeps its own descriptor
        stack.procs[name] = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen, first: signal.Signals) -> None:
    for sig in (first, signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            continue


def _healthy(stack: Stack, web: Web) -> bool:
    for name, proc in stack.procs.items():
        if proc.poll() is not None:
            pytest.fail(f"{name} exited with {proc.returncode}:\n{stack.logs()}")
    try:
        return web.get("/healthz").status_code == 200
    except requests.RequestException:
        return False


def _pg_admin():
    import psycopg

    return psycopg.connect(make_url(os.environ["TEST_DATABASE_URL"]).set(drivername="postgresql")
                           .render_as_string(hide_password=False), autocommit=True)


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """Migrated PostgreSQL database, redis-server, SMTP, 2 gunicorn (2 workers each) and 2 consumers (2 threads each)."""
    from tests.conftest import SMTPServer  # the same collecting SMTP handler the mail tests use
    from aiosmtpd.controller import Controller

    redis_server = shutil.which("redis-server")
    if not redis_server:
        pytest.skip("redis-server is not installed: the scale-out test runs its own")
    tmp = Path(tempfile.mkdtemp(prefix="blog-scaleout-"))
    database = f"scaleout_{os.getpid()}"
    pg_url = make_url(os.environ["TEST_DATABASE_URL"]).set(database=database).render_as_string(hide_password=False)
    redis_port = _free_port()
    smtp = SMTPServer(_free_port())
    controller = Controller(smtp, hostname=smtp.host, port=smtp.port, server_hostname="localhost", ready_timeout=5)
    stack = Stack(webs=[], tmp=tmp, probe=tmp / "probe.txt", redis_url=f"redis://127.0.0.1:{redis_port}/0", smtp=smtp)
    created = False
    try:
        with _pg_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{database}"')
            created = True
        _start(stack, "redis", [redis_server, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no"], dict(os.environ))
        controller.start()
        env = {key: value for key, value in os.environ.items() if not key.startswith("TEST_")}
        env.update(
            BLOG_ENV="production", SECRET_KEY=secrets.token_hex(32), INSTANCE_PATH=str(tmp),
            DATABASE_URL=pg_url, REDIS_URL=stack.redis_url, UPLOAD_FOLDER=str(tmp / "uploads"), LOG_FILE="",
            MAIL_SERVER=smtp.host, MAIL_PORT=str(smtp.port), MAIL_USERNAME="", MAIL_PASSWORD="", MAIL_USE_TLS="false",
            SITE_URL="https://blog.example.test", PROXY_COUNT="1", FORWARDED_ALLOW_IPS="127.0.0.1",
            WEB_CONCURRENCY="2", BCRYPT_LOG_ROUNDS="4", LOG_LEVEL="INFO", SCALEOUT_PROBE=str(stack.probe),
        )
        _wait_for("redis-server answering", lambda: _redis_up(redis_port), timeout=10)
        _run(env, "db", "upgrade")
        _run(env, "create-admin", "--username", "boss", "--email", ADMIN["email"], "--password", ADMIN["password"])
        for name in ("web-a", "web-b"):
            port = _free_port()
            _start(stack, name, [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind",
                                 f"127.0.0.1:{port}", "wsgi:app"], env)
            stack.webs.append(Web(name, f"http://127.0.0.1:{port}"))
        for name in ("worker-1", "worker-2"):
            _start(stack, name, [sys.executable, str(PROBE), "wsgi.huey", "--workers", "2", "--worker-type",
                                 "thread"], env)
        for web in stack.webs:
            _wait_for(f"{web.name} /healthz 200", lambda web=web: _healthy(stack, web), timeout=60, every=0.2)
        login = stack.webs[0].request("POST", "/api/v1/auth/login", json=ADMIN)
        assert login.status_code == 201, login.text
        stack.token = login.json()["token"]
        yield stack
    finally:
        for name, proc in stack.procs.items():
            if name.startswith("worker"):
                _stop(proc, signal.SIGINT)  # huey's graceful stop
        for name, proc in stack.procs.items():
            _stop(proc, signal.SIGTERM)  # gunicorn's graceful stop; redis-server's shutdown
        controller.stop()
        if created:
            with _pg_admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        shutil.rmtree(tmp, ignore_errors=True)


def _redis_up(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _soon(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="seconds").replace("+00:00", "Z")


def _served_within(web: Web, path: str, needle: str, seconds: float = 1.0) -> float:
    """How long until ``web`` serves ``needle`` at ``path`` (fails past ``seconds``)."""
    started = time.monotonic()
    while True:
        response = web.get(path)
        if response.status_code == 200 and needle in response.text:
            return time.monotonic() - started
        if time.monotonic() - started > seconds:
            pytest.fail(f"{web.name}{path} still without {needle!r} {seconds} s later (status {response.status_code})")
        time.sleep(0.05)


def _both_web_processes_are_separate_and_on_the_production_stack(stack: Stack) -> None:
    a, b = stack.webs
    health = [web.get("/healthz").json() for web in stack.webs]
    assert all(h == {"status": "ok", "checks": {"database": "ok", "cache": "ok", "queue": "ok"}} for h in health)
    assert stack.procs["web-a"].pid != stack.procs["web-b"].pid
    # gunicorn.conf.py's access log: each process logs its own requests, with the request id.
    response = a.get("/healthz", headers={"X-Request-ID": "scaleoutprobe1"})
    assert response.headers["X-Request-ID"] == "scaleoutprobe1"
    assert response.headers["Strict-Transport-Security"]  # production settings, https as nginx says
    _wait_for("the access log line of web-a", lambda: "[scaleoutprobe1]" in (stack.tmp / "web-a.log").read_text(),
              timeout=5)
    assert "[scaleoutprobe1]" not in (stack.tmp / "web-b.log").read_text()


def _a_post_published_on_one_process_is_served_by_the_other_within_a_second(stack: Stack) -> None:
    a, b = stack.webs
    tag = f"fresh{secrets.token_hex(3)}"
    for web in (a, b):  # warm both: the home page, the tag cloud (memoised in Redis), the feed
        assert web.get("/").status_code == 200 and web.get("/tags").status_code == 200
        assert tag not in web.get("/tags").text
    title = f"Fresh from web A {secrets.token_hex(4)}"
    created = a.api("POST", "/posts", stack.token,
                    json={"title": title, "body": "Served by **both**.", "tags": [tag], "status": "published"})
    assert created.status_code == 201, created.text
    slug = created.json()["slug"]
    for path, needle in (("/", title), (f"/blog/{slug}", title), ("/tags", tag), ("/feed.xml", title)):
        _served_within(b, path, needle)

    edited = f"Edited on web B {secrets.token_hex(4)}"
    assert b.api("PATCH", f"/posts/{slug}", stack.token, json={"title": edited}).status_code == 200
    _served_within(a, f"/blog/{slug}", edited)
    _served_within(a, "/", edited)
    assert title not in a.get("/").text

    assert a.api("DELETE", f"/posts/{slug}", stack.token).status_code == 204
    _wait_for("the deleted post gone from web B", lambda: b.get(f"/blog/{slug}").status_code == 404, timeout=1)


def _a_scheduled_post_is_published_exactly_once_by_two_consumers(stack: Stack) -> None:
    a, b = stack.webs
    title = f"Scheduled {secrets.token_hex(4)}"
    when = _soon(4)
    created = a.api("POST", "/posts", stack.token,
                    json={"title": title, "body": "Later.", "status": "scheduled", "published_at": when})
    assert created.status_code == 201, created.text
    post_id, slug = created.json()["id"], created.json()["slug"]
    # Each save of a scheduled post queues a publication at its time: five tasks for the same
    # moment, on both web processes, for four consumer threads to race over.
    for n, web in enumerate((b, a, b, a)):
        response = web.api("PATCH", f"/posts/{slug}", stack.token, json={"summary": f"edit {n}"})
        assert response.status_code == 200 and response.json()["status"] == "scheduled", response.text
    assert b.get(f"/blog/{slug}").status_code == 404  # not before its time
    ran_before = Counter(line.split()[1] for line in stack.probe_lines() if line.startswith("ran "))

    _wait_for("the scheduled post on web B", lambda: b.get(f"/blog/{slug}").status_code == 200, timeout=PATIENCE)
    assert title in a.get("/").text
    _wait_for("the consumers to drain the queue", stack.queue_idle, timeout=PATIENCE, every=0.2)
    time.sleep(1.0)  # a task taken just before the queue looked idle finishes

    lines = stack.probe_lines()
    publications = [line for line in lines if line.startswith(f"published {post_id} ")]
    runs = Counter(line.split()[1] for line in lines if line.startswith("ran ")) - ran_before
    assert runs["publish_scheduled_posts"] >= 5, f"the publishing task ran {runs} times:\n{stack.logs()}"
    assert len(publications) == 1, f"published {len(publications)} times: {publications}"
    assert a.api("GET", f"/posts/{slug}", stack.token).json()["status"] == "published"


def _each_mail_is_sent_exactly_once(stack: Stack) -> None:
    a, b = stack.webs
    sent_before = len(stack.smtp.messages)
    addresses = []
    for n in range(6):  # registrations alternate between the processes, each from its own address
        web = (a, b)[n % 2]
        email = f"reader{n}-{secrets.token_hex(3)}@example.com"
        response = web.form("/auth/register", {"username": f"reader{n}x{secrets.token_hex(3)}", "email": email,
                                               "password": "a fine long password", "confirm": "a fine long password"},
                            client_ip=f"203.0.113.{10 + n}", cookies={})
        assert response.status_code in (302, 303), f"{web.name}: {response.status_code} {response.text[:500]}"
        addresses.append(email)

    def delivered() -> bool:
        return len(stack.smtp.messages) - sent_before >= len(addresses)

    _wait_for("the verification mails at the SMTP server", delivered, timeout=PATIENCE)
    _wait_for("the consumers to drain the queue", stack.queue_idle, timeout=PATIENCE, every=0.2)
    time.sleep(1.5)  # room for a duplicate to arrive, if anything were to send one
    received = Counter(str(message["To"]) for message in stack.smtp.messages[sent_before:])
    assert received == Counter(addresses), received
    ids = [message["Message-ID"] for message in stack.smtp.messages[sent_before:]]
    assert len(ids) == len(set(ids))


def _failed_logins_spread_over_both_processes_share_one_rate_limit(stack: Stack) -> None:
    a, b = stack.webs
    ip = "192.0.2.99"  # one client, as nginx reports it; unknown emails, so no account back-off plays a part
    statuses = []
    for n in range(5):
        web = (a, b)[n % 2]
        response = web.form("/auth/login", {"email": f"nobody{n}@example.com", "password": "wrong password here"},
                            client_ip=ip, cookies={})
        statuses.append((web.name, response.status_code))
    assert [status for _, status in statuses] == [422] * 5, statuses
    for web in (b, a):  # the sixth try is refused whichever process takes it
        response = web.form("/auth/login", {"email": "nobody@example.com", "password": "wrong password here"},
                            client_ip=ip, cookies={})
        assert response.status_code == 429, (web.name, response.status_code)
        assert int(response.headers["Retry-After"]) > 0
    other = a.form("/auth/login", {"email": "nobody@example.com", "password": "wrong password here"},
                   client_ip="192.0.2.100", cookies={})
    assert other.status_code == 422  # another client is not limited


CHECKS = (_both_web_processes_are_separate_and_on_the_production_stack,
          _a_post_published_on_one_process_is_served_by_the_other_within_a_second,
          _a_scheduled_post_is_published_exactly_once_by_two_consumers,
          _each_mail_is_sent_exactly_once,
          _failed_logins_spread_over_both_processes_share_one_rate_limit)


def test_two_web_processes_and_two_consumers_serve_as_one_site(stack):
    """Every check against the one stack (one test, so pytest-xdist never starts the stack twice);
    each check runs even when an earlier one failed, and the failure lists all that did."""
    failures = []
    for check in CHECKS:
        try:
            check(stack)
        except (AssertionError, pytest.fail.Exception) as exc:
            failures.append(f"{check.__name__.lstrip('_')}:\n{exc}")
    assert not failures, "\n\n".join(failures) + f"\n\n{stack.logs()}"
