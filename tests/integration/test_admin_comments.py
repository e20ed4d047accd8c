"""Bulk and row moderation in /admin/comments after issue 13: stale rows are never undone, and say so."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from blog.extensions import db
from blog.models import Activity
from blog.models import Comment
from blog.services import comments
from tests.conftest import HX
from tests.factories import login_as
from tests.factories import make_comment
from tests.factories import make_post
from tests.factories import make_user


@pytest.fixture
def site(app):
    moderator = make_user(role="moderator", username="mod")
    author = make_user(role="author", username="ana")
    reader = make_user(role="reader", username="rita")
    post = make_post(author, title="Ana's post")
    first = make_comment(post, author=reader, body="first", status="pending")
    second = make_comment(post, author=reader, body="second", status="pending")
    return {"moderator": moderator, "author": author, "reader": reader, "post": post, "first": first, "second": second}


def status_of(comment_id: int) -> str | None:
    db.session.expire_all()
    return db.session.scalar(select(Comment.status).where(Comment.id == comment_id))


def test_bulk_reject_does_not_undo_an_approval_made_in_the_pending_list(client, site):
    """The finding: an approved row stayed in "Pending"; ticked with a pending one, "Reject selected" rejected both."""
    login_as(client, site["moderator"])
    first, second = site["first"].id, site["second"].id
    row = client.post(f"/admin/comments/{first}/approve", data={"status": "pending", "next": "/admin/comments"},
                      headers=HX)
    # The approved row leaves the pending list: a status note, no checkbox, no Approve button.
    assert row.status_code == 200 and 'role="status"' in row.text
    assert 'name="ids"' not in row.text and f"comment-{first}-approve" not in row.text
    response = client.post("/admin/comments/bulk", data={"ids": [first, second], "action": "reject", "status": "pending",
                                                         "next": "/admin/comments?status=pending"}, headers=HX)
    assert response.status_code == 200
    assert status_of(first) == "approved" and status_of(second) == "rejected"
    assert "Rejected 1 comment. Left alone: 1 already approved." in response.text


def test_a_row_acted_on_by_someone_else_answers_its_current_state(client, site):
    login_as(client, site["moderator"])
    comment_id = site["first"].id
    comments.moderate_many([comment_id], "spam", by=site["moderator"])  # another moderator, a moment ago
    response = client.post(f"/admin/comments/{comment_id}/approve", data={"status": "pending"}, headers=HX)
    assert response.status_code == 200
    assert "Not changed" in response.text and "is spam now" in response.text
    assert status_of(comment_id) == "spam"


def test_bulk_without_a_list_status_acts_on_whatever_allows_the_action(app, site):
    outcome = comments.moderate_many([site["first"].id, site["second"].id, 424242], "approve", by=site["moderator"])
    assert sorted(outcome.done) == sorted([site["first"].id, site["second"].id])
    assert outcome.skipped == {424242: "gone"}
    again = comments.moderate_many([site["first"].id], "approve", by=site["moderator"])
    assert again.done == [] and again.skipped == {site["first"].id: "already approved"}


def test_every_moderation_is_recorded_in_the_history(client, site):
    login_as(client, site["moderator"])
    client.post(f"/admin/comments/{site['first'].id}/reject")
    client.post("/admin/comments/bulk", data={"ids": [site["second"].id], "action": "spam"})
    client.post(f"/admin/comments/{site['second'].id}/delete")
    actions = db.session.scalars(select(Activity.action).order_by(Activity.id)).all()
    assert actions == ["comment.rejected", "comment.spam", "comment.deleted"]
    subject = db.session.scalar(select(Activity.subject).where(Activity.action == "comment.spam"))
    assert subject == "comment by rita on “Ana's post”"
    assert "comment by rita on “Ana&#39;s post”" in client.get("/admin/activity?kind=comment").text


def test_a_thousand_ids_in_one_bulk_request_take_two_statements(client, site, count_queries):
    from blog.services.content import render_comment

    rows = [{"post_id": site["post"].id, "author_id": site["reader"].id, "body": f"c{n}", "html": render_comment(f"c{n}"),
             "status": "pending"} for n in range(1000)]
    db.session.execute(Comment.__table__.insert(), rows)
    db.session.commit()
    ids = db.session.scalars(select(Comment.id).where(Comment.body.like("c%"))).all()
    assert len(ids) == 1000
    moderator = site["moderator"]
    assert moderator.role == "moderator"  # loaded, as current_user is in a request
    with count_queries() as queries:
        outcome = comments.moderate_many(ids, "reject", by=moderator, expected="pending")
    assert len(outcome.done) == 1000 and not outcome.skipped
    # One guarded UPDATE ... RETURNING, one INSERT ... SELECT into the history (and the commit).
    assert queries.count == 2, queries.statements
    assert db.session.scalar(select(Activity.id).where(Activity.comment_id == ids[-1])) is not None


def test_more_than_a_thousand_ids_are_refused(client, site):
    login_as(client, site["moderator"])
    response = client.post("/admin/comments/bulk", data={"ids": list(range(1, 1003)), "action": "approve"})
    assert response.status_code == 422
