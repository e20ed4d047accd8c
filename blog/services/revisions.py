"""Autosave and revisions: what a post said at each save, compared with now, and restored.

A draft's autosave updates the draft itself (a save of kind ``autosave``); any other post's
autosave is kept as the writer's autosave revision and leaves the post, its page and the page
cache alone until the writer saves. An autosave based on an older version than the post's (a
manual save came first, or another tab saved) is never applied: it is kept as a revision.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from dataclasses import replace
from datetime import datetime

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import defer
from sqlalchemy.orm import joinedload

from blog.extensions import db
from blog.models import Post
from blog.models import PostRevision
from blog.models import User
from blog.models import utcnow
from blog.permissions import check_owner
from blog.services import paging
from blog.services import posts
from blog.services.errors import Conflict
from blog.services.errors import Invalid
from blog.services.errors import NotFound
from blog.services.posts import PostInput

PER_PAGE = 20
#: Unchanged lines shown around each change in a diff.
CONTEXT = 3


@dataclass(frozen=True)
class Autosaved:
    """What an autosave did: ``applied`` to the draft itself, or kept as a revision (``stale``: the post had
    moved on since the editor was opened)."""

    post: Post
    applied: bool
    stale: bool
    at: datetime
    version: int


def autosave(data: PostInput, *, by: User, post: Post | None = None, version: int | None = None) -> Autosaved:
    """Save what the editor holds without the writer pressing Save.

    No ``post``: a new draft is created from ``data``. A draft: updated in place (status stays
    draft, address kept). Anything else, or a stale ``version``: an autosave revision only.

    Raises:
        NotAllowed: ``by`` may not edit ``post``.
        Invalid: nothing worth saving yet (no title or body) or a field too long.
    """
    if post is None:
        draft = replace(data, status="draft", publish_at=None, slug="")
        created = posts.save(draft, by=by, revision_kind="autosave")
        return Autosaved(created, True, False, utcnow(), created.version)
    check_owner(by, post.author_id, "You can only edit your own posts.")
    stale = version is not None and version != post.version
    if post.status == "draft" and not stale:
        draft = replace(data, status="draft", publish_at=None, slug=post.slug)
        try:
            saved = posts.save(draft, by=by, post=post, version=version, revision_kind="autosave")
            return Autosaved(saved, True, False, utcnow(), saved.version)
        except Conflict:
            stale = True  # saved by someone else between our read and our write: keep ours aside
            post = db.session.get(Post, post.id)
            if post is None:
                raise NotFound("There is no post at this address.") from None
    _check_sizes(data, by)
    posts.keep_revision(post, by=by, kind="autosave", base_version=version or post.version, data=data)
    db.session.commit()
    # The editor keeps the version it was opened at: its next Save is told about the newer one.
    return Autosaved(post, False, stale, utcnow(), version or post.version)


def _check_sizes(data: PostInput, by: User) -> None:
    errors = posts.validate(replace(data, status="draft", publish_at=None, slug=""), by=by)
    if errors:
        raise Invalid("The post has problems; nothing was saved.", errors)


def keep_unsaved(post: Post, data: PostInput, *, by: User, version: int | None) -> int:
    """Keep a refused save's text (a conflict) as the writer's autosave revision, so closing the tab loses
    nothing; returns the post's version now. Raises NotFound when the post was deleted meanwhile."""
    db.session.rollback()
    current = db.session.get(Post, post.id)
    if current is None:
        raise NotFound("This post was deleted meanwhile.")
    if len(data.body or "") <= posts.MAX_BODY and (data.title or data.body or "").strip():
        posts.keep_revision(current, by=by, kind="autosave", base_version=version or 0, data=data)
        db.session.commit()
    return current.version


def listing(post: Post, number: int = 1, per_page: int = PER_PAGE) -> Pagination:
    """A page of ``post``'s revisions, newest first, with who saved each (bodies left in the database)."""
    ids = (select(PostRevision.id).where(PostRevision.post_id == post.id)
           .order_by(PostRevision.created_at.desc(), PostRevision.id.desc()))
    count = select(func.count()).select_from(PostRevision).where(PostRevision.post_id == post.id)
    query = select(PostRevision).options(joinedload(PostRevision.author), defer(PostRevision.body))

    def load(page_ids: list[int]) -> list[PostRevision]:
        return paging.in_order(query, PostRevision.id, page_ids)

    return paging.paginate(ids=ids, count=count, load=load, page=number, per_page=per_page)


def get(post: Post, revision_id: int) -> PostRevision:
    """The revision ``revision_id`` of ``post``. Raises NotFound (also for another post's revision)."""
    revision = db.session.scalar(select(PostRevision).options(joinedload(PostRevision.author))
                                 .where(PostRevision.id == revision_id, PostRevision.post_id == post.id))
    if revision is None:
        raise NotFound("This post has no such revision.")
    return revision


@dataclass(frozen=True)
class DiffLine:
    """One line of a diff: ``kind`` is ``same``, ``removed`` (only in the revision), ``added`` (only now)
    or ``gap`` (unchanged lines left out)."""

    kind: str
    old: int | None
    new: int | None
    text: str


def _lines(title: str, summary: str, tags: str, body: str) -> list[str]:
    tags = ", ".join(sorted(posts.parse_tags(tags), key=str.lower))  # the order tags were typed in is no change
    return [f"Title: {title}", f"Summary: {summary}", f"Tags: {tags}", ""] + body.splitlines()


def diff(revision: PostRevision, post: Post) -> list[DiffLine]:
    """The line changes from ``revision`` to ``post`` as it is now (title, summary and tags first); [] when equal."""
    old = _lines(revision.title, revision.summary, revision.tags, revision.body)
    new = _lines(post.title, post.summary, ", ".join(tag.name for tag in post.tags), post.body)
    lines: list[DiffLine] = []
    for number, group in enumerate(difflib.SequenceMatcher(None, old, new, autojunk=False).get_grouped_opcodes(CONTEXT)):
        if number:
            lines.append(DiffLine("gap", None, None, ""))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines += [DiffLine("same", i + 1, j1 + (i - i1) + 1, old[i]) for i in range(i1, i2)]
                continue
            lines += [DiffLine("removed", i + 1, None, old[i]) for i in range(i1, i2)]
            lines += [DiffLine("added", None, j + 1, new[j]) for j in range(j1, j2)]
    return lines


def restore(post: Post, revision_id: int, *, by: User) -> Post:
    """Load a revision's title, summary, body and tags into ``post`` as a new save (itself a revision).

    The post keeps its status, address and the rest, under the usual rules (a reader's published
    post goes back to review).

    Raises:
        NotAllowed: ``by`` may not edit ``post``.
        NotFound: no such revision of this post.
        Invalid: the post cannot be saved as it stands (a scheduled time now past, say).
    """
    check_owner(by, post.author_id, "You can only edit your own posts.")
    revision = get(post, revision_id)
    data = PostInput(title=revision.title, body=revision.body, summary=revision.summary, tags=revision.tags,
                     category_id=post.category_id, status=post.status,
                     publish_at=post.published_at if post.status == "scheduled" else None, slug=post.slug,
                     comments_enabled=post.comments_enabled, kind=post.kind, nav_order=post.nav_order)
    return posts.save(data, by=by, post=post)
