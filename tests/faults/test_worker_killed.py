"""A Huey consumer killed with ``kill -9`` while it holds mail: nothing is lost.

Real processes: ``huey_consumer wsgi.huey`` on our own redis-server, our own SMTP server that
holds the first messages in their DATA step (so the kill lands inside the SMTP exchange), and
the test's database. What the dead consumer had claimed is due again one lease later
(MAIL_RESEND_AFTER_MINUTES, shortened here to 3 s) and a second consumer sends it.
"""
from __future__ import annotations

import asyncio
import email
import email.policy
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlalchemy import select

from blog.extensions import db
from blog.models import MailMessage
from blog.services import mail
from tests.conftest import free_port
from tests.faults.conftest import make_live_app

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
HUEY = Path(sys.executable).parent / "huey_consumer"
LEASE_MINUTES = 0.05  # 3 s


class SlowInbox:
    """Holds the first ``hold`` messages for ``seconds`` in DATA; records every subject it accepts."""

    def __init__(self, hold: int, seconds: float) -> None:
        self.hold, self.seconds = hold, seconds
        self.subjects: list[str] = []
        self.arrived = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        self.arrived += 1
        if self.arrived <= self.hold:
            await asyncio.sleep(self.seconds)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.subjects.append(str(message["Subject"]))
        return "250 OK"


def _consumer(env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen([str(HUEY), "wsgi.huey", "-w", "2", "-k", "thread"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)


def _wait(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_mail_held_by_a_killed_consumer_is_sent_by_the_next_one(tmp_path, redis_server):
    from aiosmtpd.controller import Controller

    if not HUEY.exists():
        pytest.skip("huey_consumer is not installed next to this Python")
    db_url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'live.db'}"
    inbox = SlowInbox(hold=2, seconds=5)
    smtp_port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port, server_hostname="localhost",
                            ready_timeout=5)
    controller.start()
    settings = {"REDIS_URL": redis_server.url, "HUEY_IMMEDIATE": False, "MAIL_SERVER": "127.0.0.1",
                "MAIL_PORT": smtp_port, "MAIL_RESEND_AFTER_MINUTES": LEASE_MINUTES,
                "SQLALCHEMY_DATABASE_URI": db_url, "RATELIMIT_STORAGE_URI": "memory://"}
    app = make_live_app(tmp_path, **settings)
    env = {key: value for key, value in os.environ.items() if not key.startswith("TEST_")}
    env.update(BLOG_ENV="development", INSTANCE_PATH=str(tmp_path), DATABASE_URL=db_url,
               SECRET_KEY=secrets.token_hex(16), REDIS_URL=redis_server.url, MAIL_SERVER="127.0.0.1",
               MAIL_PORT=str(smtp_port), MAIL_RESEND_AFTER_MINUTES=str(LEASE_MINUTES), LOG_LEVEL="INFO",
               LOG_FILE="", UPLOAD_FOLDER=str(tmp_path / "uploads"))
    first = second = None
    with app.app_context():
        db.drop_all()
        db.create_all()
        try:
            for n in range(6):
                mail.compose("test", f"reader{n}@example.com", "password_changed", f"Mail {n}",
                             user=type("U", (), {"username": f"reader{n}"})())
            db.session.commit()  # queued in Redis; no consumer runs yet
            first = _consumer(env, tmp_path / "huey-1.log")
            assert _wait(lambda: inbox.arrived >= 2, 30), "the first consumer never reached the SMTP server"
            first.send_signal(signal.SIGKILL)  # two mails are inside their DATA exchange now
            first.wait(timeout=10)
            time.sleep(LEASE_MINUTES * 60 + 0.5)  # their claims run out
            second = _consumer(env, tmp_path / "huey-2.log")  # its start-up catch-up re-queues them

            def all_sent() -> bool:
                db.session.expire_all()
                return db.session.scalar(select(func.count()).select_from(MailMessage)
                                         .where(MailMessage.sent_at.is_(None))) == 0

            assert _wait(all_sent, 40), (tmp_path / "huey-2.log").read_text()[-3000:]
            expected = {f"Mail {n}" for n in range(6)}
            assert set(inbox.subjects) == expected  # none lost
            # Only the two in their SMTP exchange at the kill may arrive twice (README, delivery guarantees).
            assert len(inbox.subjects) <= 6 + 2
        finally:
            for process in (first, second):
                if process is not None and process.poll() is None:
                    process.send_signal(signal.SIGINT)
                    try:
                        process.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        process.kill()
            controller.stop()
            db.session.remove()
            if db.engine.dialect.name != "sqlite":
                db.drop_all()
            db.engine.dispose()
