"""Mail: stored with the change that caused it, sent after commit, retried with back-off, re-sent when stale."""
from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from blog.extensions import db
from blog.models import MailMessage
from blog.models import utcnow
from blog.services import mail
from blog.tasks import huey
from blog.tasks import resend_stale_mail
from blog.tasks import send_mail
from tests.conftest import free_port
from tests.conftest import read_outbox

TEXT = ("Hello {{ name }},\n\nconfirm here: {{ link }}\nread: {{ absolute_url('posts.detail', slug='hello') }}\n"
        "\n{{ site_name }} at {{ site_url }}\n")
HTML = ('{% extends "email/base.html" %}{% block content %}<p>Hello {{ name }},</p>'
        '<p><a href="{{ link }}">Confirm</a></p>{% endblock %}')
LINK = "http://localhost/auth/confirm/abc123"


@pytest.fixture
def app(app, tmp_path):
    """Test templates in a folder of their own; mail goes to a temporary outbox unless a test sets a server."""
    folder = tmp_path / "templates" / "email"
    folder.mkdir(parents=True)
    (folder / "test_greeting.txt").write_text(TEXT)
    (folder / "test_greeting.html").write_text(HTML)
    (folder / "test_plain.txt").write_text('{% extends "email/base.txt" %}{% block content %}Just text.{% endblock %}')
    app.jinja_loader.searchpath.append(str(tmp_path / "templates"))
    app.config.update(MAIL_SERVER=None, MAIL_USERNAME=None, MAIL_PASSWORD=None, MAIL_USE_TLS=False,
                      MAIL_OUTBOX=str(tmp_path / "outbox"), MAIL_DEFAULT_SENDER="Inkwell <noreply@inkwell.test>",
                      MAIL_MAX_ATTEMPTS=8, MAIL_RESEND_AFTER_MINUTES=5, MAIL_GIVE_UP_HOURS=24)
    return app


@pytest.fixture
def smtp(app, smtp_server):
    """Mail goes over SMTP to the in-process server."""
    app.config.update(MAIL_SERVER=smtp_server.host, MAIL_PORT=smtp_server.port)
    return smtp_server


@pytest.fixture
def smtp_down(app):
    """MAIL_SERVER points at a port nothing listens on."""
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())


def greeting(recipient: str = "ann@example.com", subject: str = "Confirm your address", **context) -> MailMessage:
    context.setdefault("name", "Ann")
    return mail.compose("verify_email", recipient, "test_greeting", subject, link=LINK, **context)


def stored(age_minutes: int = 10, **fields) -> int:
    """An outbox row written without the ORM flush, so nothing queues it: as if its worker died."""
    values = {"kind": "verify_email", "recipient": "old@example.com", "subject": "Left behind", "text_body": "Hi",
              "html_body": "", "attempts": 0, "last_error": "", "created_at": utcnow() - timedelta(minutes=age_minutes)}
    values.update(fields)
    message_id = db.session.execute(MailMessage.__table__.insert().values(**values)).inserted_primary_key[0]
    db.session.commit()
    return message_id


def row(message_id: int) -> MailMessage:
    db.session.expire_all()
    return db.session.get(MailMessage, message_id)


def test_committed_mail_is_sent_over_smtp_with_text_and_html(app, smtp):
    message = greeting(name="<Ann>")
    db.session.flush()
    assert smtp.messages == []  # flushed is not committed: nothing leaves yet
    db.session.commit()

    [sent] = smtp.messages
    assert sent["Subject"] == "Confirm your address"
    assert sent["To"] == "ann@example.com"
    assert sent["From"] == "Inkwell <noreply@inkwell.test>"
    assert sent["Date"] and sent["Message-ID"].endswith("@inkwell.test>")
    assert smtp.envelopes[0].rcpt_tos == ["ann@example.com"]
    text = sent.get_body(("plain",)).get_content()
    html = sent.get_body(("html",)).get_content()
    assert f"confirm here: {LINK}" in text and "Hello <Ann>," in text
    assert "read: http://localhost/blog/hello" in text
    assert f'<a href="{LINK}">Confirm</a>' in html and "Hello &lt;Ann&gt;," in html  # HTML is escaped, text is not
    assert "Inkwell" in html and "http://localhost" in text  # site_name and site_url come with every mail
    assert smtp.logins == []

    saved = row(message.id)
    assert saved.sent_at is not None and saved.attempts == 1 and saved.last_error == ""


def test_a_rolled_back_change_sends_nothing_and_keeps_no_row(app, smtp):
    greeting(subject="Never")
    db.session.flush()
    db.session.rollback()
    greeting(subject="Later one")
    db.session.commit()
    assert [m["Subject"] for m in smtp.messages] == ["Later one"]  # the rolled-back id was forgotten
    assert db.session.scalars(select(MailMessage.subject)).all() == ["Later one"]


def test_mail_in_a_savepoint_waits_for_the_outer_commit(app, smtp):
    greeting(subject="Outer")
    with db.session.begin_nested():
        greeting(subject="Kept")
    assert smtp.messages == []  # releasing a savepoint is not a commit
    savepoint = db.session.begin_nested()
    greeting(subject="Dropped")
    db.session.flush()
    savepoint.rollback()
    db.session.commit()
    assert sorted(m["Subject"] for m in smtp.messages) == ["Kept", "Outer"]


def test_mail_logs_in_when_a_username_is_set(app, smtp):
    app.config.update(MAIL_USERNAME="blog", MAIL_PASSWORD="s3cret")
    greeting()
    db.session.commit()
    assert smtp.logins == [("blog", "s3cret")] and len(smtp.messages) == 1


def test_without_a_mail_server_mail_lands_in_the_outbox_as_eml(app, tmp_path):
    message = greeting()
    db.session.commit()
    outbox = tmp_path / "outbox"
    [path] = outbox.iterdir()  # no temporary file left beside it
    assert re.fullmatch(rf"\d{{8}}T\d{{12}}Z-{message.id}-verify_email\.eml", path.name)
    [saved] = read_outbox(outbox)
    assert saved["To"] == "ann@example.com" and saved["Subject"] == "Confirm your address"
    assert LINK in saved.get_body(("plain",)).get_content()
    assert LINK in saved.get_body(("html",)).get_content()
    assert row(message.id).sent_at is not None


def test_a_template_without_html_sends_plain_text_only(app):
    message = mail.compose("notice", "bob@example.com", "test_plain", "Plain")
    db.session.commit()
    assert row(message.id).html_body == ""
    [saved] = read_outbox(app.config["MAIL_OUTBOX"])
    assert saved.get_content_type() == "text/plain"
    assert saved.get_content() == "Just text.\n\n-- \nInkwell\nhttp://localhost/\n"


def test_subjects_and_recipients_cannot_inject_headers_or_overflow(app):
    message = mail.compose("notice", "bob@example.com", "test_plain", "Hi\r\nBcc: eve@example.com")
    assert message.subject == "Hi Bcc: eve@example.com"
    assert len(mail.compose("notice", "bob@example.com", "test_plain", "x" * 300).subject) == 200
    db.session.commit()  # fits the column, on PostgreSQL too
    with pytest.raises(ValueError):
        mail.compose("notice", "bob@example.com\r\nBcc: eve@example.com", "test_plain", "Hi")


def test_smtp_down_keeps_the_mail_and_backs_off_longer_each_time(app, smtp_down, caplog):
    message = greeting()
    with caplog.at_level(logging.WARNING, logger="blog.services.mail"):
        db.session.commit()  # the commit itself succeeds: the failure is the task's
    saved = row(message.id)
    assert saved.sent_at is None and saved.attempts == 1
    assert "ConnectionRefusedError" in saved.last_error
    assert "retrying in 30s" in caplog.text
    assert huey.scheduled() == []  # no retry chain in the queue: the row says when (next_attempt_at)
    assert abs((saved.next_attempt_at - saved.created_at).total_seconds() - 30) < 5

    later = saved.next_attempt_at
    assert mail.deliver(message.id, now=later) == 60
    assert mail.deliver(message.id, now=later + timedelta(seconds=60)) == 120
    assert row(message.id).attempts == 3 and row(message.id).sent_at is None


class Clock:
    """The mail service's idea of now, moved by the test (the periodic task runs as if time passed)."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(mail, "utcnow", clock)
    return clock


def test_a_mail_waiting_out_its_back_off_is_not_sent_nor_queued_again(app, smtp_down, clock):
    """resend_stale used to queue any old unsent row, adding a retry chain each run: all attempts went in minutes."""
    message = greeting()
    db.session.commit()
    due = row(message.id).next_attempt_at
    clock.now = due - timedelta(seconds=1)
    assert mail.deliver(message.id) is None  # not due: no attempt spent
    assert mail.resend_stale() == 0
    assert row(message.id).attempts == 1
    clock.now = due
    assert mail.resend_stale() == 1  # its time has come: queued once (and tried: immediate Huey)
    assert row(message.id).attempts == 2
    assert mail.resend_stale() == 0  # and now it waits 60 s


def test_mail_survives_a_day_of_smtp_outage_then_arrives_once(app, smtp_down, smtp_server, clock):
    """The periodic task runs every minute through 23 hours of outage: back-off holds, nothing is lost."""
    app.config["MAIL_MAX_ATTEMPTS"] = 50
    message = greeting()
    db.session.commit()
    start = row(message.id).created_at
    for minute in range(1, 23 * 60):
        clock.now = start + timedelta(minutes=minute)
        mail.resend_stale()
    outage = row(message.id)
    assert outage.sent_at is None and outage.failed_at is None
    assert 20 < outage.attempts < 35  # about one attempt an hour once the back-off reached its cap
    app.config.update(MAIL_SERVER=smtp_server.host, MAIL_PORT=smtp_server.port)  # SMTP is back
    for minute in range(23 * 60, 24 * 60 + 5):
        clock.now = start + timedelta(minutes=minute)
        mail.resend_stale()
    assert row(message.id).sent_at is not None
    assert len(smtp_server.messages) == 1


def test_mail_is_given_up_after_max_attempts(app, smtp_down, caplog):
    app.config["MAIL_MAX_ATTEMPTS"] = 3
    message = greeting()
    db.session.commit()
    later = utcnow() + timedelta(hours=1)
    assert mail.deliver(message.id, now=later) == 60
    with caplog.at_level(logging.ERROR, logger="blog.services.mail"):
        assert mail.deliver(message.id, now=later + timedelta(hours=1)) is None
    assert "given up after 3 attempts" in caplog.text
    assert mail.deliver(message.id, now=later + timedelta(hours=2)) is None  # not tried again
    assert row(message.id).attempts == 3 and row(message.id).failed_at is not None
    assert mail.resend_stale(now=utcnow() + timedelta(hours=5)) == 0
    assert mail.given_up_count() == 1


def test_mail_is_given_up_after_give_up_hours(app, smtp_down, caplog):
    message = greeting()
    db.session.commit()
    with caplog.at_level(logging.ERROR, logger="blog.services.mail"):
        assert mail.deliver(message.id, now=utcnow() + timedelta(hours=24, minutes=1)) is None
    assert "given up after 2 attempts" in caplog.text
    assert row(message.id).failed_at is not None and mail.stuck_count() == 0


def test_stuck_count_counts_unsent_mail_older_than_a_lease(app, smtp_down):
    greeting()
    db.session.commit()
    assert mail.stuck_count() == 0
    assert mail.stuck_count(now=utcnow() + timedelta(minutes=6)) == 1


def test_a_claimed_message_is_not_sent_by_a_second_worker_until_its_claim_ends(app, smtp, clock):
    """A worker killed mid-send leaves its claim; the mail is due again one lease later."""
    message_id = stored(age_minutes=10, attempts=1, next_attempt_at=utcnow() + timedelta(minutes=5))
    assert mail.deliver(message_id) is None and smtp.messages == []
    assert mail.resend_stale() == 0
    clock.now = utcnow() + timedelta(minutes=5, seconds=1)
    assert mail.resend_stale() == 1
    assert len(smtp.messages) == 1 and row(message_id).attempts == 2


def test_deliver_is_idempotent(app, smtp):
    message = greeting()
    db.session.commit()
    assert mail.deliver(message.id) is None
    assert send_mail.call_local(message.id) is None
    assert len(smtp.messages) == 1 and row(message.id).attempts == 1
    assert mail.deliver(999_999) is None  # a row that is gone


def test_resend_stale_sends_only_old_unsent_mail(app, smtp):
    old = stored(age_minutes=10, subject="Old")
    fresh = stored(age_minutes=1, subject="Fresh")
    stored(age_minutes=10, subject="Sent", sent_at=utcnow() - timedelta(minutes=9), attempts=1)
    stored(age_minutes=10, subject="Given up", attempts=8)
    stored(age_minutes=10, subject="Failed", attempts=2, failed_at=utcnow())
    assert smtp.messages == []  # stored outside the ORM flush: nothing queued them

    assert mail.resend_stale() == 1
    assert [m["Subject"] for m in smtp.messages] == ["Old"]
    assert row(old).sent_at is not None and row(fresh).sent_at is None

    assert resend_stale_mail.call_local() == 0  # the periodic task: nothing else is old enough yet
    assert mail.resend_stale(now=utcnow() + timedelta(minutes=5)) == 1
    assert [m["Subject"] for m in smtp.messages] == ["Old", "Fresh"]


def test_a_message_another_worker_is_sending_is_skipped(app, smtp):
    if db.engine.dialect.name == "sqlite":
        pytest.skip("SQLite has no row locks; PostgreSQL's FOR UPDATE SKIP LOCKED guards concurrent workers")
    message_id = stored(age_minutes=10)
    with Session(db.engine) as other_worker:
        other_worker.scalars(select(MailMessage).where(MailMessage.id == message_id).with_for_update()).one()
        assert mail.deliver(message_id) is None
        assert smtp.messages == [] and row(message_id).attempts == 0
    assert mail.deliver(message_id) is None
    assert len(smtp.messages) == 1 and row(message_id).sent_at is not None


def test_links_in_mail_use_site_url_not_the_request_host(app):
    with app.test_request_context("/", base_url="http://attacker.example"):
        assert mail.absolute_url("main.index") == "http://localhost/"
        assert mail.absolute_url("posts.detail", slug="hello") == "http://localhost/blog/hello"
    app.config["SITE_URL"] = "https://example.org/site"  # outside a request too, and under a path prefix
    assert mail.absolute_url("posts.detail", slug="hello", page=2) == "https://example.org/site/blog/hello?page=2"


def test_a_queue_outage_does_not_undo_the_change(app, smtp, monkeypatch, caplog):
    def unreachable(task):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(huey, "enqueue", unreachable)
    message = greeting()
    db.session.commit()  # no exception: the row is saved, and the periodic re-send will queue it
    assert "could not queue mail" in caplog.text
    monkeypatch.undo()
    assert smtp.messages == [] and row(message.id).sent_at is None
    assert mail.resend_stale(now=utcnow() + timedelta(minutes=5)) == 1
    assert len(smtp.messages) == 1
