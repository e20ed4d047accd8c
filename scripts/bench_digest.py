"""Benchmark the weekly digest for 10,000 subscribers: the run that enqueues, then the delivery.

    .venv/bin/python scripts/bench_digest.py [--subscribers 10000] [--workers 4]
                                             [--postgres postgresql+psycopg://postgres@127.0.0.1/bench_digest]

Runs on the embedded stack (SQLite file, SqliteHuey) and, with --postgres (or BENCH_POSTGRES_URL),
on that PostgreSQL database, which it EMPTIES first (give it a scratch database), with a Redis
server of its own on a free port (RedisHuey). Mail goes over SMTP to an aiosmtpd server in this
process, which only counts what it receives.

Measured per stack:
- the run: ``digest.send_digest()`` in-process, as the Monday task or ``flask send-digest`` does
  it: 10,000 delivery rows and outbox rows in batches of 500 addresses, and 10,000 ``send_mail``
  tasks put on the queue. No mail is sent yet (no consumer runs).
- the delivery: a real ``huey_consumer wsgi.huey`` with N thread workers started afterwards,
  timed until every outbox row has ``sent_at``; mails/second = subscribers / that time.
- a second run the same week, which must send nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child(subscribers: int, workers: int, run_only: bool = False) -> dict:
    """One stack (its environment set by the parent): seed, run, deliver, run again."""
    from datetime import timedelta

    from sqlalchemy import func
    from sqlalchemy import insert
    from sqlalchemy import select

    from blog import create_app
    from blog.extensions import db
    from blog.models import MailMessage
    from blog.models import Subscriber
    from blog.models import utcnow
    from blog.services import digest
    from tests.factories import make_post

    app = create_app()
    with app.app_context():
        db.drop_all()
        db.create_all()
        for n in range(5):
            make_post(title=f"Post {n} of the week", age_hours=24 * n + 1, summary="A summary of the post.")
        now = utcnow()
        rows = [{"email": f"reader{i:05d}@example.com", "scope": "all", "frequency": "digest", "created_at": now,
                 "confirmed_at": now - timedelta(days=1)} for i in range(subscribers)]
        for start in range(0, len(rows), 2000):
            db.session.execute(insert(Subscriber), rows[start:start + 2000])
        db.session.commit()

        started, cpu = time.perf_counter(), time.process_time()
        report = digest.send_digest()
        run_seconds, run_cpu = time.perf_counter() - started, time.process_time() - cpu
        queued = db.session.scalar(select(func.count()).select_from(MailMessage))
        if run_only:
            return {"subscribers": subscribers, "queued": queued, "run_s": round(run_seconds, 2),
                    "run_cpu_s": round(run_cpu, 2), "run_per_s": round(report.sent / run_seconds)}

        env = dict(os.environ)
        consumer = subprocess.Popen([str(Path(sys.executable).parent / "huey_consumer"), "wsgi.huey", "--workers",
                                     str(workers), "--worker-type", "thread", "--logfile", os.devnull],
                                    cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started = time.perf_counter()
        deadline = started + 1200
        try:
            while True:
                db.session.rollback()
                sent = db.session.scalar(select(func.count()).select_from(MailMessage)
                                         .where(MailMessage.sent_at.is_not(None)))
                if sent >= queued or time.perf_counter() > deadline:
                    break
                time.sleep(0.25)
            deliver_seconds = time.perf_counter() - started
        finally:
            consumer.send_signal(signal.SIGINT)  # graceful stop of the consumer this script started
            try:
                consumer.wait(timeout=30)
            except subprocess.TimeoutExpired:
                consumer.kill()

        started = time.perf_counter()
        second = digest.send_digest()
        second_seconds = time.perf_counter() - started
        return {"subscribers": subscribers, "queued": queued, "run_s": round(run_seconds, 2),
                "run_cpu_s": round(run_cpu, 2), "run_per_s": round(report.sent / run_seconds), "sent": sent, "deliver_s": round(deliver_seconds, 2),
                "mails_per_s": round(sent / deliver_seconds, 1), "second_run_sent": second.sent,
                "second_run_s": round(second_seconds, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL"))
    parser.add_argument("--run-only", action="store_true", help="Time the run alone (no consumer, no delivery).")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.subscribers, args.workers, args.run_only)))
        return

    from aiosmtpd.controller import Controller

    class Counter:
        received = 0

        async def handle_DATA(self, server, session, envelope) -> str:
            Counter.received += 1
            return "250 OK"

    smtp_port = free_port()
    controller = Controller(Counter(), hostname="127.0.0.1", port=smtp_port, server_hostname="localhost")
    controller.start()
    stacks = [("SQLite + SqliteHuey", None)] + ([("PostgreSQL + Redis", args.postgres)] if args.postgres else [])
    try:
        for name, database in stacks:
            tmp = Path(tempfile.mkdtemp(prefix="blog-bench-digest-"))
            env = {**os.environ, "BLOG_ENV": "development", "INSTANCE_PATH": str(tmp), "LOG_LEVEL": "WARNING",
                   "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp_port), "MAIL_USE_TLS": "false",
                   "DATABASE_URL": database or f"sqlite:///{tmp / 'bench.db'}", "REDIS_URL": ""}
            redis = None
            if database:
                redis_port = free_port()
                redis = subprocess.Popen(["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no"],
                                         stdout=subprocess.DEVNULL)
                time.sleep(0.5)
                env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
            before = Counter.received
            try:
                out = subprocess.run([sys.executable, __file__, "--child", "--subscribers", str(args.subscribers),
                                      "--workers", str(args.workers)] + (["--run-only"] if args.run_only else []), env=env, cwd=ROOT, capture_output=True,
                                     text=True, check=True)
            except subprocess.CalledProcessError as exc:
                print(exc.stderr[-3000:], file=sys.stderr)
                raise
            finally:
                if redis is not None:
                    redis.terminate()
                    redis.wait()
            result = json.loads(out.stdout.strip().splitlines()[-1])
            result["smtp_received"] = Counter.received - before
            load = os.getloadavg()[0]
            if args.run_only:
                print(f"{name}: {result['subscribers']} subscribers; run (rows + outbox + enqueue) {result['run_s']} s "
                      f"= {result['run_per_s']}/s, {result['run_cpu_s']} s of app CPU (load average {load:.1f})")
                continue
            print(f"{name}: {result['subscribers']} subscribers; run (rows + outbox + enqueue) {result['run_s']} s "
                  f"= {result['run_per_s']}/s; delivery with {args.workers} workers {result['deliver_s']} s = "
                  f"{result['mails_per_s']} mails/s ({result['smtp_received']} received by SMTP); second run the "
                  f"same week sent {result['second_run_sent']} in {result['second_run_s']} s; run used "
                  f"{result['run_cpu_s']} s of app CPU (load average {load:.1f})")
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
