"""Constant query counts: the same number of SQL statements for 10 or 10,000 posts."""
from __future__ import annotations

import re

from blog.extensions import db
from blog.services import demo
from blog.services import pagecache
from tests.conftest import HX
from tests.factories import wipe_content


def _count(client, count_queries, url, *, warm: bool = False, **kwargs) -> int:
    """Statements for one GET: with a cold cache (the worst case), or a warm one."""
    if warm:
        client.get(url, **kwargs)
    else:
        pagecache.clear()
    db.session.expunge_all()  # nothing cached in the identity map between measurements
    with count_queries() as queries:
        response = client.get(url, **kwargs)
    assert response.status_code == 200, url
    return queries.count


def _measure(client, count_queries) -> dict[str, int]:
    post = _first_post_with_comments(client)
    home = client.get("/").text  # category and tag links that surely list posts
    category = re.search(r'href="(/category/[^"]+)"', home).group(1)
    tag = re.search(r'href="(/tag/[^"]+)"', home).group(1)
    # A post from the middle of the list: it has a previous and a next post, related ones and more by its author.
    middle = re.findall(r'href="(/blog/[^"]+)"', client.get("/?page=3").text)[0]
    page = client.get(middle).text
    assert 'rel="prev"' in page and 'rel="next"' in page and 'id="related-title"' in page, middle
    assert 'class="more-from"' in page
    return {
        "home": _count(client, count_queries, "/"),
        "home, warm cache": _count(client, count_queries, "/", warm=True),
        "fragment": _count(client, count_queries, "/", headers=HX),
        "page 3": _count(client, count_queries, "/?page=3"),
        "post": _count(client, count_queries, post),
        "post in the middle": _count(client, count_queries, middle),
        "post, warm cache": _count(client, count_queries, middle, warm=True),
        "category": _count(client, count_queries, category),
        "tag": _count(client, count_queries, tag),
        "profile": _count(client, count_queries, "/user/admin"),
        "feed": _count(client, count_queries, "/feed.xml"),
    }


def _first_post_with_comments(client) -> str:
    html = client.get("/").text
    return re.findall(r'href="(/blog/[^"]+)"', html)[0]


def test_home_and_post_pages_query_count_does_not_grow_with_data(app, client, count_queries):
    demo.seed(posts=40, comments=30, users=5)
    small = _measure(client, count_queries)
    # Grow to 10,000 posts and 3,000 more comments.
    wipe_content()
    demo.seed(posts=10_000, comments=3_000, users=50)
    large = _measure(client, count_queries)
    assert large == small, (small, large)
    assert _count(client, count_queries, "/?page=900") == small["page 3"]
    # count + page + tags + the cards' excerpts and comment counts for a list; the sidebar adds its
    # widgets only when the cache is cold.
    assert small["fragment"] == 4 and small["home, warm cache"] == 4
    # The post page: the post, its tags, the thread, the neighbours (previous, next, more from the author:
    # one UNION ALL), the related posts, the views UPDATE and today's views-per-day upsert.
    # (+1 on a cold cache: the header's links to pages, services.pages.nav_pages, memoised.)
    assert small["home"] <= 12 and small["post"] <= 7 and small["post in the middle"] <= 7, small
    assert small["post, warm cache"] <= 6, small


def test_post_page_queries_stay_constant_with_1_100_and_1000_comments(app, client, count_queries):
    from tests.factories import make_post
    from tests.factories import make_user
    from blog.models import Comment
    from blog.services.content import render_comment

    post = make_post(title="Busy thread")
    url, post_id = f"/blog/{post.slug}", post.id
    people = [make_user(role="reader").id for _ in range(20)]
    counts = {}
    total = 0
    for target in (1, 100, 1000):
        rows = []
        for n in range(total, target):
            parent = None if n < 10 or n % 3 == 0 else (n // 2) + 1  # threads several levels deep
            rows.append({"post_id": post_id, "author_id": people[n % 20], "body": f"Comment {n}",
                         "html": render_comment(f"Comment {n}"), "status": "approved",
                         "parent_id": parent if parent and parent <= total + len(rows) else None})
        db.session.execute(Comment.__table__.insert(), rows)
        db.session.commit()
        total = target
        counts[target] = _count(client, count_queries, url, headers={"User-Agent": "Mozilla/5.0 Firefox"})
        page = client.get(url).text
        assert f"{target} comment" in page
        # Up to COMMENTS_PER_PAGE top-level comments with their replies; 1,000 is several pages.
        assert client.get(f"{url}?cpage=1").text.count('class="comment"') >= min(target, 100)
        assert ("Page " in page) == (target == 1000)
    # A guest's thread that fits one page is one statement (its counts ride along); one that spans
    # pages takes one more, for that page's comments. Never more, however long it grows.
    assert counts[1] == counts[100] == counts[1000] - 1, counts
