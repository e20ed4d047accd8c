"""Redis stopped: pages, logins, comments, approvals and the API keep working; follow-ups wait in the database.

The app runs on its own redis-server (cache and Huey's real Redis storage, not immediate mode).
The rate limiter's storage stays in memory here: making it fail soft is the limiter's own change.
"""
from __future__ import annotations

import io
import threading
from collections import Counter
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import select

from blog.extensions import cache
from blog.extensions import db
from blog.models import Comment
from blog.models import MailMessage
from blog.models import User
from blog.models import utcnow
from blog.services import mail
from blog.services import media
from blog.services import tokens
from blog.tasks import huey
from tests.factories import login_as
from tests.factories import make_comment
from tests.factories import make_post
from tests.factories import make_user
from tests.faults.conftest import make_live_app

pytestmark = pytest.mark.slow


@pytest.fixture
def redis_app(tmp_path, redis_server):
    app = make_live_app(tmp_path, REDIS_URL=redis_server.url, HUEY_IMMEDIATE=False,
                        RATELIMIT_STORAGE_URI="memory://", MAIL_SERVER=None)
    with app.app_context():
        db.drop_all()
        db.create_all()
        yield app
        db.session.remove()
        if db.engine.dialect.name != "sqlite":
            db.drop_all()
        db.engine.dispose()


def run_queued() -> int:
    """Execute what the real Redis queue holds, as a consumer would; how many tasks."""
    done = 0
    while (task := huey.dequeue()) is not None:
        huey.execute(task)
        done += 1
    return done


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (80, 80), "red").save(buffer, "JPEG")
    return buffer.getvalue()


def test_the_queue_really_is_redis(redis_app):
    assert type(huey.storage).__name__ == "RedisStorage" and huey.immediate is False
    assert type(cache.cache).__name__ == "FallbackRedisCache"


def test_with_redis_down_nothing_answers_5xx_and_every_follow_up_happens_after(redis_app, redis_server):
    author = make_user(role="author", username="ana")
    moderator = make_user(role="moderator", username="mod")
    reader = make_user(role="reader", username="rita")
    post = make_post(author=author, slug="post", title="A post")
    pending = [make_comment(post, author=reader, status="pending", body=f"Pending {n}") for n in range(3)]
    token, _ = tokens.issue(reader)
    api = {"Authorization": f"Bearer {token}"}
    author_token, _ = tokens.issue(author)
    db.session.commit()
    guest, mod_client, author_client = (redis_app.test_client() for _ in range(3))
    login_as(mod_client, moderator)
    login_as(author_client, author)
    assert guest.get("/").status_code == 200  # warm: widgets cached in Redis

    redis_server.stop()
    statuses: Counter = Counter()

    def record(name: str, response) -> None:
        statuses[(name, response.status_code // 100)] += 1

    # Light load from another thread the whole time Redis is away.
    stop = threading.Event()

    def reader_load() -> None:
        client = redis_app.test_client()
        while not stop.is_set():
            record("page", client.get("/"))
            record("page", client.get("/blog/post"))

    load = threading.Thread(target=reader_load)
    load.start()
    try:
        record("page", guest.get("/"))
        record("page", guest.get("/search?q=post"))
        record("login", guest.post("/auth/login", data={"email": reader.email, "password": "correct horse battery"}))
        record("api", guest.get("/api/v1/posts"))
        record("api", guest.post("/api/v1/posts/post/comments", json={"body": "Via the API"}, headers=api))
        record("api", guest.patch("/api/v1/posts/post", json={"summary": "Edited while Redis was down"},
                                  headers={"Authorization": f"Bearer {author_token}"}))
        for comment in pending:
            record("approve", mod_client.post(f"/admin/comments/{comment.id}/approve"))
        record("profile", author_client.post("/auth/profile", data={
            "bio": "Bio while Redis is down", "avatar": (io.BytesIO(jpeg()), "me.jpg")},
            content_type="multipart/form-data"))
        health = guest.get("/healthz")
    finally:
        stop.set()
        load.join()

    assert not [key for key in statuses if key[1] == 5], statuses
    assert all(key[1] in (2, 3) for key in statuses), statuses
    assert health.status_code == 503
    assert health.get_json()["checks"] == {"database": "ok", "cache": "error", "queue": "error"}

    # Everything committed is there, and its follow-ups are recorded in the database.
    db.session.expire_all()
    assert {c.status for c in db.session.scalars(select(Comment).where(Comment.body.like("Pending%")))} == {"approved"}
    ana = db.session.scalar(select(User).where(User.username == "ana"))
    assert ana.bio == "Bio while Redis is down" and ana.avatar and not ana.avatar_processed
    unsent = db.session.scalars(select(MailMessage).where(MailMessage.sent_at.is_(None))).all()
    assert len(unsent) >= 3  # the author hears of each approved comment, once Redis is back

    redis_server.start()
    assert guest.get("/healthz").status_code == 200
    later = utcnow() + timedelta(minutes=mail.current_app.config["MAIL_RESEND_AFTER_MINUTES"] + 1)
    assert mail.resend_stale(now=later) == len(unsent)  # the every-minute task's catch-up
    assert media.process_pending_avatars() == 1
    run_queued()  # the consumer sends them, through the real Redis queue
    db.session.expire_all()
    assert db.session.scalars(select(MailMessage).where(MailMessage.sent_at.is_(None))).all() == []
    assert db.session.get(User, ana.id).avatar_processed is True


def test_the_cache_answers_from_memory_while_redis_is_down_and_from_redis_after(redis_app, redis_server, caplog):
    cache.set("greeting", "hello")
    redis_server.stop()
    assert cache.get("greeting") is None  # not in the fallback: a miss, not an error
    cache.set("greeting", "from memory")
    assert cache.get("greeting") == "from memory"
    cache.delete_memoized(lambda: None)  # used to raise ConnectionError after a moderation's commit
    assert "Redis unreachable" in caplog.text
    redis_server.start()
    import blog.fallback_cache

    cache.cache._down_until = 0  # skip the wait between probes
    cache.set("greeting", "in redis")
    assert cache.get("greeting") == "in redis"
    assert blog.fallback_cache.FallbackRedisCache.redis_down.fget(cache.cache) is False
