"""Long comment threads come in pages of top-level comments (?cpage=N), replies with theirs, and every
link to a comment (mail, admin queue, sidebar, after posting) lands on the page that shows it."""
from __future__ import annotations

from datetime import timedelta

import pytest

from blog.models import utcnow
from tests.conftest import HX
from tests.factories import login_as
from tests.factories import make_comment
from tests.factories import make_post
from tests.factories import make_user


@pytest.fixture
def thread(app):
    """7 top-level comments, 3 a page (pages 1-3, oldest first); root 1 has a reply and a reply to it."""
    app.config["COMMENTS_PER_PAGE"] = 3
    writer = make_user(role="author", username="writer")
    post = make_post(author=writer, title="Busy")
    start = utcnow() - timedelta(days=1)
    roots = [make_comment(post, body=f"Root {n}", created_at=start + timedelta(minutes=n)) for n in range(7)]
    reply = make_comment(post, body="Reply to root 1", parent=roots[1], created_at=start + timedelta(hours=2))
    deeper = make_comment(post, body="Reply to the reply", parent=reply, created_at=start + timedelta(hours=3))
    hidden = make_comment(post, body="Waiting", status="pending", created_at=start + timedelta(hours=4))
    return {"post": post, "roots": roots, "reply": reply, "deeper": deeper, "pending": hidden,
            "url": f"/blog/{post.slug}"}


def test_the_post_shows_the_newest_page_with_a_link_to_older_ones_and_the_full_count(client, thread):
    page = client.get(thread["url"]).text
    assert "Root 6" in page and "Root 5" not in page
    assert "9 comments" in page  # every approved comment, not the page's
    assert "Page 3 of 3" in page
    assert f'href="{thread["url"]}?cpage=2#comments"' in page and "Older comments" in page
    assert "Newer comments" not in page


def test_a_page_holds_its_top_level_comments_with_all_their_replies(client, thread):
    page = client.get(f"{thread['url']}?cpage=1").text
    assert all(f"Root {n}<" in page for n in range(3)) and "Root 3<" not in page
    assert "Reply to root 1" in page and "Reply to the reply" in page
    assert "Waiting" not in page  # the guest does not see the queue
    assert "9 comments" in page and "Page 1 of 3" in page and "Newer comments" in page
    assert "Reply to root 1" not in client.get(f"{thread['url']}?cpage=2").text


@pytest.mark.parametrize("cpage", ["0", "-3", "abc", "99999999999999999999", "4"])
def test_odd_page_numbers_give_a_page_not_an_error(client, thread, cpage):
    response = client.get(f"{thread['url']}?cpage={cpage}")
    assert response.status_code == 200
    assert "Page " in response.text


def test_guests_get_no_cookie_on_any_page_of_the_thread(client, thread):
    for url in (thread["url"], f"{thread['url']}?cpage=1"):
        assert "Set-Cookie" not in client.get(url).headers
    response = client.get(f"/blog/{thread['post'].slug}/comments?cpage=1", headers=HX)
    assert "Set-Cookie" not in response.headers


def test_htmx_swaps_the_thread_section_in_place_and_no_js_goes_to_the_page(client, thread):
    fragment = client.get(f"/blog/{thread['post'].slug}/comments?cpage=2", headers=HX)
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<section id="comments"')
    assert "Root 3" in fragment.text and "Root 0<" not in fragment.text and "<html" not in fragment.text
    assert 'hx-push-url="' + thread["url"] + '?cpage=1"' in fragment.text
    plain = client.get(f"/blog/{thread['post'].slug}/comments?cpage=2")
    assert plain.status_code == 302 and plain.headers["Location"] == f"{thread['url']}?cpage=2#comments"


def test_a_permalink_lands_on_the_page_that_shows_the_comment(client, thread):
    slug = thread["post"].slug
    for comment, where in ((thread["deeper"], f"?cpage=1#comment-{thread['deeper'].id}"),
                           (thread["roots"][4], f"?cpage=2#comment-{thread['roots'][4].id}"),
                           (thread["roots"][6], f"#comment-{thread['roots'][6].id}")):  # the default page
        response = client.get(f"/comments/{comment.id}")
        assert response.status_code == 302
        assert response.headers["Location"] == f"/blog/{slug}{where}"
        page = client.get(response.headers["Location"].split("#")[0]).text
        assert f'id="comment-{comment.id}"' in page


def test_a_permalink_to_a_hidden_or_missing_comment(client, thread):
    # A guest cannot see a pending comment: the post's comments, not an error nor a leak.
    response = client.get(f"/comments/{thread['pending'].id}")
    assert response.status_code == 302 and response.headers["Location"] == f"{thread['url']}#comments"
    assert client.get("/comments/999999").status_code == 404
    assert client.get("/comments/99999999999999999999").status_code == 404
    draft = make_post(status="draft")
    assert client.get(f"/comments/{make_comment(draft).id}").status_code == 404


def test_pages_follow_what_the_viewer_sees(client, thread):
    # The post's author moderates: the pending comment is a top-level one for them, on a new last page.
    login_as(client, thread["post"].author)
    page = client.get(thread["url"]).text
    assert "Page 3 of 3" in page and "Waiting" in page
    response = client.get(f"/comments/{thread['pending'].id}")
    assert response.headers["Location"] == f"{thread['url']}#comment-{thread['pending'].id}"


def test_posting_without_js_returns_to_the_page_of_the_new_reply(client, thread):
    from blog.services import comments

    reader = make_user(role="reader", username="reader")
    login_as(client, reader)
    parent = thread["roots"][0]
    # The no-JS Reply link opens the page that holds the comment, with the box under it.
    page = client.get(f"{thread['url']}?reply_to={parent.id}").text
    assert "Page 1 of 3" in page and f'id="reply-{parent.id}"' in page
    response = client.post(f"{thread['url']}/comments", data={
        "body": "Me too", "token": comments.form_token(), "parent_id": str(parent.id)})
    assert response.status_code == 303  # PRG
    # Queued (a new reader) or published, the writer sees it: on page 1, under its parent.
    assert "?cpage=1#comment-" in response.headers["Location"]


def test_queries_do_not_grow_with_the_page_number(client, thread, count_queries):
    counts = []
    client.get(thread["url"])  # the memoised header and sidebar widgets: warm
    for cpage in (1, 2, 3):
        with count_queries() as queries:
            assert client.get(f"{thread['url']}?cpage={cpage}").status_code == 200
        counts.append(queries.count)
    assert counts[0] == counts[1] == counts[2], counts


def test_the_api_still_lists_the_whole_thread(client, thread):
    body = client.get(f"/api/v1/posts/{thread['post'].slug}/comments").get_json()
    assert body["comment_count"] == 9
    assert len(body["items"]) == 9  # every approved comment, not one web page of them
