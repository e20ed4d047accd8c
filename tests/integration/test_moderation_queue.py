"""The moderation queue at /admin/comments: who sees what, filters, per-row and bulk actions, the nav counter."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from blog.extensions import db
from blog.models import Comment
from tests.conftest import HX
from tests.factories import login_as
from tests.factories import make_comment
from tests.factories import make_post
from tests.factories import make_user

QUEUE = "/admin/comments"


@pytest.fixture
def site(app):
    """Two authors' posts with comments in every status; a moderator, an admin and a reader."""
    ana, bob = make_user(role="author", username="ana"), make_user(role="author", username="bob")
    readers = [make_user(role="reader", username=f"reader{n}") for n in range(3)]
    ana_post = make_post(author=ana, title="Ana's post", slug="anas-post")
    bob_post = make_post(author=bob, title="Bob's post", slug="bobs-post")
    on_ana = [make_comment(ana_post, author=readers[n], status="pending", body=f"On Ana's {n}") for n in range(3)]
    on_bob = [make_comment(bob_post, author=readers[n], status="pending", body=f"On Bob's {n}") for n in range(2)]
    others = {status: make_comment(bob_post, author=readers[0], status=status, body=f"An {status} one")
              for status in ("approved", "spam", "rejected")}
    return {"ana": ana, "bob": bob, "reader": readers[0], "ana_post": ana_post, "bob_post": bob_post,
            "on_ana": on_ana, "on_bob": on_bob, "others": others,
            "moderator": make_user(role="moderator", username="mod"),
            "admin": make_user(role="admin", username="root")}


def rows(html: str) -> list[int]:
    """The ids of the comments listed, in order."""
    return [int(n) for n in re.findall(r'<tr id="comment-(\d+)"', html)]


def pending_badge(html: str) -> str:
    """The number in the nav's pending counter."""
    return re.search(r'<span id="pending-count"[^>]*>(\d+)</span>', html).group(1)


def status_of(comment: Comment) -> str | None:
    db.session.expire_all()
    return db.session.scalar(select(Comment.status).where(Comment.id == comment.id))


def act(client, comment: Comment, action: str, headers=None, next: str = f"{QUEUE}?status=pending"):
    return client.post(f"{QUEUE}/{comment.id}/{action}", data={"next": next}, headers=headers)


def bulk(client, ids, action: str, headers=None, next: str = f"{QUEUE}?status=pending"):
    return client.post(f"{QUEUE}/bulk", data={"ids": [str(i) for i in ids], "action": action, "next": next},
                       headers=headers)


# --- who sees what ---------------------------------------------------------------------------

def test_guests_are_sent_to_log_in(client, site):
    response = client.get(QUEUE)
    assert response.status_code == 302 and "/auth/login" in response.location
    assert act(client, site["on_ana"][0], "approve").status_code == 302
    assert status_of(site["on_ana"][0]) == "pending"


def test_readers_are_refused(client, site):
    login_as(client, site["reader"])
    assert client.get(QUEUE).status_code == 403
    assert act(client, site["on_ana"][0], "approve").status_code == 403
    assert bulk(client, [site["on_ana"][0].id], "approve").status_code == 403
    assert status_of(site["on_ana"][0]) == "pending"
    assert 'id="moderation-link"' not in client.get("/").text


@pytest.mark.parametrize("role", ["moderator", "admin"])
def test_moderators_and_admins_see_every_pending_comment(client, site, role):
    login_as(client, site[role])
    html = client.get(QUEUE).text
    pending = site["on_ana"] + site["on_bob"]
    assert sorted(rows(html)) == sorted(c.id for c in pending)
    assert pending_badge(html) == "5"


def test_authors_see_only_the_comments_on_their_own_posts(client, site):
    login_as(client, site["ana"])
    html = client.get(QUEUE).text
    assert sorted(rows(html)) == sorted(c.id for c in site["on_ana"])
    assert "Bob&#39;s post" not in html and "Bob's post" not in html  # not even in the post filter
    assert pending_badge(html) == "3"
    # Asking for Bob's post by name shows nothing of it.
    assert rows(client.get(f"{QUEUE}?post=bobs-post").text) == []


def test_authors_cannot_act_on_comments_on_others_posts(client, site):
    login_as(client, site["ana"])
    theirs = site["on_bob"][0]
    for action in ("approve", "reject", "spam", "delete"):
        assert act(client, theirs, action).status_code == 403
        assert act(client, theirs, action, headers=HX).status_code == 403
    assert status_of(theirs) == "pending"
    # Their own post's comments, they may.
    assert act(client, site["on_ana"][0], "approve").status_code == 303
    assert status_of(site["on_ana"][0]) == "approved"


# --- listing and filters ---------------------------------------------------------------------

def test_the_queue_lists_pending_comments_newest_first_by_default(client, site):
    login_as(client, site["moderator"])
    html = client.get(QUEUE).text
    pending = site["on_ana"] + site["on_bob"]
    assert rows(html) == [c.id for c in sorted(pending, key=lambda c: (c.created_at, c.id), reverse=True)]
    assert "<caption>" in html and '<option selected value="pending">' in html
    assert "An approved one" not in html and "An spam one" not in html


@pytest.mark.parametrize("status", ["approved", "spam", "rejected"])
def test_filtering_by_status(client, site, status):
    login_as(client, site["moderator"])
    assert rows(client.get(f"{QUEUE}?status={status}").text) == [site["others"][status].id]


def test_filtering_by_post_and_the_post_choices_follow_the_status(client, site):
    login_as(client, site["moderator"])
    html = client.get(f"{QUEUE}?status=pending&post=anas-post").text
    assert sorted(rows(html)) == sorted(c.id for c in site["on_ana"])
    assert '<option selected value="anas-post">' in html and '<option value="bobs-post">' in html
    spam = client.get(f"{QUEUE}?status=spam").text
    assert '<option value="bobs-post">' in spam and "anas-post" not in spam  # Ana's post has no spam


def test_filters_and_pages_swap_only_the_queue_with_htmx(client, site):
    login_as(client, site["moderator"])
    for url in (f"{QUEUE}?status=spam", f"{QUEUE}?status=pending&post=bobs-post", f"{QUEUE}?page=1"):
        page, fragment = client.get(url), client.get(url, headers=HX)
        assert "<html" in page.text and "<html" not in fragment.text
        assert fragment.text.lstrip().startswith('<div id="queue"')
        assert rows(page.text) == rows(fragment.text)
        assert "HX-Request" in page.headers["Vary"] and "HX-Request" in fragment.headers["Vary"]


def test_nonsense_filters_fall_back_to_the_pending_queue(client, site):
    login_as(client, site["moderator"])
    response = client.get(f"{QUEUE}?status=bogus&page=banana")
    assert response.status_code == 200
    assert len(rows(response.text)) == 5


def test_pages_of_25_with_htmx_links_that_keep_the_filters(client, site):
    post = site["bob_post"]
    for n in range(55):
        make_comment(post, author=site["reader"], status="spam", body=f"Buy {n}")
    login_as(client, site["moderator"])
    first = client.get(f"{QUEUE}?status=spam").text
    assert len(rows(first)) == 25
    link = re.search(r'<a rel="next" href="([^"]+)" hx-get="([^"]+)">', first)
    assert link and link.group(1) == link.group(2) and "status=spam" in link.group(1)
    assert 'hx-target="#queue"' in first and 'hx-push-url="true"' in first
    assert len(rows(client.get(f"{QUEUE}?status=spam&page=3").text)) == 6  # 56 in all
    assert len(rows(client.get(f"{QUEUE}?status=spam&page=9").text)) == 6  # past the end: the last page


def test_select_all_ticks_every_row_of_the_page(client, site):
    login_as(client, site["moderator"])
    html = client.get(f"{QUEUE}?status=pending&select=all", headers=HX).text
    assert len(re.findall(r'name="ids" value="\d+" form="bulk-form"\s+aria-label="[^"]+" checked>', html)) == 5
    assert re.search(r'id="select-all" checked', html)


def test_rows_link_to_the_comment_and_label_their_buttons(client, site):
    login_as(client, site["moderator"])
    comment = site["on_ana"][0]
    html = client.get(QUEUE).text
    # The comment's permalink, which redirects to the thread page that shows it (threads are paginated).
    assert f'href="/comments/{comment.id}"' in html
    assert client.get(f"/comments/{comment.id}").headers["Location"] == f"/blog/anas-post#comment-{comment.id}"
    assert (f'<button type="submit" id="comment-{comment.id}-approve" class="button small" '
            f'aria-label="Approve comment by reader0 on “Ana&#39;s post”">Approve</button>') in html
    assert f'id="comment-{comment.id}-delete"' in html and "hx-confirm=" in html
    assert html.count('name="csrf_token"') >= 4 * 5


def test_comment_html_with_a_script_renders_inert(client, site):
    post = site["ana_post"]
    rendered = make_comment(post, author=site["reader"], status="pending",
                            body='Hi <script>alert("x")</script> <img src=x onerror=alert(1)>')
    raw = make_comment(post, author=site["reader"], status="pending", body='<script>alert("raw")</script>')
    raw.html = ""  # no rendered HTML: the escaped body is shown instead
    db.session.commit()
    login_as(client, site["moderator"])
    html = client.get(QUEUE).text
    assert "<script>alert" not in html and "onerror" not in html
    assert "&lt;script&gt;alert(&#34;raw&#34;)&lt;/script&gt;" in html
    assert re.search(rf'<tr id="comment-{rendered.id}".*?<p>Hi', html, re.S)


def test_the_queue_passes_the_strict_csp(client, site):
    login_as(client, site["moderator"])
    html = client.get(QUEUE).text
    assert not re.search(r"<script\b(?![^>]*type=\"application/ld\+json\")[^>]*>\s*[^<\s]", html)
    assert not re.search(r"\son[a-z]+\s*=", html) and not re.search(r"\sstyle\s*=", html)
    assert "<style" not in html and "hx-on" not in html


def test_the_query_count_does_not_grow_with_the_queue(client, app, count_queries):
    moderator = make_user(role="moderator", username="mod")
    posts = [make_post(title=f"Post {n}") for n in range(4)]
    readers = [make_user(role="reader") for _ in range(6)]

    def add(count: int) -> None:
        for n in range(count):
            make_comment(posts[n % 4], author=readers[n % 6], status="pending", body=f"Comment {n}")

    def measure(**kwargs) -> int:
        db.session.expunge_all()
        with count_queries() as queries:
            assert client.get(QUEUE, **kwargs).status_code == 200
        return queries.count

    login_as(client, moderator)
    add(5)
    client.get(QUEUE)  # warm the header's cached page links
    small, small_fragment = measure(), measure(headers=HX)
    add(55)
    assert measure() == small and measure(headers=HX) == small_fragment
    # The user, the nav's pending count, and the queue's count, page ids, rows and post choices.
    assert small == 6 and small_fragment == 5


# --- one comment at a time ---------------------------------------------------------------

@pytest.mark.parametrize("action, status", [("approve", "approved"), ("reject", "rejected"), ("spam", "spam")])
def test_a_row_action_changes_the_status_and_answers_the_row_and_the_counter(client, site, action, status):
    login_as(client, site["moderator"])
    comment = site["on_ana"][1]
    response = act(client, comment, action, headers=HX)
    assert response.status_code == 200
    assert status_of(comment) == status
    html = response.text
    assert "<html" not in html and html.lstrip().startswith(f'<tr id="comment-{comment.id}"')
    assert f'<span class="status-badge status-{status}">{status.capitalize()}</span>' in html
    assert 'name="next" value="/admin/comments?status=pending"' in html  # the row's forms still go back there
    assert re.search(r'<a id="moderation-link" href="/admin/comments" hx-swap-oob="true">', html)
    assert pending_badge(html) == "4"
    assert "flash" not in html  # the row itself shows what happened


def test_a_row_action_without_javascript_redirects_back_with_a_message(client, site):
    login_as(client, site["moderator"])
    comment = site["on_bob"][0]
    response = act(client, comment, "spam", next=f"{QUEUE}?status=pending&post=bobs-post&page=1")
    assert response.status_code == 303
    assert response.location == f"{QUEUE}?status=pending&post=bobs-post&page=1"
    assert status_of(comment) == "spam"
    page = client.get(response.location).text
    assert "Marked the comment by reader0 as spam." in page
    assert pending_badge(page) == "4"


@pytest.mark.parametrize("next", ["https://evil.example/", "//evil.example/x", "", "javascript:alert(1)"])
def test_next_must_be_a_path_on_this_site(client, site, next):
    login_as(client, site["moderator"])
    response = act(client, site["on_ana"][0], "approve", next=next)
    assert response.status_code == 303 and response.location == QUEUE


def test_unknown_actions_and_missing_comments_are_not_found(client, site):
    login_as(client, site["moderator"])
    assert act(client, site["on_ana"][0], "publish").status_code == 404
    assert client.post(f"{QUEUE}/999999/approve").status_code == 404
    assert client.post(f"{QUEUE}/999999/delete").status_code == 404
    assert client.get(f"{QUEUE}/{site['on_ana'][0].id}/approve").status_code == 405
    assert status_of(site["on_ana"][0]) == "pending"


def test_deleting_a_row_removes_it(client, site):
    login_as(client, site["moderator"])
    comment = site["on_ana"][0]
    response = act(client, comment, "delete", headers=HX)
    assert response.status_code == 200
    assert "<tr" not in response.text  # the row is swapped for nothing
    assert pending_badge(response.text) == "4"
    assert status_of(comment) is None


def test_deleting_a_comment_with_replies_leaves_it_removed(client, site):
    login_as(client, site["moderator"])
    parent = make_comment(site["ana_post"], author=site["reader"], status="pending", body="Have replies")
    make_comment(site["ana_post"], author=site["ana"], status="approved", body="A reply", parent=parent)
    response = act(client, parent, "delete", headers=HX)
    assert response.status_code == 200
    assert f'<tr id="comment-{parent.id}"' in response.text and "Comment removed." in response.text
    assert "Have replies" not in response.text
    db.session.expire_all()
    assert db.session.get(Comment, parent.id).is_removed


def test_deleting_without_javascript_redirects_back(client, site):
    login_as(client, site["moderator"])
    response = act(client, site["on_bob"][1], "delete")
    assert response.status_code == 303 and response.location == f"{QUEUE}?status=pending"
    assert "Deleted the comment by reader1." in client.get(response.location).text


# --- many at once ------------------------------------------------------------------------

def test_bulk_approving_fifty_comments_in_one_request(client, site, count_queries):
    post = site["bob_post"]
    queue = [make_comment(post, author=site["reader"], status="pending", body=f"Queued {n}") for n in range(45)]
    ids = [c.id for c in queue + site["on_ana"] + site["on_bob"]]
    assert len(ids) == 50
    login_as(client, site["moderator"])
    response = bulk(client, ids, "approve", headers=HX)
    assert response.status_code == 200
    html = response.text
    assert "<html" not in html and html.lstrip().startswith('<div id="queue"')
    assert rows(html) == [] and "The queue is clear." in html
    assert "Approved 50 comments." in html and 'id="flashes"' in html  # the flash rides along out of band
    assert pending_badge(html) == "0" and re.search(r'<span id="pending-count" class="count-badge" hidden>', html)
    db.session.expire_all()
    assert set(db.session.scalars(select(Comment.status).where(Comment.id.in_(ids)))) == {"approved"}


def test_bulk_leaves_alone_what_the_user_may_not_moderate(client, site):
    login_as(client, site["ana"])
    mine, theirs = site["on_ana"][:2], site["on_bob"]
    response = bulk(client, [c.id for c in mine + theirs], "spam", headers=HX)
    assert response.status_code == 200
    assert [status_of(c) for c in mine] == ["spam", "spam"]
    assert [status_of(c) for c in theirs] == ["pending", "pending"]
    assert "Marked 2 comments as spam. Left alone: 2 not yours to moderate." in response.text
    assert rows(response.text) == [site["on_ana"][2].id]
    assert pending_badge(response.text) == "1"


def test_bulk_without_javascript_redirects_back_to_the_same_filters(client, site):
    login_as(client, site["moderator"])
    back = f"{QUEUE}?status=pending&post=anas-post"
    response = bulk(client, [c.id for c in site["on_ana"]], "reject", next=back)
    assert response.status_code == 303 and response.location == back
    assert [status_of(c) for c in site["on_ana"]] == ["rejected"] * 3
    page = client.get(back).text
    assert "Rejected 3 comments." in page and rows(page) == []


def test_bulk_keeps_the_filters_of_the_page_it_came_from(client, site):
    login_as(client, site["moderator"])
    back = f"{QUEUE}?status=pending&post=bobs-post"
    response = bulk(client, [site["on_bob"][0].id], "approve", headers=HX, next=back)
    assert rows(response.text) == [site["on_bob"][1].id]
    assert '<option selected value="bobs-post">' in response.text


def test_bulk_with_nothing_ticked_or_a_bad_action(client, site):
    login_as(client, site["moderator"])
    response = bulk(client, [], "approve")
    assert response.status_code == 303
    assert "Tick the comments to act on first." in client.get(response.location).text
    assert bulk(client, [site["on_ana"][0].id], "publish").status_code == 400
    assert bulk(client, ["seven"], "approve").status_code == 400
    assert status_of(site["on_ana"][0]) == "pending"


# --- CSRF and the nav ----------------------------------------------------------------------

def test_csrf_is_enforced_when_enabled(app, client, site):
    app.config["WTF_CSRF_ENABLED"] = True
    login_as(client, site["moderator"])
    comment = site["on_ana"][0]
    assert act(client, comment, "approve").status_code == 400
    assert act(client, comment, "approve", headers=HX).status_code == 400
    assert bulk(client, [comment.id], "approve").status_code == 400
    assert status_of(comment) == "pending"
    page = client.get(QUEUE).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(f"{QUEUE}/{comment.id}/approve", data={"csrf_token": token, "next": QUEUE})
    assert response.status_code == 303 and status_of(comment) == "approved"
    header = re.search(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', page).group(1)
    response = bulk(client, [site["on_ana"][1].id], "spam", headers={**HX, "X-CSRFToken": header})
    assert response.status_code == 200 and status_of(site["on_ana"][1]) == "spam"


def test_the_nav_counter_for_each_role(client, site):
    login_as(client, site["bob"])
    assert pending_badge(client.get("/").text) == "2"  # only the comments on Bob's post
    login_as(client, site["moderator"])
    html = client.get("/").text
    assert '<a id="moderation-link" href="/admin/comments">' in html and pending_badge(html) == "5"
    assert "hx-swap-oob" not in html.split('id="moderation-link"')[1][:60]
    author_without_comments = make_user(role="author", username="quiet")
    login_as(client, author_without_comments)
    html = client.get("/").text
    assert '<span id="pending-count" class="count-badge" hidden>0</span>' in html


def test_the_dashboard_links_to_the_queue(client, site):
    login_as(client, site["admin"])
    assert 'href="/admin/comments"' in client.get("/admin/").text
