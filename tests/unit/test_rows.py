"""The post page's plain rows (services/rows.py) say what the models say, and obey the same rules."""
from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from blog.extensions import db
from blog.models import Category
from blog.models import Comment
from blog.models import Post
from blog.models import utcnow
from blog.services import comments
from blog.services import posts
from blog.services import rows
from blog.services.errors import NotFound
from tests.factories import make_comment
from tests.factories import make_post
from tests.factories import make_user


def test_a_post_row_holds_the_models_values_author_category_and_tags_in_order(app):
    author = make_user(bio="Writes things.", social_links={"website": "https://example.com"}, avatar="abc.png")
    category = Category(name="Databases", slug="databases")
    db.session.add(category)
    post = make_post(author=author, tags=["zeta", "alpha", "mu"], category=category, cover_alt="A cat")
    row = rows.post_by_slug(post.slug)
    model = db.session.get(Post, post.id)
    for name in rows._POST_COLUMNS:
        assert getattr(row, name) == getattr(model, name), name
    assert (row.author.username, row.author.bio, row.author.social_links, row.author.avatar) == (
        author.username, "Writes things.", {"website": "https://example.com"}, "abc.png")
    assert (row.category.name, row.category.slug) == ("Databases", "databases")
    assert [tag.name for tag in row.tags] == ["alpha", "mu", "zeta"]
    assert not hasattr(row, "body")  # the Markdown source stays in the database
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.status = "draft"  # type: ignore[misc]


def test_a_post_without_category_or_tags_and_an_unknown_slug(app):
    post = make_post()
    row = rows.post_by_slug(post.slug)
    assert row.category is None and row.tags == []
    assert rows.post_by_slug("no-such-post") is None


def test_get_readable_hides_a_draft_as_get_visible_does(app):
    writer, stranger, moderator = make_user(), make_user(), make_user(role="moderator")
    draft = make_post(author=writer, status="draft")
    for user in (None, stranger):
        with pytest.raises(NotFound):
            posts.get_readable(draft.slug, user)
        with pytest.raises(NotFound):
            posts.get_visible(draft.slug, user)
    for user in (writer, moderator):
        assert posts.get_readable(draft.slug, user).id == posts.get_visible(draft.slug, user).id


def test_comment_rows_name_their_writer_as_the_model_does(app):
    post = make_post()
    signed = make_comment(post, body="from an account")
    guest = make_comment(post, body="imported", author_name="Ann Guest")
    deleted = make_comment(post, body="gone writer")
    guest.author = deleted.author = None  # an imported guest's comment; one whose account was deleted
    db.session.commit()
    removed = make_comment(post, body="was here", deleted_at=utcnow())
    thread = comments.thread(post)
    shown = {node.comment.id: node.comment for node in thread.roots}
    for made in (signed, guest, deleted, removed):
        model = db.session.get(Comment, made.id)
        row = shown[made.id]
        assert isinstance(row, rows.CommentRow)
        assert (row.display_name, row.is_removed, row.body, row.html, row.created_at) == (
            model.display_name, model.is_removed, model.body, model.html, model.created_at)
    assert shown[guest.id].display_name == "Ann Guest" and shown[deleted.id].display_name == "deleted user"
    assert shown[signed.id].author.username == post.author.username
    assert shown[removed.id].is_removed and not shown[signed.id].is_removed


def test_the_post_page_loads_no_orm_objects_for_a_guest(app, client):
    post = make_post(tags=["one"])
    make_comment(post)
    make_comment(post, parent=make_comment(post))
    slug = post.slug
    db.session.expunge_all()
    seen: list[object] = []

    from sqlalchemy import event

    def loaded(target, context):
        seen.append(target)

    for model in (Post, Comment):
        event.listen(model, "load", loaded)
    try:
        response = client.get(f"/blog/{slug}")
    finally:
        for model in (Post, Comment):
            event.remove(model, "load", loaded)
    assert response.status_code == 200 and b"3 comments" in response.data
    assert seen == []



def _statuses_while(client, path: str) -> list[str]:
    """The PostgreSQL connection's transaction status before each statement of one GET of ``path``."""
    from sqlalchemy import event

    seen: list[str] = []

    def before(conn, cursor, statement, *args) -> None:
        seen.append(conn.connection.dbapi_connection.info.transaction_status.name)

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        assert client.get(path).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
    return seen


def test_on_postgresql_a_guests_post_page_reads_outside_a_transaction(app, client):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: on SQLite a read opens no transaction anyway (TEST_DATABASE_URL)")
    from tests.factories import login_as

    post = make_post(tags=["one"])
    make_comment(post)
    path = f"/blog/{post.slug}"
    db.session.remove()
    guest = _statuses_while(client, path)
    assert len(guest) >= 3 and set(guest) == {"IDLE"}  # no BEGIN before any statement, no ROLLBACK after
    # The pool gives the connection back in its usual mode: other work is transactional again.
    db.session.remove()  # what the request's teardown does (the test app keeps one app context)
    db.session.scalar(select(Post.id).limit(1))
    assert db.session.connection().connection.dbapi_connection.info.transaction_status.name == "INTRANS"
    db.session.rollback()
    # A signed-in visitor's request has read their user row first: it keeps its transaction.
    login_as(client, make_user())
    db.session.remove()
    assert "INTRANS" in _statuses_while(client, path)
