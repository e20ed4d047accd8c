"""The Huey instance and background tasks; each task pushes its own app context.

RedisHuey when REDIS_URL is set, SqliteHuey in the instance folder otherwise, and
an in-memory immediate Huey under testing (tasks run inline, in the request).
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from flask import has_app_context
from huey import Huey
from huey import crontab
from huey.exceptions import RetryTask
from huey import MemoryHuey
from huey import RedisHuey
from huey import SqliteHuey

import config


def make_huey(settings: type[config.Config]) -> Huey:
    """Build the queue the configuration asks for."""
    if settings.HUEY_IMMEDIATE:
        return MemoryHuey(settings.HUEY_NAME, immediate=True)
    if settings.REDIS_URL:
        return RedisHuey(settings.HUEY_NAME, url=settings.REDIS_URL)
    Path(settings.HUEY_SQLITE_PATH).parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(settings.HUEY_NAME, filename=settings.HUEY_SQLITE_PATH)


huey = make_huey(config.selected())

_worker_app: Flask | None = None


def _app() -> Flask:
    # The consumer imports this module without an app: build one, once, on first use.
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
    """Deliver one outbox message; on failure retry with back-off (the service says how long to wait)."""
    from blog.services import mail

    delay = mail.deliver(message_id)
    if delay is not None:
        raise RetryTask(f"mail {message_id} not delivered", delay=delay)


@huey.periodic_task(crontab(minute="*/5"))
@in_app_context
def resend_stale_mail() -> int:
    """Every five minutes: queue again the mail a dead worker never sent."""
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
