"""The Redis change feed on our own redis-server: trusted only while subscribed, never stale after a break."""
from __future__ import annotations

import time

import pytest
import redis

from blog import changefeed
from blog import fallback_cache
from blog.extensions import db
from tests.factories import make_post
from tests.faults.conftest import make_live_app

pytestmark = pytest.mark.slow


def _settled(feed, seconds: float = 2.0):
    """The feed's epoch once its subscription is confirmed (it answers None until then)."""
    deadline = time.monotonic() + seconds
    while (epoch := feed.epoch()) is None:
        assert time.monotonic() < deadline, "the subscription was never confirmed"
        time.sleep(0.01)
    return epoch


def test_an_announcement_reaches_every_subscriber_before_it_returns(redis_server):
    reader = changefeed.RedisFeed(redis.Redis.from_url(redis_server.url), "changes")
    writer = changefeed.RedisFeed(redis.Redis.from_url(redis_server.url), "changes")
    before, _ = _settled(reader), _settled(writer)
    assert reader.epoch() == before  # nothing announced: the same epoch, no round trip
    for _ in range(20):
        writer.announce()
        now = reader.epoch()
        assert now != before
        before = now


def test_a_broken_subscription_trusts_nothing_until_it_is_back(redis_server):
    feed = changefeed.RedisFeed(redis.Redis.from_url(redis_server.url, socket_timeout=0.5), "changes")
    first = _settled(feed)
    redis_server.stop()
    assert feed.epoch() is None  # the socket closed: nothing kept locally may be used
    assert feed.epoch() is None  # and it does not hammer a server that is gone
    redis_server.start()
    time.sleep(changefeed.RETRY_SECONDS)
    again = _settled(feed)
    assert again != first  # a new subscription: the epochs before the break never come back


@pytest.fixture
def cached_app(tmp_path, redis_server):
    """An app with its page cache on our own redis-server, in an app context, tables made."""
    app = make_live_app(tmp_path, REDIS_URL=redis_server.url, PAGE_CACHE=True, RATELIMIT_STORAGE_URI="memory://",
                        MAIL_SERVER=None)
    with app.app_context():
        db.drop_all()
        db.create_all()
        yield app
        db.session.remove()
        if db.engine.dialect.name != "sqlite":
            db.drop_all()
        db.engine.dispose()


def test_an_app_never_serves_its_copy_across_a_redis_restart(cached_app, redis_server):
    make_post(title="Before the restart")
    client = cached_app.test_client()
    client.get("/")
    near = cached_app.extensions["pagecache.near"]
    _settled(near.feed)
    client.get("/")
    assert client.get("/").headers["X-Page-Cache"] == "hit"
    redis_server.stop()
    page = client.get("/")  # served, by the app itself: no copy is trusted without the feed
    assert page.status_code == 200 and "Before the restart" in page.text and near.epoch() is None
    redis_server.start()
    time.sleep(changefeed.RETRY_SECONDS)
    make_post(title="After the restart")
    assert "After the restart" in client.get("/").text


def test_changes_made_while_redis_was_unreachable_are_on_the_pages_once_it_answers(cached_app, redis_server):
    """Redis saved to disk and restarted: it still holds the old pages when it answers again."""
    make_post(title="Before the outage")
    client = cached_app.test_client()
    client.get("/")
    assert client.get("/").headers["X-Page-Cache"] == "hit"  # stored in Redis
    redis.Redis.from_url(redis_server.url).save()  # loaded again when it starts
    redis_server.stop()
    make_post(title="Written during the outage")  # its bump reached no Redis
    assert "Written during the outage" in client.get("/").text
    redis_server.start()
    time.sleep(max(fallback_cache.RETRY_SECONDS, changefeed.RETRY_SECONDS) + 0.1)
    page = client.get("/")  # the very request that finds Redis back
    assert "Written during the outage" in page.text, page.headers.get("X-Page-Cache")
