"""Revisions and autosave, through the services: what is kept, what is applied, who may."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from blog.extensions import db
from blog.models import Post
from blog.models import PostRevision
from blog.services import pagecache
from blog.services import posts
from blog.services import revisions
from blog.services.errors import Conflict
from blog.services.errors import Invalid
from blog.services.errors import NotAllowed
from blog.services.errors import NotFound
from blog.services.posts import PostInput
from tests.factories import make_user


def _input(**fields) -> PostInput:
    values = {"title": "First title", "body": "Line one\nLine two\nLine three", "summary": "About it",
              "tags": "kiwi, apple", "status": "published"}
    values.update(fields)
    return PostInput(**values)


def _revisions(post: Post) -> list[PostRevision]:
    return list(db.session.scalars(select(PostRevision).where(PostRevision.post_id == post.id)
                                   .order_by(PostRevision.id)))


@pytest.fixture
def writer(app):
    return make_user(role="author", username="writer")


@pytest.fixture
def bumps(monkeypatch) -> list[tuple[str, ...]]:
    """Every page-cache generation bump, as the areas bumped."""
    seen: list[tuple[str, ...]] = []
    real = pagecache.bump
    monkeypatch.setattr(pagecache, "bump", lambda *areas: (seen.append(areas), real(*areas))[1])
    return seen


def test_every_save_keeps_a_revision_with_its_author_and_base_version(writer):
    post = posts.save(_input(), by=writer)
    first_version = post.version
    post = posts.save(_input(title="Second title", body="Line one\nLine 2"), by=writer, post=post)
    rows = _revisions(post)
    assert [(r.kind, r.title, r.author_id) for r in rows] == [("save", "First title", writer.id),
                                                               ("save", "Second title", writer.id)]
    assert rows[0].base_version == 0 and rows[1].base_version == first_version
    assert rows[0].tags == "kiwi, apple" and rows[1].body == "Line one\nLine 2" and rows[1].summary == "About it"


def test_a_refused_save_keeps_no_revision(writer):
    post = posts.save(_input(), by=writer)
    with pytest.raises(Invalid):
        posts.save(_input(title=""), by=writer, post=post)
    assert len(_revisions(post)) == 1


def test_autosave_of_a_new_post_creates_a_draft_even_if_published_was_chosen(writer):
    result = revisions.autosave(_input(status="published"), by=writer)
    assert result.applied and not result.stale
    post = db.session.get(Post, result.post.id)
    assert post.status == "draft" and post.published_at is None and post.title == "First title"
    assert [r.kind for r in _revisions(post)] == ["autosave"]


def test_autosave_updates_a_draft_in_place_and_keeps_one_autosave_row(writer):
    draft = posts.save(_input(status="draft"), by=writer)
    slug = draft.slug
    for number in range(5):
        result = revisions.autosave(_input(title=f"Typed {number}", status="published"), by=writer, post=draft,
                                    version=draft.version)
        assert result.applied
        draft = result.post
    assert draft.title == "Typed 4" and draft.status == "draft" and draft.slug == slug  # address kept
    assert [r.kind for r in _revisions(draft)] == ["save", "autosave"]
    assert result.version == draft.version


def test_autosave_of_a_published_post_changes_nothing_public(writer, bumps):
    post = posts.save(_input(), by=writer)
    html, version, updated = post.html, post.version, post.updated_at
    bumps.clear()
    result = revisions.autosave(_input(title="Work in progress", body="**New** text"), by=writer, post=post,
                                version=version)
    assert not result.applied and not result.stale and result.version == version
    db.session.expire_all()
    post = db.session.get(Post, post.id)
    assert (post.title, post.html, post.version, post.updated_at) == ("First title", html, version, updated)
    assert bumps == []  # no page-cache generation moved: the live page is still right
    kept = _revisions(post)[-1]
    assert (kept.kind, kept.title, kept.body, kept.base_version) == ("autosave", "Work in progress", "**New** text", version)


def test_repeated_autosaves_replace_the_writers_autosave_but_not_anothers(writer):
    moderator = make_user(role="moderator")
    post = posts.save(_input(), by=writer)
    for number in range(3):
        revisions.autosave(_input(body=f"writer {number}"), by=writer, post=post, version=post.version)
    revisions.autosave(_input(body="moderator"), by=moderator, post=post, version=post.version)
    autosaves = [(r.author_id, r.body) for r in _revisions(post) if r.kind == "autosave"]
    assert autosaves == [(writer.id, "writer 2"), (moderator.id, "moderator")]


def test_an_autosave_older_than_a_manual_save_never_overwrites_it(writer):
    draft = posts.save(_input(status="draft"), by=writer)
    opened_at = draft.version
    saved = posts.save(_input(title="Saved by hand", status="draft"), by=writer, post=draft, version=opened_at)
    result = revisions.autosave(_input(title="Late autosave", status="draft"), by=writer, post=saved,
                                version=opened_at)
    assert result.stale and not result.applied and result.version == opened_at
    db.session.expire_all()
    assert db.session.get(Post, draft.id).title == "Saved by hand"
    assert _revisions(saved)[-1].title == "Late autosave"  # kept, not lost


def test_two_writers_second_save_is_a_conflict_and_nothing_is_lost(writer):
    moderator = make_user(role="moderator")
    post = posts.save(_input(), by=writer)
    opened = post.version  # both tabs open the editor at this version
    posts.save(_input(title="The moderator's fix"), by=moderator, post=post, version=opened)
    mine = _input(title="My long edit", body="Everything I typed")
    with pytest.raises(Conflict):
        posts.save(mine, by=writer, post=post, version=opened)
    now = revisions.keep_unsaved(post, mine, by=writer, version=opened)
    db.session.expire_all()
    current = db.session.get(Post, post.id)
    assert current.title == "The moderator's fix" and now == current.version
    assert _revisions(current)[-1].body == "Everything I typed"
    # Saving again, now knowingly based on the newer version, goes through.
    assert posts.save(mine, by=writer, post=current, version=now).title == "My long edit"


def test_restore_makes_a_new_save_revision_and_keeps_the_status(writer):
    post = posts.save(_input(), by=writer)
    posts.save(_input(title="Rewritten", body="Other words", tags="pear"), by=writer, post=post)
    first = _revisions(post)[0]
    restored = revisions.restore(post, first.id, by=writer)
    assert (restored.title, restored.body, restored.status) == ("First title", first.body, "published")
    assert [t.name for t in restored.tags] == ["apple", "kiwi"]
    rows = _revisions(restored)
    assert len(rows) == 3 and rows[-1].kind == "save" and rows[-1].title == "First title"


def test_others_may_not_restore_or_autosave_and_revisions_stay_with_their_post(writer):
    stranger = make_user(role="author")
    post = posts.save(_input(), by=writer)
    other = posts.save(_input(title="Another post"), by=writer)
    revision = _revisions(post)[0]
    with pytest.raises(NotAllowed):
        revisions.restore(post, revision.id, by=stranger)
    with pytest.raises(NotAllowed):
        revisions.autosave(_input(), by=stranger, post=post, version=post.version)
    with pytest.raises(NotFound):
        revisions.restore(other, revision.id, by=writer)  # a revision of another post
    assert len(_revisions(post)) == 1


def test_an_autosave_with_nothing_to_keep_is_refused(writer):
    with pytest.raises(Invalid):
        revisions.autosave(_input(title="  "), by=writer)
    post = posts.save(_input(), by=writer)
    with pytest.raises(Invalid):
        revisions.autosave(_input(body="x" * (posts.MAX_BODY + 1)), by=writer, post=post, version=post.version)
    assert db.session.scalar(select(db.func.count()).select_from(Post)) == 1
    assert len(_revisions(post)) == 1


def test_diff_shows_removed_and_added_lines_with_context(writer):
    post = posts.save(_input(body="\n".join(f"line {n}" for n in range(1, 21))), by=writer)
    revision = _revisions(post)[0]
    post = posts.save(_input(body="\n".join(f"line {n}" if n != 15 else "changed" for n in range(1, 21))),
                      by=writer, post=post)
    lines = revisions.diff(revision, post)
    assert [(line.kind, line.text) for line in lines if line.kind in ("removed", "added")] == [
        ("removed", "line 15"), ("added", "changed")]
    assert lines[0].kind == "same" and len([line for line in lines if line.kind == "same"]) == 6
    assert revisions.diff(_revisions(post)[-1], post) == []


def test_deleting_a_post_deletes_its_revisions(writer):
    post = posts.save(_input(), by=writer)
    post_id = post.id
    posts.delete(post, by=writer)
    assert db.session.scalars(select(PostRevision).where(PostRevision.post_id == post_id)).all() == []
