"""Load benchmark: wrk against gunicorn serving the blog, beside a bare Flask "hello" app.

    .venv/bin/python scripts/bench_load.py [--posts 10000 --comments 100000 --duration 5]
    BENCH_STACK=prod .venv/bin/python scripts/bench_load.py      # PostgreSQL + Redis

Seeds a scratch database (a temporary SQLite file; on ``prod`` a new PostgreSQL database and a
Redis db number of its own, both dropped afterwards), starts gunicorn as production would
(BLOG_ENV=production, workers = CPU cores) with the page cache on and then off, and runs wrk
against the home page, a post, a tag page, a search and the feed, plus the bare Flask app under
the same gunicorn settings in the same run. Prints req/s, p50/p99 latency, server CPU ms per
request (from /proc: user + system time of gunicorn and its workers), non-2xx responses and
Set-Cookie headers seen, and each page's ratio to the bare app. Client and server share the
machine, so compare the ratios, not the absolute numbers, between machines and runs.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HELLO = '''from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return "Hello, World!"
'''
#: Counts the Set-Cookie headers wrk sees, over all of its threads.
WRK_LUA = '''local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) cookies = 0 end
function response(status, headers, body)
  if headers["Set-Cookie"] or headers["set-cookie"] then cookies = cookies + 1 end
end
function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("cookies") end
  io.write(string.format("cookies: %d\\n", n))
end
'''
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0"


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float
    non_2xx: int
    errors: int
    cookies: int


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk not found: installing the distribution's package", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run([*sudo, "apt-get", "install", "-y", "wrk"], check=True)
    return shutil.which("wrk") or sys.exit("could not install wrk")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid``, its live children (gunicorn's workers) and the ones it has reaped.

    gunicorn recycles a worker after ``max_requests``: the dead worker's time is in the arbiter's
    cutime/cstime, so counting the live workers alone made a block's CPU go down, even negative.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    try:
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    for each in pids:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
        if each == pid:
            total += (int(fields[13]) + int(fields[14])) / ticks
    return total


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


class Server:
    """gunicorn serving ``module:app`` from ``cwd`` with ``env``, until stopped."""

    def __init__(self, module: str, cwd: Path, env: dict[str, str], workers: int, gunicorn: str,
                 config: Path, log: Path) -> None:
        self.port = _free_port()
        self.app_log = Path(env["LOG_FILE"]) if "LOG_FILE" in env else None  # the blog's own log (errors)
        # Both apps get the same settings file (production's gunicorn.conf.py: its access log line
        # per request included), else the bare app would be measured without work the blog pays for.
        # Its stdout (the access log) goes to a file, as under journald, not to this terminal.
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [gunicorn, module, "-c", str(config), "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers),
             "--no-control-socket", "--log-level", "warning"],
            cwd=cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=5).read()
                return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"{module} did not start")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def _check(url: str, app_log: Path | None) -> int:
    """One request first: it must be a 2xx without a cookie (and it warms the caches). Returns 1
    when it failed (counted with the page's non-2xx), after printing the app's last logged error."""
    request = urllib.request.Request(url, headers={"User-Agent": BROWSER, "Accept-Encoding": "gzip"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            if "Set-Cookie" in response.headers:
                print(f"  warning: {url} sets a cookie for a guest", flush=True)
        return 0
    except OSError as error:  # the run goes on
        print(f"  warning: {url}: {error}", flush=True)
        text = app_log.read_text(errors="replace") if app_log is not None and app_log.exists() else ""
        start = text.rfind("Traceback")
        if start >= 0:
            print("  " + text[text.rfind("\n", 0, start) + 1:].strip()[-4000:].replace("\n", "\n  "), flush=True)
        return 1


def _wrk(wrk: str, server: Server, name: str, path: str, options, lua: Path) -> Result:
    url = server.url(path)
    failed = _check(url, server.app_log)
    before = _cpu_seconds(server.process.pid)
    out = subprocess.run(
        [wrk, f"-t{options.threads}", f"-c{options.connections}", f"-d{options.duration}s", "--latency",
         "-s", str(lua), "-H", "Accept-Encoding: gzip", "-H", f"User-Agent: {BROWSER}", url],
        capture_output=True, text=True, check=True).stdout
    cpu = _cpu_seconds(server.process.pid) - before
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    cookies = int(re.search(r"cookies: (\d+)", out).group(1))  # type: ignore[union-attr]
    return Result(name, rps, p50, p99, cpu * 1000 / max(requests, 1), failed + (int(non_2xx.group(1)) if non_2xx else 0),
                  sum(int(n) for n in errors.groups()) if errors else 0, cookies)


def _seed(app_dir: Path, env: dict[str, str], options, flask: str, seeded: bool = False) -> dict[str, str]:
    """Migrate and seed the scratch database (unless kept from an earlier run); returns the paths to load."""
    started = time.perf_counter()
    if not seeded:
        subprocess.run([flask, "--app", "wsgi", "db", "upgrade"], cwd=app_dir, env=env, check=True,
                       capture_output=True)
        subprocess.run([flask, "--app", "wsgi", "seed-db", "--posts", str(options.posts), "--comments",
                        str(options.comments), "--users", "100"], cwd=app_dir, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        print(f"seeded {options.posts} posts, {options.comments} comments in {time.perf_counter() - started:.0f}s",
              flush=True)
        # Planner statistics, as after any bulk load (the app's analyze_database task does it every 6 h on SQLite).
        url = env["DATABASE_URL"]
        if url.startswith("sqlite:///"):
            import sqlite3

            with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
                conn.execute("ANALYZE")
        else:
            import psycopg

            with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
                conn.execute("ANALYZE")
    probe = subprocess.run(
        [sys.executable, "-c", (
            "from wsgi import app\n"
            "from sqlalchemy import select, func\n"
            "from blog.extensions import db\n"
            "from blog.models import Comment, Post, Tag, post_tags\n"
            "with app.app_context():\n"
            # A typical post: the newest with a handful of comments (the seed gives a few posts huge threads).
            "    n = select(Comment.post_id, func.count().label('n')).where(Comment.status == 'approved')"
            ".group_by(Comment.post_id).subquery()\n"
            "    post = db.session.scalar(select(Post.slug).join(n, n.c.post_id == Post.id)"
            ".where(Post.status == 'published', n.c.n.between(3, 30)).order_by(Post.published_at.desc()).limit(1))\n"
            "    tag = db.session.scalar(select(Tag.slug).join(post_tags).group_by(Tag.id)"
            ".order_by(func.count().desc()).limit(1))\n"
            "    print(post); print(tag)\n")],
        cwd=app_dir, env=env, check=True, capture_output=True, text=True).stdout.split()
    return {"/": "/", "post": f"/blog/{probe[0]}", "tag": f"/tag/{probe[1]}", "search": "/search?q=python",
            "feed": "/feed.xml"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--comments", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=5, help="seconds of load per URL")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="gunicorn workers (cores)")
    parser.add_argument("--stack", default=os.environ.get("BENCH_STACK", "embedded"), choices=["embedded", "prod"])
    parser.add_argument("--app-dir", type=Path, default=ROOT, help="the checkout to serve (to compare branches)")
    parser.add_argument("--keep", metavar="NAME", help="seed once into a database named NAME (a SQLite file in "
                        "the temp folder, or a PostgreSQL database) kept for the next run with the same NAME")
    options = parser.parse_args()

    wrk = _ensure_wrk()
    bindir = Path(sys.executable).parent
    gunicorn, flask = str(bindir / "gunicorn"), str(bindir / "flask")
    scratch = Path(tempfile.mkdtemp(prefix="blog-load-"))
    lua = scratch / "count.lua"
    lua.write_text(WRK_LUA)
    (scratch / "hello.py").write_text(HELLO)
    env = {**os.environ, "BLOG_ENV": "production", "SECRET_KEY": "bench-only-secret", "INSTANCE_PATH": str(scratch),
           "LOG_LEVEL": "WARNING", "LOG_FILE": str(scratch / "blog.log"), "SITE_URL": "http://127.0.0.1"}
    env.pop("REDIS_URL", None)
    dropdb = None
    if options.stack == "prod":
        import psycopg

        admin_url = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1/postgres")
        name = f"bench_load_{options.keep or os.getpid()}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
        seeded = bool(exists and options.keep)
        dropdb = None if options.keep else (admin_url, name)
        env["DATABASE_URL"] = f"postgresql+psycopg://postgres@127.0.0.1/{name}"
        env["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
        import redis

        redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    else:
        kept = Path(tempfile.gettempdir()) / f"blog-load-{options.keep}.db" if options.keep else scratch / "bench.db"
        seeded = kept.exists()
        env["DATABASE_URL"] = f"sqlite:///{kept}"
    results: list[tuple[Result, Result, Result]] = []
    hellos: list[Result] = []
    try:
        paths = _seed(options.app_dir, env, options, flask, seeded=seeded)
        config, log = options.app_dir / "gunicorn.conf.py", scratch / "gunicorn.log"

        def bare() -> Result:
            # Measured again around each block of pages: on a shared machine the load moves during
            # a run, and a ratio to one early measurement would blame the blog for the neighbours.
            hello = Server("hello:app", scratch, {**os.environ, "PYTHONPATH": str(scratch)}, options.workers,
                           gunicorn, config, log)
            try:
                found = _wrk(wrk, hello, "bare Flask hello", "/", options, lua)
            finally:
                hello.stop()
            print(f"  bare Flask hello: {found.rps:.0f} req/s, {found.cpu_ms:.2f} CPU ms", flush=True)
            return found

        hellos.append(bare())
        for cached in (True, False):
            server = Server("wsgi:app", options.app_dir, {**env, "PAGE_CACHE": "true" if cached else "false"},
                            options.workers, gunicorn, config, log)
            block = []
            try:
                for name, path in paths.items():
                    label = f"{name} ({'cached' if cached else 'uncached'})"
                    block.append(_wrk(wrk, server, label, path, options, lua))
                    print(f"  {label}: {block[-1].rps:.0f} req/s, {block[-1].cpu_ms:.2f} CPU ms", flush=True)
            finally:
                server.stop()
            hellos.append(bare())
            for result in block:  # each block against the bare runs just before and after it
                results.append((result, hellos[-2], hellos[-1]))
    finally:
        if dropdb:
            import psycopg

            with psycopg.connect(dropdb[0], autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{dropdb[1]}" WITH (FORCE)')
            import redis

            redis.Redis.from_url(env["REDIS_URL"]).flushdb()
        shutil.rmtree(scratch, ignore_errors=True)

    print(f"\nstack: {options.stack}; {options.posts} posts, {options.comments} comments; gunicorn -w {options.workers} "
          f"sync (-c gunicorn.conf.py for both apps); wrk -t{options.threads} -c{options.connections} "
          f"-d{options.duration}s; load average {' '.join(f'{n:.1f}' for n in os.getloadavg())}\n")
    print("bare Flask hello runs: " + ", ".join(f"{h.rps:,.0f} req/s ({h.cpu_ms:.2f} CPU ms)" for h in hellos))
    print("× bare Flask: req/s over the mean of the bare runs before and after the block; "
          "CPU ×: the bare app's CPU ms per request over the page's (less sensitive to the machine's load)\n")
    print("| page | req/s | × bare Flask | CPU × | p50 ms | p99 ms | server CPU ms/req | non-2xx + socket errors "
          "| cookies |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r, before, after in results:
        rps = (before.rps + after.rps) / 2
        cpu = (before.cpu_ms + after.cpu_ms) / 2
        print(f"| {r.name} | {r.rps:,.0f} | {r.rps / rps:.3f} | {cpu / max(r.cpu_ms, 1e-9):.3f} | {r.p50_ms:.1f} | "
              f"{r.p99_ms:.1f} | {r.cpu_ms:.2f} | {r.non_2xx + r.errors} | {r.cookies} |")

if __name__ == "__main__":
    main()
