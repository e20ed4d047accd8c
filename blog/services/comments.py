"""Reading comment threads."""
from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from blog.extensions import cache
from blog.extensions import db
from blog.models import Comment
from blog.models import Post

#: Replies nest this deep at most; deeper replies are shown at the deepest level.
MAX_DEPTH = 3


@dataclass
class ThreadNode:
    comment: Comment
    replies: list[ThreadNode] = field(default_factory=list)


@dataclass
class Thread:
    roots: list[ThreadNode]
    count: int


def thread(post: Post) -> Thread:
    """The approved comments of ``post`` as a tree, loaded in one query whatever its size."""
    rows = db.session.scalars(
        select(Comment)
        .options(joinedload(Comment.author))
        .where(Comment.post_id == post.id, Comment.status == "approved")
        .order_by(Comment.created_at, Comment.id)
    ).all()
    nodes = {c.id: ThreadNode(c) for c in rows}
    depth: dict[int, int] = {}
    roots: list[ThreadNode] = []
    for comment in rows:  # parents come before replies: ordered by time
        node = nodes[comment.id]
        parent = nodes.get(comment.parent_id) if comment.parent_id else None
        if parent is None:
            depth[comment.id] = 1
            roots.append(node)
            continue
        # Attach too-deep replies to the deepest allowed ancestor.
        while depth[parent.comment.id] >= MAX_DEPTH:
            parent = nodes[parent.comment.parent_id]
        depth[comment.id] = depth[parent.comment.id] + 1
        parent.replies.append(node)
    return Thread(roots=roots, count=len(rows))


def approved_count(post: Post) -> int:
    """How many approved comments ``post`` has (one COUNT on an indexed pair)."""
    return db.session.scalar(
        select(func.count()).select_from(Comment).where(Comment.post_id == post.id, Comment.status == "approved")
    ) or 0


@dataclass(frozen=True)
class RecentComment:
    id: int
    author: str
    excerpt: str
    post_title: str
    post_slug: str


@cache.memoize(timeout=60)
def recent(limit: int = 5) -> list[RecentComment]:
    """The newest approved comments on published posts (for the sidebar), in one query."""
    from blog.models import User

    rows = db.session.execute(
        select(Comment.id, User.username, Comment.body, Post.title, Post.slug)
        .join(Post, Post.id == Comment.post_id)
        .outerjoin(User, User.id == Comment.author_id)
        .where(Comment.status == "approved", Post.status == "published")
        .order_by(Comment.created_at.desc(), Comment.id.desc())
        .limit(limit)
    ).all()
    return [RecentComment(cid, name or "deleted user", _excerpt(body), title, slug)
            for cid, name, body, title, slug in rows]


def _excerpt(text: str, length: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[:length].rsplit(" ", 1)[0] + "…"
