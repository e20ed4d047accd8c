"""Mail to subscribers: the weekly digest and the new-post mails, each address at most once.

Both walk the confirmed, unbounced subscribers in batches of addresses (``BATCH``). For each
address the outbox row and a ``SubscriptionDelivery`` row keyed on (address, ``digest:<week>`` or
``post:<id>``) are committed together, so whatever runs again (a second consumer, the command
twice, a run resumed after a killed worker) skips the addresses already done: the unique key
turns a race into an IntegrityError, and the batch is simply taken again. This runs in the
worker or the CLI, never in a web request.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm import selectinload

from blog.extensions import db
from blog.models import Category
from blog.models import DigestRun
from blog.models import MailMessage
from blog.models import Post
from blog.models import PostAnnouncement
from blog.models import Subscriber
from blog.models import SubscriptionDelivery
from blog.models import utcnow
from blog.services import clock
from blog.services import mail
from blog.services import subscriptions

log = logging.getLogger(__name__)

#: Addresses per transaction: big enough to be quick, small enough to keep locks short.
BATCH = 500
#: A digest lists at most this many posts (the newest).
MAX_POSTS = 30
#: The digest goes out on Mondays at this hour, site time.
DIGEST_WEEKDAY, DIGEST_HOUR = 0, 8


@dataclass
class Report:
    """What a run did (or, dry, would do)."""

    key: str
    posts: int = 0
    sent: int = 0
    skipped: int = 0
    dry_run: bool = False
    recipients: list[str] = field(default_factory=list)


def site_zone() -> ZoneInfo:
    """The site's time zone (TIMEZONE, an IANA name): see services.clock."""
    return clock.site_zone()


def week_key(now: datetime | None = None) -> str:
    """The digest week ``now`` (naive UTC) belongs to, as ``2026-W49``; a week starts Monday 08:00 site time."""
    local = (now or utcnow()).replace(tzinfo=UTC).astimezone(site_zone())
    year, week, _ = (local - timedelta(days=DIGEST_WEEKDAY, hours=DIGEST_HOUR)).isocalendar()
    return f"{year}-W{week:02d}"


def subscriber_count(frequency: str) -> int:
    """Confirmed, unbounced addresses of one frequency (for progress bars)."""
    return db.session.scalar(select(func.count(func.distinct(Subscriber.email))).where(
        Subscriber.frequency == frequency, Subscriber.confirmed_at.is_not(None), Subscriber.bounced_at.is_(None))) or 0


def digest_due(now: datetime | None = None) -> bool:
    """True on Monday from 08:00 site time until this week's digest is sent, and while a run is unfinished.

    The periodic task asks every 15 minutes (Huey's crontab runs on UTC; the site's Monday
    08:00 may be Sunday there), so a run a dead worker left half done is resumed soon.
    """
    now = now or utcnow()
    run = db.session.get(DigestRun, week_key(now))
    if run is not None:
        return run.finished_at is None
    local = now.replace(tzinfo=UTC).astimezone(site_zone())
    return local.weekday() == DIGEST_WEEKDAY and local.hour >= DIGEST_HOUR


def send_digest(*, since: datetime | None = None, dry_run: bool = False, now: datetime | None = None,
                progress: Callable[[int], None] | None = None) -> Report:
    """Send this week's digest to every digest subscriber whose posts it has (nothing when there are none).

    The window runs from ``since`` (naive UTC), else from where the previous digest stopped, else
    a week back, to now; a week's run that was cut short resumes with its own window. Run twice in
    a week, the second run sends nothing: every address already has this week's delivery row.
    """
    now = now or utcnow()
    key = week_key(now)
    run = db.session.get(DigestRun, key)
    if run is None or since is not None:
        previous = db.session.scalar(select(DigestRun.until).where(DigestRun.week != key)
                                     .order_by(DigestRun.until.desc()).limit(1))
        start = since or previous or now - timedelta(days=7)
        if not dry_run:
            if run is None:
                run = DigestRun(week=key, since=start, until=now)
                db.session.add(run)
            else:
                run.since, run.until, run.finished_at = start, now, None
            try:
                db.session.commit()
            except IntegrityError:  # another consumer started this week's run a moment ago: share its window
                db.session.rollback()
                run = db.session.get(DigestRun, key)
                start, now = run.since, run.until
        window = (start, now) if run is None or dry_run else (run.since, run.until)
    else:
        window = (run.since, run.until)
    posts = _published_between(*window)
    report = _send(f"digest:{key}", "digest", posts, dry_run=dry_run, progress=progress,
                   compose=lambda email, chosen, url: _compose_digest(email, chosen, url, key))
    if not dry_run:
        run = db.session.get(DigestRun, key)
        run.finished_at = utcnow()
        run.sent += report.sent
        db.session.commit()
    log.info("digest %s: %s posts, %s mails%s", key, report.posts, report.sent, " (dry run)" if dry_run else "")
    return report


def announce(sender, post: Post, **extra) -> None:
    """Note that ``post`` went live, in the publishing transaction; its subscribers are mailed by the worker.

    Only the first publication counts: a post unpublished and published again is not announced twice.
    """
    if db.session.get(PostAnnouncement, post.id) is None:
        db.session.add(PostAnnouncement(post_id=post.id))


def send_announcements(progress: Callable[[int], None] | None = None) -> list[Report]:
    """Mail the "each new post" subscribers of every post announced and not yet done (the every-minute task)."""
    reports = []
    pending = db.session.scalars(select(PostAnnouncement).where(PostAnnouncement.done_at.is_(None))
                                 .order_by(PostAnnouncement.created_at)).all()
    for announcement in pending:
        post = db.session.scalar(_with_relations().where(Post.id == announcement.post_id))
        live = [post] if post is not None and post.status == "published" else []
        reports.append(_send(f"post:{announcement.post_id}", "post", live, progress=progress,
                             compose=_compose_new_post))
        db.session.get(PostAnnouncement, announcement.post_id).done_at = utcnow()
        db.session.commit()
    return reports


def _with_relations():
    return select(Post).options(joinedload(Post.author), joinedload(Post.category), selectinload(Post.tags))


def _published_between(start: datetime, end: datetime) -> list[Post]:
    return list(db.session.scalars(
        _with_relations().where(Post.status == "published", Post.published_at >= start, Post.published_at < end)
        .order_by(Post.published_at.desc(), Post.id.desc()).limit(MAX_POSTS)))


def _scopes_of(posts: list[Post]) -> dict[int, set[str]]:
    """For each post, the subscription scopes that include it (a category's ancestors follow it too)."""
    parents = dict(db.session.execute(select(Category.id, Category.parent_id)).all()) if posts else {}
    scopes: dict[int, set[str]] = {}
    for post in posts:
        keys = {"all"} | {f"tag:{tag.id}" for tag in post.tags}
        category_id, seen = post.category_id, set()
        while category_id is not None and category_id not in seen:  # a loop in the tree must not hang us
            seen.add(category_id)
            keys.add(f"category:{category_id}")
            category_id = parents.get(category_id)
        scopes[post.id] = keys
    return scopes


def _send(key: str, frequency: str, posts: list[Post], *, compose: Callable, dry_run: bool = False,
          progress: Callable[[int], None] | None = None) -> Report:
    report = Report(key=key, posts=len(posts), dry_run=dry_run)
    if not posts:
        return report
    scopes = _scopes_of(posts)
    wanted = set().union(*scopes.values())
    eligible = (Subscriber.frequency == frequency, Subscriber.confirmed_at.is_not(None),
                Subscriber.bounced_at.is_(None), Subscriber.scope.in_(wanted))
    after, conflicts = "", 0
    # Plain ids and scope sets: each batch's commit expires the ORM posts, and reading post.id on
    # each address would reload them (a query per post per batch).
    post_scopes = [(post.id, scopes[post.id]) for post in posts]
    by_id = {post.id: post for post in posts}
    # Addresses that get the same posts get the same mail but for the unsubscribe link: it is
    # rendered once per run and post list, then copied with each address's own link.
    rendered: dict[tuple[int, ...], tuple[dict, str]] = {}
    while True:
        # Keyset pages of addresses, then the ones already mailed among them, each query on an index
        # (a NOT EXISTS over the whole table made PostgreSQL re-scan it for every batch).
        candidates = list(db.session.scalars(
            select(Subscriber.email).where(*eligible, Subscriber.email > after)
            .group_by(Subscriber.email).order_by(Subscriber.email).limit(BATCH)))
        if not candidates:
            return report
        # The batch as a range of addresses (after, last], not IN lists of 500: a range scan of the
        # (email, key) and (email, scope) unique indexes, where a 500-value IN took PostgreSQL 200 ms.
        last = candidates[-1]
        done = set(db.session.scalars(select(SubscriptionDelivery.email).where(
            SubscriptionDelivery.email > after, SubscriptionDelivery.email <= last, SubscriptionDelivery.key == key)))
        emails = [email for email in candidates if email not in done]
        if not emails:
            after = last
            continue
        rows = [row for row in db.session.execute(
            select(Subscriber.email, Subscriber.id, Subscriber.scope)
            .where(*eligible, Subscriber.email > after, Subscriber.email <= last)).all() if row[0] not in done]
        followed: dict[str, tuple[set[str], list[int]]] = {}
        for email, subscriber_id, scope in rows:
            entry = followed.setdefault(email, (set(), []))
            entry[0].add(scope)
            entry[1].append(subscriber_id)
        sent = skipped = 0
        outbox: list[dict] = []
        for email in emails:
            chosen_scopes, ids = followed.get(email, (set(), []))
            chosen = tuple(post_id for post_id, keys in post_scopes if keys & chosen_scopes)
            if not chosen:
                skipped += 1
                continue
            sent += 1
            if dry_run:
                report.recipients.append(email)
                continue
            url = mail.absolute_url("subscriptions.unsubscribe", token=subscriptions.unsubscribe_token(email, ids))
            same = rendered.get(chosen)
            if same is None:
                message = compose(email, [by_id[post_id] for post_id in chosen], url)
                db.session.expunge(message)  # written with the batch below, in one statement, not by the ORM
                fields = _outbox_row(message)
                rendered[chosen] = (fields, url)
            else:
                fields = _copy_for(same[0], same[1], email, url)
            outbox.append(fields)
        if outbox:
            try:
                # Core executemany, not one ORM object per address: at 10,000 addresses the unit of work
                # and the per-row statements were most of the run. Outbox and delivery rows share the
                # transaction; the unique (email, key) makes a second run's batch fail as a whole.
                message_ids = _insert_outbox(outbox)
                now = utcnow()
                db.session.execute(SubscriptionDelivery.__table__.insert(), [
                    {"email": fields["recipient"], "key": key, "mail_id": message_id, "created_at": now}
                    for fields, message_id in zip(outbox, message_ids)])
                db.session.commit()
            except IntegrityError:
                # Another run mailed some of these addresses first: drop this batch and take it again,
                # now without them. Bounded, in case the conflict is something else.
                db.session.rollback()
                conflicts += 1
                if conflicts > 5:
                    raise
                continue
            # One queue task per batch instead of one per mail (SqliteHuey commits each enqueue).
            mail.enqueue_batch(message_ids)
        report.sent += sent
        report.skipped += skipped
        if progress:
            progress(len(candidates))
        after = candidates[-1]


def _outbox_row(message: MailMessage) -> dict:
    """The columns of a composed (not yet stored) outbox message, for a bulk INSERT."""
    return {"kind": message.kind, "recipient": message.recipient, "subject": message.subject,
            "text_body": message.text_body, "html_body": message.html_body or "", "headers": message.headers or {},
            "created_at": utcnow(), "attempts": 0, "last_error": ""}


def _copy_for(fields: dict, url: str, email: str, own_url: str) -> dict:
    """``fields`` for another address: the same text with that address's unsubscribe link.

    The link is a signed token of URL-safe characters, so it reads the same in the text and the
    (escaped) HTML part, and nothing else in the mail can contain it.
    """
    return {**fields, "recipient": email, "text_body": fields["text_body"].replace(url, own_url),
            "html_body": fields["html_body"].replace(url, own_url), "headers": mail.unsubscribe_headers(own_url)}


def _insert_outbox(rows: list[dict]) -> list[int]:
    """Insert outbox rows in one executemany; their ids, in order.

    PostgreSQL: the ids are drawn from the sequence first, so the INSERT needs no RETURNING (an
    INSERT ... RETURNING of many rows is one huge statement the driver parses anew each batch).
    SQLite: one multi-row INSERT ... RETURNING, which it runs quickly.
    """
    table = MailMessage.__table__
    if db.session.get_bind().dialect.name == "postgresql":
        ids = list(db.session.scalars(
            text("SELECT nextval(pg_get_serial_sequence('mail_messages', 'id')) FROM generate_series(1, :n)"),
            {"n": len(rows)}))
        db.session.execute(table.insert(), [{**row, "id": row_id} for row, row_id in zip(rows, ids)])
        return ids
    return list(db.session.scalars(table.insert().returning(table.c.id, sort_by_parameter_order=True), rows))


def _compose_digest(email: str, posts: list[Post], unsubscribe_url: str, key: str):
    site = current_app.config["SITE_NAME"]
    subject = f"{site} weekly: {posts[0].title}" + (f" and {len(posts) - 1} more" if len(posts) > 1 else "")
    return mail.compose("digest", email, "digest", subject, posts=posts, week=key,
                        unsubscribe_url=unsubscribe_url, headers=mail.unsubscribe_headers(unsubscribe_url))


def _compose_new_post(email: str, posts: list[Post], unsubscribe_url: str):
    [post] = posts
    return mail.compose("new_post", email, "new_post", f"New on {current_app.config['SITE_NAME']}: {post.title}",
                        post=post, unsubscribe_url=unsubscribe_url, headers=mail.unsubscribe_headers(unsubscribe_url))
