"""Each process's copy of the page cache: no round trip for a hit, never a page older than a change."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path


from flask import has_request_context

from blog import changefeed
from blog import create_app
from blog.extensions import cache
from blog.extensions import db
from blog.models import User
from blog.services import pagecache
from blog.services import taxonomy
from tests.factories import make_post
from tests.factories import make_user
from config import TestingConfig

ROOT = Path(__file__).resolve().parents[2]


# --- the change feeds ---------------------------------------------------------------------------

def test_a_file_feed_moves_on_when_another_process_announces(tmp_path):
    path = tmp_path / "changes"
    feed = changefeed.FileFeed(path)
    before = feed.epoch()
    assert feed.epoch() == before  # nothing happened: the same epoch
    subprocess.run([sys.executable, "-c", f"from blog.changefeed import FileFeed; FileFeed({str(path)!r}).announce()"],
                   cwd=ROOT, check=True)
    assert feed.epoch() != before


def test_file_feed_epochs_never_repeat(tmp_path):
    one, other = changefeed.FileFeed(tmp_path / "changes"), changefeed.FileFeed(tmp_path / "changes")
    seen = {one.epoch()}
    for n in range(50):
        (one if n % 2 else other).announce()
        assert one.epoch() == other.epoch() and one.epoch() not in seen
        seen.add(one.epoch())


def test_a_local_feed_moves_on_each_announcement():
    feed = changefeed.LocalFeed()
    first = feed.epoch()
    feed.announce()
    assert feed.epoch() != first


# --- Near ---------------------------------------------------------------------------------------

class Feed(changefeed.LocalFeed):
    """A local feed that can also go away, as a broken subscription does."""

    def __init__(self) -> None:
        super().__init__()
        self.broken = False

    def epoch(self):
        return None if self.broken else super().epoch()


def test_a_copy_is_kept_until_the_epoch_moves():
    near = pagecache.Near(Feed())
    epoch = near.epoch()
    near.keep(epoch, {"k": "v"})
    assert near.get("k", near.epoch()) == "v"
    near.feed.announce()
    assert near.get("k", near.epoch()) is None


def test_a_value_read_before_a_change_is_not_kept_after_it():
    near = pagecache.Near(Feed())
    epoch = near.epoch()  # read before the shared cache was asked
    near.feed.announce()  # a bump lands while the answer is on its way
    near.epoch()
    near.keep(epoch, {"k": "old"})
    assert near.get("k", near.epoch()) is None


def test_nothing_is_trusted_while_the_feed_is_down():
    near = pagecache.Near(Feed())
    near.keep(near.epoch(), {"k": "v"})
    near.feed.broken = True
    assert near.epoch() is None and near.get("k", None) is None
    near.keep(None, {"k": "v"})
    near.feed.broken = False
    assert near.get("k", near.epoch()) is None  # what was kept before the outage is gone too


def test_copies_are_bounded_by_size_and_age(monkeypatch):
    near = pagecache.Near(Feed(), max_bytes=10_000, max_age=5)
    epoch = near.epoch()
    for n in range(20):
        near.keep(epoch, {f"k{n}": "x" * 900})
    kept = [n for n in range(20) if near.get(f"k{n}", epoch) is not None]
    assert kept and len(kept) < 20 and kept[-1] == 19  # the oldest went first
    near.keep(epoch, {"big": "x" * 5_000})  # over an eighth of the budget: never kept
    assert near.get("big", epoch) is None
    clock = [1_000.0]
    monkeypatch.setattr(pagecache.time, "monotonic", lambda: clock[0])
    near.keep(epoch, {"fresh": "v"})
    clock[0] += 6
    assert near.get("fresh", epoch) is None


# --- two apps (two processes' view) on one database and one cache --------------------------------

class Counting:
    """The cache backend, counting the calls that reach it."""

    def __init__(self, backend) -> None:
        self.backend, self.calls = backend, 0

    def __getattr__(self, name):
        attribute = getattr(self.backend, name)
        if name in ("get", "get_many", "set", "set_many"):
            def counted(*args, **kwargs):
                self.calls += 1
                return attribute(*args, **kwargs)
            return counted
        return attribute


def test_a_repeated_hit_asks_the_shared_cache_nothing(two_apps):
    first, second = two_apps
    with first.app_context():
        make_post(title="Cached here")
    reader = second.test_client()
    assert "Cached here" in reader.get("/").text
    quick = second.wsgi_app
    counting = quick._backend = Counting(quick.backend)
    for _ in range(3):
        page = reader.get("/")
        assert page.headers["X-Page-Cache"] == "hit" and "Cached here" in page.text
    assert counting.calls <= 1  # the copy came in with the first hit; the others are this process's


def test_a_change_on_one_process_is_seen_by_the_next_request_on_the_other(two_apps):
    first, second = two_apps
    reader = second.test_client()
    with first.app_context():
        author_id = make_user().id
        make_post(author=db.session.get(User, author_id), title="Old news")
    for _ in range(2):
        assert "Old news" in reader.get("/").text
    for n in range(5):  # every change, at once, however warm the copy
        with first.app_context():
            make_post(author=db.session.get(User, author_id), title=f"Update {n}")
        page = reader.get("/")
        assert f"Update {n}" in page.text and page.headers["X-Page-Cache"] == "miss"


def test_widgets_are_kept_per_process_and_follow_changes_elsewhere(two_apps):
    first, second = two_apps
    with first.app_context():
        make_post(tags=["alpha"])
    with second.app_context():
        assert [t.slug for t in taxonomy.tag_cloud()] == ["alpha"]
        backend = second.extensions["cache"][cache]
        calls = []
        original = backend.get
        backend.get = lambda key: calls.append(key) or original(key)
        try:
            assert [t.slug for t in taxonomy.tag_cloud()] == ["alpha"]
            assert calls == []  # this process's copy
        finally:
            backend.get = original
    with first.app_context():
        make_post(tags=["beta"])
    with second.app_context():
        assert sorted(t.slug for t in taxonomy.tag_cloud()) == ["alpha", "beta"]


class FeedReads:
    """Counts the reads of an app's change feed made inside a request (on Redis each is a socket poll)."""

    def __init__(self, app) -> None:
        self.feed, self.count = app.extensions["pagecache.near"].feed, 0

    def __enter__(self):
        self.original = self.feed.epoch

        def counted():
            self.count += has_request_context()
            return self.original()
        self.feed.epoch = counted
        return self

    def __exit__(self, *exc) -> None:
        self.feed.epoch = self.original


def test_a_request_reads_the_change_feed_once(two_apps):
    first, second = two_apps
    with first.app_context():
        slug = make_post(title="Read once", tags=["alpha"]).slug
    with FeedReads(second) as reads:  # a miss: generations, the neighbours and related widgets, the store
        page = second.test_client().get(f"/blog/{slug}")
    assert page.status_code == 200 and "Read once" in page.text and reads.count == 1


def test_a_bump_within_a_request_reads_the_feed_again(two_apps):
    _, second = two_apps
    with second.test_request_context("/"), FeedReads(second) as reads:
        pagecache.generations([pagecache.LISTINGS])
        pagecache.generations([pagecache.TAXONOMY])
        assert reads.count == 1
        pagecache.bump(pagecache.LISTINGS)  # this request's own change: what it kept before is not trusted
        pagecache.generations([pagecache.LISTINGS])
        assert reads.count >= 2


def test_clearing_the_cache_drops_every_process_copy(two_apps):
    first, second = two_apps
    with first.app_context():
        make_post(title="Before the clear")
    reader = second.test_client()
    reader.get("/")
    assert reader.get("/").headers["X-Page-Cache"] == "hit"
    with first.app_context():
        pagecache.clear()
    assert reader.get("/").headers["X-Page-Cache"] == "miss"


def test_the_embedded_stack_shares_its_feed_through_the_cache_folder(tmp_path):
    class Embedded(TestingConfig):
        CACHE_TYPE, CACHE_DIR = "blog.sqlitecache.SQLiteCache", str(tmp_path / "cache")

    app = create_app(Embedded)
    feed = app.extensions["pagecache.near"].feed
    assert isinstance(feed, changefeed.FileFeed) and feed.path.parent == tmp_path / "cache"


def test_the_near_tier_can_be_turned_off(tmp_path):
    class Off(TestingConfig):
        NEAR_CACHE_BYTES = 0

    assert create_app(Off).extensions["pagecache.near"] is None
