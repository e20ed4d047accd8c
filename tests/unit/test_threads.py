"""Comment threads: one query, nesting clamped at three levels."""
from __future__ import annotations

from blog.services import comments
from tests.factories import make_comment
from tests.factories import make_post


def test_thread_nests_replies_and_hides_unapproved(app):
    post = make_post()
    first = make_comment(post, body="first")
    reply = make_comment(post, body="reply", parent=first)
    make_comment(post, body="hidden", status="pending", parent=first)
    make_comment(post, body="spam", status="spam")
    thread = comments.thread(post)
    assert thread.count == 2
    assert [n.comment.body for n in thread.roots] == ["first"]
    assert [n.comment.id for n in thread.roots[0].replies] == [reply.id]


def test_replies_deeper_than_three_levels_attach_to_the_third(app):
    post = make_post()
    level1 = make_comment(post, body="1")
    level2 = make_comment(post, body="2", parent=level1)
    level3 = make_comment(post, body="3", parent=level2)
    level4 = make_comment(post, body="4", parent=level3)
    thread = comments.thread(post)
    third = thread.roots[0].replies[0].replies[0]
    assert third.comment.id == level3.id
    assert [n.comment.id for n in third.replies] == []
    assert level4.id in [n.comment.id for n in thread.roots[0].replies[0].replies]


def test_thread_of_another_post_is_not_mixed_in(app):
    post, other = make_post(), make_post()
    make_comment(other, body="elsewhere")
    assert comments.thread(post).count == 0
