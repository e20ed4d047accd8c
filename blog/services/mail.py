"""Outgoing mail through the outbox table: stored with the change that caused it, sent by a task.

``compose`` only adds a row to the caller's transaction. Session listeners (registered when
this module is imported) queue ``tasks.send_mail`` once that transaction commits, so a rolled
back change sends nothing and no caller can forget to send. ``deliver`` sends one row over
SMTP, or writes it to ``MAIL_OUTBOX`` as an ``.eml`` file when no ``MAIL_SERVER`` is set.
"""
from __future__ import annotations

import logging
import os
import re
import smtplib
import ssl
import tempfile
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from email.utils import formataddr
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit

from flask import current_app
from flask import render_template
from jinja2 import TemplateNotFound
from sqlalchemy import event
from sqlalchemy import and_
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm import SessionTransaction

from blog.extensions import db
from blog.models import MailMessage
from blog.models import utcnow

log = logging.getLogger(__name__)

#: ``session.info`` key: ids of mail flushed in the session's open transaction, queued on commit.
PENDING = "blog.mail.pending"
SMTP_TIMEOUT = 10
MAX_DELAY = 3600
SUBJECT_MAX = MailMessage.subject.type.length


def compose(kind: str, recipient: str, template: str, subject: str, *, headers: dict[str, str] | None = None,
            **context) -> MailMessage:
    """Add a message rendered from ``templates/email/<template>.txt`` (and ``.html`` if present) to the session.

    Templates also get ``site_name``, ``site_url``, ``subject`` and ``absolute_url(endpoint, **values)``
    (links on SITE_URL: mail is read outside the site, and maybe rendered by the worker, outside a request).
    Nothing is committed here: the caller commits it with the change that caused it, and the
    commit queues the sending. ``headers`` are added to the sent message as they are (bulk mail's
    ``List-Unsubscribe``; see ``unsubscribe_headers``).

    Raises:
        ValueError: ``recipient`` holds a line break (it would inject headers).
    """
    recipient = recipient.strip()
    if "\r" in recipient or "\n" in recipient:
        raise ValueError("A mail recipient cannot contain a line break.")
    headers = dict(headers or {})
    if any("\r" in f"{name}{value}" or "\n" in f"{name}{value}" for name, value in headers.items()):
        raise ValueError("A mail header cannot contain a line break.")
    # One header line (user text in it must not add headers) that fits the column: a long post
    # title must not make the caller's whole transaction fail.
    subject = " ".join(subject.split())[:SUBJECT_MAX]
    context.update(site_name=current_app.config["SITE_NAME"], site_url=current_app.config["SITE_URL"],
                   subject=subject, absolute_url=absolute_url)
    message = MailMessage(kind=kind, recipient=recipient, subject=subject,
                          text_body=render_template(f"email/{template}.txt", **context),
                          html_body=_render_optional(f"email/{template}.html", context), headers=headers)
    db.session.add(message)
    return message


def unsubscribe_headers(url: str) -> dict[str, str]:
    """``List-Unsubscribe`` with ``url`` (https on a real site) and RFC 8058 one-click, for bulk mail."""
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def queue_in_bulk(message_ids: list[int]) -> None:
    """Bulk mail: these flushed messages are not queued one task each on commit; the caller queues
    them with ``enqueue_batch`` once its transaction commits (one task per batch, not 10,000 tasks).
    """
    db.session.info.get(PENDING, set()).difference_update(message_ids)


def enqueue_batch(message_ids: list[int]) -> None:
    """Queue one task that delivers these committed messages in turn (failures go back to ``send_mail``'s
    retries); if the queue is down, the periodic re-send finds them."""
    from blog import tasks  # late, as in _enqueue

    try:
        tasks.send_mail_batch(list(message_ids))
    except Exception:
        log.exception("could not queue %s bulk mails", len(message_ids))


def absolute_url(endpoint: str, **values) -> str:
    """An absolute URL for ``endpoint`` on SITE_URL, for links in mail (templates get it as ``absolute_url``).

    Never from the request's Host header: a client controls that, and a password-reset link
    pointing at an attacker's host would hand them the token.
    """
    anchor = values.pop("_anchor", None)  # like url_for; Werkzeug's builder would make it a query argument
    site = urlsplit(current_app.config["SITE_URL"])
    adapter = current_app.url_map.bind(site.netloc, script_name=site.path or "/", url_scheme=site.scheme)
    url = adapter.build(endpoint, values, force_external=True)
    return f"{url}#{anchor}" if anchor else url


def _lease(config) -> timedelta:
    # How long a message may wait in the queue, or in a worker's hands, before it is queued again.
    return timedelta(minutes=config["MAIL_RESEND_AFTER_MINUTES"])


def _retry_delay(attempts: int) -> int:
    """Seconds to wait after failed attempt number ``attempts``: 30 s doubling, at most an hour."""
    return min(MAX_DELAY, 30 * 2 ** (attempts - 1))


def deliver(message_id: int, *, now: datetime | None = None) -> int | None:
    """Send one stored message if it is due; ``None`` when done (sent, gone, not due, or given up), else
    the seconds until its next attempt (recorded as ``next_attempt_at``, which the periodic re-send honours).

    The message is first *claimed* in a short transaction of its own (its attempt counted and its
    ``next_attempt_at`` pushed one lease ahead), then sent with no transaction open. Two workers
    holding the same id (a lost-and-found re-send next to the original task) cannot both send it:
    only one claim matches. A worker killed mid-send leaves the claim; the message is due again
    when the lease ends, and may then be delivered twice if the kill came after the SMTP server
    had taken it (README, "Delivery guarantees").
    """
    config = current_app.config
    now = now or utcnow()
    # A session of its own: under immediate Huey this runs inside the caller's after_commit,
    # where the committing session must not be used; in the worker it is a short unit of work.
    with Session(db.engine, expire_on_commit=False) as session:
        # PostgreSQL: a row another worker is claiming right now is skipped, not waited for.
        message = session.scalars(
            select(MailMessage).where(MailMessage.id == message_id).with_for_update(skip_locked=True)
        ).first()
        if message is None or not _is_due(message, now, config):
            return None
        seen = message.attempts
        claimed = session.execute(
            update(MailMessage)
            .where(MailMessage.id == message_id, MailMessage.attempts == message.attempts,
                   MailMessage.sent_at.is_(None), MailMessage.failed_at.is_(None))
            .values(attempts=seen + 1, next_attempt_at=now + _lease(config))
            .execution_options(synchronize_session=False)
        ).rowcount
        session.commit()
        if not claimed:  # another worker claimed it between our read and our write (SQLite)
            return None
        set_committed_value(message, "attempts", seen + 1)
        try:
            mime = _build(message)
            if config["MAIL_SERVER"]:
                _send_smtp(mime)
            else:
                _write_eml(mime, message)
        except Exception as exc:  # every failed attempt counts, or a mail that always fails would retry forever
            return _failed(session, message, exc, now, config)
        message.sent_at, message.last_error, message.next_attempt_at = utcnow(), "", None
        session.commit()
        log.info("mail %s (%s) sent", message_id, message.kind)
        return None


def _is_due(message: MailMessage, now: datetime, config) -> bool:
    return (message.sent_at is None and message.failed_at is None
            and message.attempts < config["MAIL_MAX_ATTEMPTS"]
            and (message.next_attempt_at is None or message.next_attempt_at <= now))


def _failed(session: Session, message: MailMessage, exc: Exception, now: datetime, config) -> int | None:
    """Record a failed attempt: the next one's time, or that the message is given up."""
    message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    transient = isinstance(exc, (OSError, smtplib.SMTPException))
    too_old = now - message.created_at >= timedelta(hours=config["MAIL_GIVE_UP_HOURS"])
    if too_old or message.attempts >= config["MAIL_MAX_ATTEMPTS"]:
        message.failed_at, message.next_attempt_at = now, None
        session.commit()
        log.error("mail %s (%s) given up after %s attempts: %s", message.id, message.kind,
                  message.attempts, message.last_error, exc_info=not transient)
        return None
    delay = _retry_delay(message.attempts)
    message.next_attempt_at = now + timedelta(seconds=delay)
    session.commit()
    log.warning("mail %s (%s) not sent, attempt %s, retrying in %ss: %s", message.id, message.kind,
                message.attempts, delay, message.last_error, exc_info=not transient)
    return delay


def _due_rows(now: datetime, config):
    """Unsent, not given up, and due: its retry time has come, or it waited a lease without being tried."""
    return (MailMessage.sent_at.is_(None), MailMessage.failed_at.is_(None),
            MailMessage.attempts < config["MAIL_MAX_ATTEMPTS"],
            or_(MailMessage.next_attempt_at <= now,
                and_(MailMessage.next_attempt_at.is_(None), MailMessage.created_at <= now - _lease(config))))


def resend_stale(now: datetime | None = None) -> int:
    """Queue every message that is due again (the every-minute task); how many.

    Due means: a failed attempt's back-off (``next_attempt_at``) has passed, or a worker's claim
    ran out (it died), or the message waited MAIL_RESEND_AFTER_MINUTES and was never tried (its
    enqueue was lost). A message waiting out its back-off is left alone, so this task cannot
    add retries to it; ``deliver`` checks again before sending.
    """
    config = current_app.config
    with Session(db.engine) as session:
        ids = session.scalars(
            select(MailMessage.id).where(*_due_rows(now or utcnow(), config)).order_by(MailMessage.id).limit(1000)
        ).all()
    for message_id in ids:
        _enqueue(message_id)
    return len(ids)


def stuck_count(now: datetime | None = None) -> int:
    """Messages unsent for longer than a lease and not given up (for the admin dashboard)."""
    config = current_app.config
    cutoff = (now or utcnow()) - _lease(config)
    return db.session.scalar(select(func.count()).select_from(MailMessage).where(
        MailMessage.sent_at.is_(None), MailMessage.failed_at.is_(None), MailMessage.created_at <= cutoff))


def given_up_count() -> int:
    """Messages that will not be tried again (MAIL_GIVE_UP_HOURS or MAIL_MAX_ATTEMPTS reached)."""
    return db.session.scalar(select(func.count()).select_from(MailMessage).where(MailMessage.failed_at.is_not(None)))


def _build(message: MailMessage) -> EmailMessage:
    # Plain text, with an HTML alternative when there is one.
    # Always "SITE_NAME <address>": inboxes show the site's name, whatever MAIL_DEFAULT_SENDER names.
    address = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1] or "noreply@localhost"
    sender = formataddr((current_app.config["SITE_NAME"], address))
    domain = address.rpartition("@")[2] or "localhost"
    created = message.created_at.replace(tzinfo=UTC)
    mime = EmailMessage()
    mime["From"] = sender
    mime["To"] = message.recipient
    mime["Subject"] = message.subject
    # Date and Message-ID come from the row, so a re-sent copy is recognisably the same mail.
    mime["Date"] = format_datetime(created)
    mime["Message-ID"] = f"<{created:%Y%m%d%H%M%S}.{message.id}@{domain}>"
    for name, value in (message.headers or {}).items():
        mime[name] = value
    mime.set_content(message.text_body)
    if message.html_body:
        mime.add_alternative(message.html_body, subtype="html")
    return mime


def _render_optional(name: str, context: dict) -> str:
    try:
        current_app.jinja_env.get_template(name)
    except TemplateNotFound as exc:
        if exc.name != name:
            raise
        return ""
    return render_template(name, **context)


def _send_smtp(mime: EmailMessage) -> None:
    config = current_app.config
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=SMTP_TIMEOUT) as smtp:
        if config["MAIL_USE_TLS"]:
            smtp.starttls(context=ssl.create_default_context())
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        smtp.send_message(mime)


def _write_eml(mime: EmailMessage, message: MailMessage) -> None:
    folder = Path(current_app.config["MAIL_OUTBOX"])
    folder.mkdir(parents=True, exist_ok=True)
    kind = re.sub(r"[^A-Za-z0-9_-]", "_", message.kind)
    path = folder / f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{message.id}-{kind}.eml"
    # Write a hidden temporary file and rename it: whoever watches the folder sees whole files only.
    tmp = tempfile.NamedTemporaryFile(dir=folder, prefix=".", suffix=".tmp", delete=False)
    try:
        with tmp:
            tmp.write(mime.as_bytes())
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp.name, path)
    except BaseException:
        Path(tmp.name).unlink(missing_ok=True)
        raise
    log.info("mail %s (%s) written to %s", message.id, message.kind, path)


def _enqueue(message_id: int) -> None:
    from blog import tasks  # late: blog.tasks builds the queue from the configuration on import

    try:
        tasks.send_mail(message_id)
    except Exception:  # the row is saved; the periodic re-send queues it again when the queue is back
        log.exception("could not queue mail %s", message_id)


@event.listens_for(Session, "after_flush")
def _remember_new_mail(session: Session, _flush_context) -> None:
    # session.new still lists what this flush inserted, now with primary keys.
    ids = [obj.id for obj in session.new if isinstance(obj, MailMessage)]
    if ids:
        session.info.setdefault(PENDING, set()).update(ids)


@event.listens_for(Session, "after_commit")
def _send_committed_mail(session: Session) -> None:
    # Releasing a SAVEPOINT also fires after_commit; only the outermost commit makes mail real.
    if session.in_nested_transaction():
        return
    for message_id in sorted(session.info.pop(PENDING, ())):
        _enqueue(message_id)


@event.listens_for(Session, "after_transaction_end")
def _forget_uncommitted_mail(session: Session, transaction: SessionTransaction) -> None:
    # The outermost transaction ended without after_commit taking the ids: it rolled back or closed.
    # (A rolled-back SAVEPOINT keeps them: a row it removed is simply not found by deliver.)
    if transaction.parent is None:
        session.info.pop(PENDING, None)
