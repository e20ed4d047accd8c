"""/admin/ dashboard and /admin/activity: queues first, counts that link, 30-day SVG charts, who did what."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from blog.extensions import db
from blog.models import utcnow
from blog.services import stats
from blog.services import viewcounts
from tests.conftest import HX
from tests.factories import login_as
from tests.factories import make_comment
from tests.factories import make_post
from tests.factories import make_user


@pytest.fixture
def site(app):
    admin = make_user(role="admin", username="root")
    moderator = make_user(role="moderator", username="mod")
    author = make_user(role="author", username="ana")
    reader = make_user(role="reader", username="rita")
    make_post(reader, title="Waiting", status="pending")
    post = make_post(author, title="Popular", slug="popular")
    make_comment(post, author=reader, status="pending")
    return {"admin": admin, "moderator": moderator, "author": author, "reader": reader, "post": post}


@pytest.mark.parametrize("url", ["/admin/", "/admin/activity"])
@pytest.mark.parametrize("role", ["reader", "author"])
def test_readers_and_authors_are_refused(client, site, url, role):
    login_as(client, site[role])
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("url", ["/admin/", "/admin/activity"])
def test_guests_are_sent_to_log_in(client, site, url):
    assert client.get(url).status_code == 302


def test_a_moderator_sees_the_moderation_parts(client, site):
    login_as(client, site["moderator"])
    page = client.get("/admin/").text
    assert re.search(r'href="/admin/posts\?status=pending">Pending posts <span class="count-badge">1</span>', page)
    assert re.search(r'href="/admin/comments\?status=pending">Pending comments <span class="count-badge">1</span>', page)
    assert "Unsent mail" not in page and "/admin/users" not in page and "Registrations" not in page
    assert 'href="/admin/activity"' in page
    assert 'href="/admin/">Admin</a>' in page  # the nav leads moderators here now


def test_an_admin_sees_everything_and_every_count_links_to_its_list(client, site):
    login_as(client, site["admin"])
    page = client.get("/admin/").text
    assert "Unsent mail" in page and "Registrations" in page
    for href in ('/admin/users?role=reader', '/admin/posts?status=published', '/admin/comments?status=pending',
                 '/admin/users', '/admin/categories'):
        assert f'href="{href}"' in page, href


def test_charts_are_svg_with_a_title_a_description_and_a_table(client, site):
    login_as(client, site["admin"])
    page = client.get("/admin/").text
    charts = re.findall(r'<svg[^>]*role="img"[^>]*>', page)
    assert len(charts) == 4
    assert '<title id="chart-comments-title">Comments per day</title>' in page
    assert re.search(r'<desc id="chart-posts-desc">From .+: 1 in all', page)
    assert page.count("<rect") == 4 * 30
    body = page.split("</head>", 1)[1]
    # No chart script: the only script in the body is the site-wide focus helper.
    assert [re.sub(r"focus\.[0-9a-f]+\.js", "focus.js", tag) for tag in re.findall(r"<script[^>]*>", body)] \
        == ['<script src="/static/js/focus.js" defer>']
    assert "the numbers per day" in page


def test_each_chart_is_one_aggregate_query(app, site, count_queries):
    for age in (1, 5, 40):  # 40 days ago is outside the window
        make_post(site["author"], age_hours=age * 24)
    with count_queries() as queries:
        charts = stats.charts(admin=True)
    assert queries.count == 4
    posts = next(chart for chart in charts if chart.key == "posts")
    assert len(posts.days) == 30 and posts.total == 3  # "Popular" today, and 1 and 5 days ago
    assert posts.days[-1][0] == utcnow().date()


def test_views_are_counted_per_day_and_give_the_most_read_posts(client, site):
    for _ in range(3):
        client.get("/blog/popular", headers={"User-Agent": "Mozilla/5.0"})
    viewcounts.flush()  # reads are buffered; the flush writes the totals and today's row
    viewcounts.tally(site["post"].id, day=utcnow().date() - timedelta(days=10))
    db.session.commit()
    views = next(chart for chart in stats.charts(admin=False) if chart.key == "views")
    assert views.total == 4 and views.days[-1][1] == 3
    assert [(p.title, p.views) for p in stats.most_read()] == [("Popular", 3)]
    login_as(client, site["moderator"])
    assert "Popular</a> <span class=\"count\">3 views" in client.get("/admin/").text


def test_the_activity_page_filters_and_swaps(client, site):
    login_as(client, site["admin"])
    client.post(f"/admin/users/{site['reader'].id}/role", data={"role": "author"})
    client.post(f"/admin/posts/{site['post'].id}/archive")
    login_as(client, site["moderator"])
    everything = client.get("/admin/activity").text
    assert "Changed the role of" in everything and "Archived" in everything
    only_users = client.get("/admin/activity?kind=user").text
    assert "Changed the role of" in only_users and "Archived" not in only_users
    one_post = client.get(f"/admin/activity?post={site['post'].id}").text
    assert "Archived" in one_post and "Changed the role" not in one_post
    fragment = client.get("/admin/activity?kind=post", headers=HX)
    assert "<html" not in fragment.text and 'id="history"' in fragment.text
    assert client.get("/admin/activity?kind=x&post=abc&user=99999999999999&page=-3").status_code == 200


def test_the_dashboard_query_count_does_not_grow(client, site, count_queries):
    login_as(client, site["admin"])

    def count() -> int:
        db.session.expunge_all()
        with count_queries() as queries:
            assert client.get("/admin/").status_code == 200
        return queries.count

    count()  # warm the memoised header links (static pages), cached across requests
    small = count()
    for n in range(30):
        post = make_post(site["author"], age_hours=n * 20)
        make_comment(post)
        make_user(role="reader")
    assert count() == small
