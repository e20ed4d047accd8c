"""Local time: the site zone (TIMEZONE) for guests, each user's own zone, and scheduled posts across DST."""
from __future__ import annotations

import re
from datetime import datetime

import pytest
from sqlalchemy import select

import config
from blog import create_app
from blog.extensions import db
from blog.models import Post
from blog.models import User
from blog.services import posts
from tests.conftest import HX
from tests.factories import login_as
from tests.factories import make_comment
from tests.factories import make_post
from tests.factories import make_user


def schedule(client, when: str, title: str = "Scheduled post"):
    return client.post("/blog/create", data={"title": title, "body": "Body.", "summary": "", "tags": "",
                                             "category_id": "", "status": "scheduled", "publish_at": when,
                                             "comments_enabled": "y"})


@pytest.fixture
def berliner(client):
    user = make_user(role="author", username="berliner", timezone="Europe/Berlin")
    login_as(client, user)
    return user


def test_timezone_config_key_with_site_timezone_as_a_fallback(monkeypatch):
    import importlib

    monkeypatch.delenv("TIMEZONE", raising=False)
    monkeypatch.setenv("SITE_TIMEZONE", "Europe/Paris")
    assert importlib.reload(config).Config.TIMEZONE == "Europe/Paris"
    monkeypatch.setenv("TIMEZONE", "Europe/Berlin")
    assert importlib.reload(config).Config.TIMEZONE == "Europe/Berlin"
    monkeypatch.setenv("TIMEZONE", "Mars/Olympus")
    with pytest.raises(RuntimeError, match="TIMEZONE"):
        create_app(importlib.reload(config).TestingConfig)
    monkeypatch.delenv("TIMEZONE")
    monkeypatch.delenv("SITE_TIMEZONE")
    assert importlib.reload(config).Config.TIMEZONE == "UTC"


def test_a_post_scheduled_at_nine_in_berlin_in_winter_goes_live_at_eight_utc(client, berliner):
    response = schedule(client, "2026-12-10T09:00")
    assert response.status_code == 303
    post = db.session.scalar(select(Post).where(Post.title == "Scheduled post"))
    assert post.status == "scheduled" and post.published_at == datetime(2026, 12, 10, 8, 0)
    flashed = client.get(response.headers["Location"]).text
    assert "Scheduled for 10 Dec 2026, 09:00 CET." in flashed
    assert posts.publish_due(now=datetime(2026, 12, 10, 7, 59, 59)) == []
    assert [p.id for p in posts.publish_due(now=datetime(2026, 12, 10, 8, 0))] == [post.id]
    db.session.refresh(post)
    assert post.status == "published"


def test_in_summer_nine_in_berlin_is_seven_utc_and_the_editor_shows_it_back_in_local_time(client, berliner):
    assert schedule(client, "2027-07-01T09:00").status_code == 303
    post = db.session.scalar(select(Post).where(Post.title == "Scheduled post"))
    assert post.published_at == datetime(2027, 7, 1, 7, 0)
    editor = client.get(f"/blog/{post.slug}/edit").text
    assert re.search(r'name="publish_at"[^>]*value="2027-07-01T09:00', editor)
    assert "Publish at (Europe/Berlin time)" in editor
    assert posts.publish_due(now=datetime(2027, 7, 1, 6, 59)) == []
    assert len(posts.publish_due(now=datetime(2027, 7, 1, 7, 0))) == 1


def test_a_time_skipped_by_the_spring_change_is_a_form_error_and_nothing_is_saved(client, berliner):
    response = schedule(client, "2027-03-28T02:30")
    assert response.status_code == 422
    assert "does not exist in Europe/Berlin" in response.text
    assert db.session.scalar(select(Post).where(Post.title == "Scheduled post")) is None
    # with htmx: the form comes back in place with the message
    response = client.post("/blog/create", headers=HX, data={"title": "Scheduled post", "body": "Body.",
                                                             "status": "scheduled", "publish_at": "2027-03-28T02:30"})
    assert response.status_code == 422 and "does not exist in Europe/Berlin" in response.text


def test_an_ambiguous_autumn_time_is_its_first_occurrence(client, berliner):
    assert schedule(client, "2027-10-31T02:30").status_code == 303
    post = db.session.scalar(select(Post).where(Post.title == "Scheduled post"))
    assert post.published_at == datetime(2027, 10, 31, 0, 30)  # 02:30 CEST, the first of the two


def test_users_without_a_zone_type_in_the_site_zone(app, client):
    app.config["TIMEZONE"] = "America/New_York"
    login_as(client, make_user(role="author"))
    assert "Publish at (America/New_York time)" in client.get("/blog/create").text
    assert schedule(client, "2026-12-10T09:00").status_code == 303
    post = db.session.scalar(select(Post).where(Post.title == "Scheduled post"))
    assert post.published_at == datetime(2026, 12, 10, 14, 0)  # EST, UTC-5


def test_guests_see_the_site_zone_and_users_their_own(app, client):
    app.config["TIMEZONE"] = "Europe/Berlin"
    writer = make_user(role="author", username="tokyo", timezone="Asia/Tokyo")
    post = make_post(author=writer, title="Late post", slug="late-post", published_at=datetime(2026, 12, 1, 23, 30))
    make_comment(post, created_at=datetime(2026, 12, 1, 23, 45))
    page = client.get("/blog/late-post").text
    # 23:30 UTC is 00:30 on 2 Dec in Berlin: the date moves with the zone; the machine value stays UTC.
    assert '<time datetime="2026-12-01T23:30:00Z" title="02 Dec 2026, 00:30 CET">02 Dec 2026</time>' in page
    assert '<time datetime="2026-12-01T23:45:00Z">02 Dec 2026, 00:45 CET</time>' in page
    assert "Set-Cookie" not in client.get("/blog/late-post").headers
    login_as(client, writer)
    page = client.get("/blog/late-post").text
    assert '<time datetime="2026-12-01T23:45:00Z">02 Dec 2026, 08:45 JST</time>' in page


def test_the_profile_sets_a_zone_and_refuses_unknown_names(client):
    user = make_user(role="reader")
    login_as(client, user)
    page = client.get("/auth/profile").text
    assert 'name="timezone"' in page and 'list="timezone-names"' in page
    assert '<option value="Europe/Berlin">' in page and '<label for="timezone">Time zone</label>' in page
    response = client.post("/auth/profile", data={"bio": "Hi", "timezone": "Mars/Olympus"})
    assert response.status_code == 422 and "not a time zone we know" in response.text
    assert 'aria-invalid="true"' in response.text
    db.session.refresh(user)
    assert user.timezone is None and user.bio == ""  # nothing saved when one field is wrong
    assert client.post("/auth/profile", data={"bio": "Hi", "timezone": "Europe/Berlin"}).status_code == 303
    db.session.refresh(user)
    assert user.timezone == "Europe/Berlin"
    assert 'value="Europe/Berlin"' in client.get("/auth/profile").text
    assert client.post("/auth/profile", data={"bio": "Hi", "timezone": ""}).status_code == 303
    db.session.refresh(user)
    assert user.timezone is None


def test_admin_lists_show_times_in_the_moderators_zone(client):
    moderator = make_user(role="moderator", timezone="Europe/Berlin")
    make_post(status="pending", title="Waiting", updated_at=datetime(2026, 12, 2, 8, 0))
    login_as(client, moderator)
    page = client.get("/admin/posts?status=pending").text
    assert '<time datetime="2026-12-02T08:00:00Z">02 Dec 2026, 09:00 CET</time>' in page


def test_the_api_keeps_iso_utc(client):
    user = make_user(role="author", timezone="Europe/Berlin")
    make_post(author=user, slug="api-post", published_at=datetime(2026, 12, 2, 8, 0))
    data = client.get("/api/v1/posts/api-post").get_json()
    assert data["published_at"].startswith("2026-12-02T08:00:00")


# --- archive periods are the site's months ---------------------------------------------------------

def _archive_site():
    """Posts at the edges of months: what is New Year's Eve in UTC is already January in Berlin."""
    make_post(title="UTC New Year's Eve", published_at=datetime(2026, 12, 31, 23, 30))  # 00:30 CET, 1 Jan
    make_post(title="Midsummer night", published_at=datetime(2026, 6, 30, 22, 30))      # 00:30 CEST, 1 Jul
    make_post(title="Plain December", published_at=datetime(2026, 12, 15, 12, 0))
    make_post(title="A page", kind="page", published_at=datetime(2026, 12, 10, 12, 0))  # never in the archive


def _listed(response) -> str:
    """The page's post list alone (the sidebar names posts too)."""
    html = response.text
    start = html.index('id="post-list"')
    return html[start:html.index("</section>", start)]


def test_archive_months_are_the_site_zone_months(app, client):
    from blog.services import archive
    from blog.services import taxonomy

    app.config["TIMEZONE"] = "Europe/Berlin"
    _archive_site()
    assert archive.month_counts() == [(2027, 1, 1), (2026, 12, 1), (2026, 7, 1)]
    assert [(m.year, m.month, m.count) for m in taxonomy.archive_months.uncached()] == [(2027, 1, 1), (2026, 12, 1),
                                                                                       (2026, 7, 1)]
    assert [(y.year, y.count, y.months) for y in archive.years()] == [(2027, 1, [(1, 1)]), (2026, 2, [(12, 1), (7, 1)])]
    january = client.get("/archive/2027/1")
    assert "UTC New Year&#39;s Eve" in _listed(january) and "Archive: January 2027" in january.text
    december = _listed(client.get("/archive/2026/12"))
    assert "UTC New Year" not in december and "Plain December" in december and "A page" not in december
    assert "Midsummer night" in _listed(client.get("/archive/2026/7"))
    assert "Midsummer night" not in _listed(client.get("/archive/2026/6"))
    assert "UTC New Year" in _listed(client.get("/archive/2027"))
    assert "UTC New Year" not in _listed(client.get("/archive/2026"))
    index = client.get("/archive").text
    assert re.search(r'href="/archive/2027/1">January 2027</a> <span class="count">1', index)


def test_west_of_utc_a_new_year_post_is_still_last_year(app, client):
    from blog.services import archive

    app.config["TIMEZONE"] = "America/New_York"
    make_post(title="Early in UTC", published_at=datetime(2027, 1, 1, 3, 0))  # 22:00 EST on 31 December
    assert archive.month_counts() == [(2026, 12, 1)]
    assert "Early in UTC" in _listed(client.get("/archive/2026/12"))
    assert "Early in UTC" not in _listed(client.get("/archive/2027"))  # nothing in the site's 2027


def test_in_utc_the_archive_is_one_query_and_away_from_it_two(app, count_queries):
    from blog.services import archive

    _archive_site()
    with count_queries() as queries:
        assert archive.month_counts() == [(2026, 12, 2), (2026, 6, 1)]
    assert queries.count == 1
    app.config["TIMEZONE"] = "Asia/Tokyo"
    with count_queries() as queries:
        assert archive.month_counts() == [(2027, 1, 1), (2026, 12, 1), (2026, 7, 1)]
    assert queries.count == 2


@pytest.mark.parametrize("path", ["/archive/1", "/archive/1/1", "/archive/9998", "/archive/9998/12"])
@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_the_first_and_last_years_have_periods_in_any_zone(app, client, path, zone):
    app.config["TIMEZONE"] = zone
    response = client.get(path)
    assert response.status_code == 200 and "Nothing has been published here yet." in response.text  # not a 500
