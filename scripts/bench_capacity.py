"""Requests per second one host serves: wrk against gunicorn (gunicorn.conf.py) on the seeded embedded stack.

    .venv/bin/python scripts/bench_capacity.py [--seconds 5] [--workers 2 4] [--connections 16]

Starts, in a temporary folder, a migrated and seeded blog (SQLite, BLOG_ENV=production settings,
file logging on), then for each worker count one gunicorn with gunicorn.conf.py, and runs wrk
(Debian's `wrk` package) against a few pages. Beside each figure: latency percentiles, the
server's CPU milliseconds per request (utime + stime of gunicorn and its workers from /proc) and
the same measurement for a bare Flask "hello" app on the same gunicorn config, because wrk and
the server share this machine's cores (and, on a shared machine, other people's work).
"""
from __future__ import annotations

import argparse
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HELLO = '''from flask import Flask
app = Flask(__name__)

@app.get("/")
def hello():
    return "hello"
'''


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid``, its live children (gunicorn's workers) and the children it has reaped."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid] + [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    for one in pids:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += sum(int(value) for value in fields[11:15 if one == pid else 13]) / ticks
    return total


def _wrk(url: str, seconds: int, connections: int) -> dict:
    done = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url],
                          capture_output=True, text=True, timeout=seconds + 30)
    out = done.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    count = int(re.search(r"(\d+) requests in", out).group(1))
    latency = {p: re.search(rf"\s{p}%\s+([\d.]+\w+)", out).group(1) for p in ("50", "99")}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "requests": count, "p50": latency["50"], "p99": latency["99"],
            "non2xx": int(errors.group(1)) if errors else 0}


def _serve(app: str, env: dict, workers: int, log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**env, "WEB_CONCURRENCY": str(workers)}
    with open(log, "ab") as out:
        proc = subprocess.Popen([str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "--bind",
                                 f"127.0.0.1:{port}", app], cwd=env.get("BENCH_CWD", ROOT), env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/", timeout=2).read()
            return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"{app} did not start; see {log}")


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--posts", type=int, default=200)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")

    tmp = Path(tempfile.mkdtemp(prefix="blog-capacity-"))
    env = {key: value for key, value in os.environ.items() if not key.startswith("TEST_")}
    env.update(BLOG_ENV="production", SECRET_KEY=secrets.token_hex(32), INSTANCE_PATH=str(tmp),
               DATABASE_URL=f"sqlite:///{tmp / 'blog.db'}", REDIS_URL="", MAIL_SERVER="", UPLOAD_FOLDER="",
               LOG_FILE="", LOG_LEVEL="INFO", BCRYPT_LOG_ROUNDS="4")
    for command in (["db", "upgrade"], ["seed-db", "--posts", str(args.posts), "--comments", str(args.posts * 3)]):
        subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *command], cwd=ROOT, env=env, check=True,
                       capture_output=True, timeout=300)
    import sqlite3

    with sqlite3.connect(tmp / "blog.db") as conn:
        slug, tag = conn.execute("SELECT slug FROM posts WHERE status='published' ORDER BY id LIMIT 1").fetchone()[0], \
            conn.execute("SELECT slug FROM tags ORDER BY id LIMIT 1").fetchone()[0]
    (tmp / "hello.py").write_text(HELLO)
    pages = {"home /": "/", "post /blog/<slug>": f"/blog/{slug}", "tag /tag/<slug>": f"/tag/{tag}",
             "feed /feed.xml": "/feed.xml", "/healthz": "/healthz"}

    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores); "
          f"{args.seconds} s runs, wrk -t2 -c{args.connections}; {args.posts} seeded posts")
    print(f"{'workers':>7}  {'page':<20} {'req/s':>8} {'p50':>8} {'p99':>8} {'CPU ms/req':>10}  non-2xx")
    for workers in args.workers:
        proc, url = _serve("hello:app", {**env, "BENCH_CWD": str(tmp), "PYTHONPATH": str(tmp)}, workers,
                           tmp / "hello.log")
        before = _cpu_seconds(proc.pid)
        result = _wrk(url + "/", args.seconds, args.connections)
        cpu = (_cpu_seconds(proc.pid) - before) * 1000 / max(result["requests"], 1)
        _stop(proc)
        print(f"{workers:>7}  {'bare Flask hello':<20} {result['rps']:>8.0f} {result['p50']:>8} {result['p99']:>8} "
              f"{cpu:>10.2f}  {result['non2xx']}")
        proc, url = _serve("wsgi:app", env, workers, tmp / "blog.log")
        for name, path in pages.items():
            urllib.request.urlopen(url + path, timeout=10).read()  # warm the caches
            before = _cpu_seconds(proc.pid)
            result = _wrk(url + path, args.seconds, args.connections)
            cpu = (_cpu_seconds(proc.pid) - before) * 1000 / max(result["requests"], 1)
            print(f"{workers:>7}  {name:<20} {result['rps']:>8.0f} {result['p50']:>8} {result['p99']:>8} "
                  f"{cpu:>10.2f}  {result['non2xx']}")
        _stop(proc)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
