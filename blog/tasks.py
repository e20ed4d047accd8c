"""The Huey instance and background tasks; each task pushes its own app context.

Redis storage when REDIS_URL is set, SQLite in the instance folder otherwise, and in
memory, immediate, under testing (tasks run inline, in the request). ``create_app``
configures the one ``huey`` instance from the app's own configuration (``configure``).
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from flask import has_app_context
from huey import Huey
from huey import crontab
from huey.storage import MemoryStorage
from huey.storage import RedisStorage
from huey.storage import SqliteStorage
from redis import ConnectionPool

import config


def _storage(settings: Mapping[str, Any]) -> tuple[type, dict[str, Any], bool]:
    """The storage class, its arguments and the immediate flag the settings ask for."""
    if settings["HUEY_IMMEDIATE"]:
        return MemoryStorage, {}, True
    if settings["REDIS_URL"]:
        # Short timeouts: with Redis gone, an enqueue fails in well under a second (and the
        # caller's durable record makes it happen later) instead of holding the request.
        pool = ConnectionPool.from_url(settings["REDIS_URL"], socket_connect_timeout=1, socket_timeout=5)
        return RedisStorage, {"connection_pool": pool}, False
    Path(settings["HUEY_SQLITE_PATH"]).parent.mkdir(parents=True, exist_ok=True)
    return SqliteStorage, {"filename": settings["HUEY_SQLITE_PATH"]}, False


def make_huey(settings: type[config.Config]) -> Huey:
    """Build the queue the configuration class asks for (until an app configures it)."""
    storage_class, kwargs, immediate = _storage({name: getattr(settings, name) for name in
                                                 ("HUEY_IMMEDIATE", "REDIS_URL", "HUEY_SQLITE_PATH")})
    return Huey(settings.HUEY_NAME, immediate=immediate, storage_class=storage_class, **kwargs)


huey = make_huey(config.selected())

_worker_app: Flask | None = None


def configure(app: Flask) -> None:
    """Point the queue at what ``app``'s configuration says; tasks then run in ``app``'s context.

    ``create_app`` calls this, so the web app and the consumer (``huey_consumer wsgi.huey``
    imports ``wsgi``, which creates the app) read one configuration, once.
    """
    global _worker_app
    storage_class, kwargs, immediate = _storage(app.config)
    huey.name = app.config["HUEY_NAME"]
    huey.storage_class, huey.storage_kwargs = storage_class, kwargs
    huey._immediate = immediate
    huey.storage = huey.create_storage()
    _worker_app = app


def _app() -> Flask:
    # The consumer imports this module before any app exists: build one, once, on first use.
    global _worker_app
    if _worker_app is None:
        from blog import create_app

        _worker_app = create_app()
    return _worker_app


def in_app_context(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``fn`` inside an app context: the caller's when there is one (immediate mode), else the worker's.

    Each call pushes its own context; one context shared by consumer threads breaks.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if has_app_context():
            return fn(*args, **kwargs)
        with _app().app_context():
            return fn(*args, **kwargs)

    return wrapper


@huey.periodic_task(crontab(minute="*"))
@in_app_context
def publish_scheduled_posts() -> int:
    """Every minute: scheduled posts whose time has come go live."""
    from blog.services import posts

    return len(posts.publish_due())


@huey.task()
@in_app_context
def send_mail(message_id: int) -> None:
    """Deliver one outbox message. A failure records its back-off in the row (``next_attempt_at``);
    the every-minute ``resend_stale_mail`` is the only thing that retries, so retries cannot pile up."""
    from blog.services import mail

    mail.deliver(message_id)


@huey.periodic_task(crontab(minute="*"))
@in_app_context
def resend_stale_mail() -> int:
    """Every minute: queue the mail whose back-off has passed, or that a dead worker or a lost enqueue left."""
    from blog.services import mail

    return mail.resend_stale()


@huey.task()
@in_app_context
def process_avatar(user_id: int, key: str) -> None:
    """Make the resized, EXIF-free variants of a freshly uploaded avatar."""
    from blog.services import media

    media.process_avatar(user_id, key)


@huey.task()
@in_app_context
def process_cover(post_id: int, key: str) -> None:
    """Make a new cover's Open Graph crop, card thumbnail and WebP variants, without EXIF."""
    from blog.services import media

    media.process_cover(post_id, key)


@huey.periodic_task(crontab(minute="*"))
@in_app_context
def process_pending_covers() -> int:
    """Every minute: covers saved while no worker ran (or whose task was lost) get their variants."""
    from blog.services import media

    return media.process_pending_covers()


@huey.periodic_task(crontab(minute="*"))
@in_app_context
def process_pending_avatars() -> int:
    """Every minute: avatars saved while the queue was down (or whose task was lost) get their variants."""
    from blog.services import media

    return media.process_pending_avatars()


@huey.task()
@in_app_context
def process_media(media_id: int, key: str) -> None:
    """Make an image's WebP width variants (no EXIF) and re-render the posts that show it."""
    from blog.services import media

    media.process_media(media_id, key)


@huey.periodic_task(crontab(minute="*"))
@in_app_context
def process_pending_media() -> int:
    """Every minute: images uploaded while the queue was down (or whose task was lost) get their variants."""
    from blog.services import media

    return media.process_pending_media()


# --- subscriptions: new-post mails and the weekly digest (blog/services/digest.py) ----------

@huey.periodic_task(crontab(minute="*"))
@in_app_context
def send_post_announcements() -> int:
    """Every minute: mail the "each new post" subscribers of posts that went live (in batches, each once)."""
    from blog.services import digest

    return sum(report.sent for report in digest.send_announcements())


@huey.periodic_task(crontab(minute="*/15"))
@in_app_context
def send_weekly_digest() -> int:
    """Every 15 minutes: on Monday from 08:00 site time (TIMEZONE), send the week's digest once.

    Huey's crontab runs on UTC, so the site's Monday morning is checked here; a run a dead worker
    left unfinished is resumed on the next tick (the addresses already mailed are skipped).
    """
    from blog.services import digest

    if not digest.digest_due():
        return 0
    return digest.send_digest().sent


@huey.periodic_task(crontab(minute="7", hour="*"))
@in_app_context
def tidy_subscribers() -> int:
    """Hourly: forget addresses unconfirmed for a week, and skip addresses whose mail bounced for good."""
    from blog.services import subscriptions

    return subscriptions.purge_unconfirmed() + subscriptions.mark_bounced()


@huey.task()
@in_app_context
def send_mail_batch(message_ids: list[int]) -> int:
    """Deliver a batch of bulk mail (a digest's or new post's 500 addresses) in turn; how many are done.

    A message that fails keeps its back-off in its row (``next_attempt_at``), and the every-minute
    ``resend_stale_mail`` retries it like any mail: one retry path, so retries cannot pile up.
    """
    from blog.services import mail

    return sum(mail.deliver(message_id) is None for message_id in message_ids)


@huey.periodic_task(crontab(minute="*"))
@in_app_context
def flush_view_counts() -> int:
    """Every minute: the buffered post views go to the database in one UPDATE."""
    from blog.services import viewcounts

    return viewcounts.flush()


@huey.periodic_task(crontab(minute="7", hour="*/6"))
@in_app_context
def analyze_database() -> bool:
    """Every six hours: fresh planner statistics on SQLite, so big tables keep their good indexes."""
    from blog.services import maintenance

    return maintenance.analyze()


# --- imports from /admin/import (blog/services/import_runs.py) -----------------------------

@huey.task()
@in_app_context
def run_import(run_id: int) -> str | None:
    """The dry run or the import of an uploaded file, with its progress; a duplicate task does nothing."""
    from blog.services import import_runs

    return import_runs.execute(run_id)


@huey.periodic_task(crontab(minute="*/5"))
@in_app_context
def check_import_runs() -> int:
    """Every five minutes: imports whose worker died are marked failed, lost queued ones queued again."""
    from blog.services import import_runs

    return import_runs.fail_stale()
