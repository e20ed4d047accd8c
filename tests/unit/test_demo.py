"""Demo content: realistic, complete and deterministic."""
from __future__ import annotations

import pytest
from sqlalchemy import func
from sqlalchemy import select

from blog.extensions import db
from blog.models import Category
from blog.models import Comment
from blog.models import Post
from blog.models import User
from blog.services import demo
from blog.services.errors import Conflict
from tests.factories import wipe_content


def _snapshot() -> list[tuple]:
    return [tuple(row) for row in db.session.execute(
        select(Post.slug, Post.status, Post.body, Post.author_id, Post.category_id).order_by(Post.id))]


def test_seed_creates_every_role_a_category_tree_tags_code_and_threads(app):
    report = demo.seed(posts=30, comments=90, users=8)
    assert report.posts == 30 and report.comments == 90 and report.users == 8
    roles = set(db.session.scalars(select(User.role)))
    assert roles == {"admin", "moderator", "author", "reader"}
    assert db.session.scalar(select(func.count()).select_from(Category).where(Category.parent_id.isnot(None))) > 0
    assert db.session.scalar(select(func.count()).select_from(Comment).where(Comment.parent_id.isnot(None))) > 0
    bodies = db.session.scalars(select(Post.html)).all()
    assert any('<div class="highlight">' in html for html in bodies)
    statuses = set(db.session.scalars(select(Post.status)))
    assert "published" in statuses
    admin = db.session.scalar(select(User).filter_by(username="admin"))
    assert admin.check_password(demo.DEMO_ADMIN["password"])


def test_replies_belong_to_the_same_post_as_their_parent_and_come_after_it(app):
    demo.seed(posts=20, comments=80, users=6)
    replies = db.session.scalars(select(Comment).where(Comment.parent_id.isnot(None))).all()
    for reply in replies:
        parent = db.session.get(Comment, reply.parent_id)
        assert parent.post_id == reply.post_id
        assert parent.created_at <= reply.created_at


def test_same_seed_gives_the_same_content(app):
    demo.seed(posts=25, comments=10, users=5, seed=7)
    first = _snapshot()
    wipe_content()
    demo.seed(posts=25, comments=10, users=5, seed=7)
    second = _snapshot()
    assert [row[:3] for row in first] == [row[:3] for row in second]


def test_seed_refuses_a_database_with_content(app):
    demo.seed(posts=2, comments=0, users=4)
    with pytest.raises(Conflict):
        demo.seed(posts=2)
