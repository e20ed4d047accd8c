"""The queue is the one the app's configuration names, and its real storage works end to end."""
from __future__ import annotations

from sqlalchemy import select

from blog.extensions import db
from blog.models import MailMessage
from blog.services import mail
from blog.tasks import huey
from tests.faults.conftest import make_live_app


def _run_queued() -> int:
    done = 0
    while (task := huey.dequeue()) is not None:
        huey.execute(task)
        done += 1
    return done


def test_without_redis_the_app_configures_a_sqlite_queue_and_mail_goes_through_it(tmp_path):
    app = make_live_app(tmp_path, HUEY_IMMEDIATE=False, REDIS_URL=None, MAIL_SERVER=None)
    assert type(huey.storage).__name__ == "SqliteStorage" and huey.immediate is False
    assert huey.storage.filename == str(tmp_path / "huey.db")
    with app.app_context():
        db.create_all()
        mail.compose("test", "ann@example.com", "password_changed", "Hello", user=type("U", (), {"username": "ann"})())
        db.session.commit()
        assert huey.pending_count() == 1  # queued, not run inline
        assert db.session.scalar(select(MailMessage.sent_at)) is None
        assert _run_queued() == 1
        db.session.expire_all()
        assert db.session.scalar(select(MailMessage.sent_at)) is not None
        db.session.remove()
        db.engine.dispose()


def test_each_app_reconfigures_the_one_queue(tmp_path):
    make_live_app(tmp_path, HUEY_IMMEDIATE=False, REDIS_URL=None)
    assert huey.immediate is False
    make_live_app(tmp_path)  # the suite's default: in memory, immediate
    assert huey.immediate is True and type(huey.storage).__name__ == "MemoryStorage"
