"""Plain factories for test data: keyword defaults, no magic."""
from __future__ import annotations

import itertools
from datetime import timedelta

from blog.extensions import db
from blog.models import Comment
from blog.models import Post
from blog.models import Tag
from blog.models import User
from blog.models import utcnow
from blog.services.content import render_markdown
from blog.services.seo import count_words

_seq = itertools.count(1)


def make_user(role: str = "author", username: str | None = None, password: str = "correct horse battery",
              **fields) -> User:
    n = next(_seq)
    user = User(username=username or f"user{n}", email=fields.pop("email", f"user{n}@example.com"),
                role=role, email_confirmed=fields.pop("email_confirmed", True), **fields)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def make_post(author: User | None = None, title: str | None = None, body: str = "Hello **world**.",
              status: str = "published", tags: list[str] = (), age_hours: int = 0, **fields) -> Post:
    n = next(_seq)
    author = author or make_user()
    title = title or f"Post number {n}"
    published_at = fields.pop("published_at", utcnow() - timedelta(hours=age_hours)
                              if status in ("published", "archived") else None)
    html = render_markdown(body)
    post = Post(title=title, slug=fields.pop("slug", f"post-number-{n}"), body=body, html=html,
                word_count=fields.pop("word_count", count_words(html)), summary=fields.pop("summary", f"Summary of post {n}."), status=status, author=author,
                published_at=published_at, **fields)
    db.session.add(post)
    for name in tags:
        tag = db.session.query(Tag).filter_by(name=name).one_or_none() or Tag(name=name, slug=name)
        post.tags.append(tag)
    db.session.commit()
    return post


def make_comment(post: Post, author: User | None = None, body: str = "Nice post.", status: str = "approved",
                 parent: Comment | None = None, **fields) -> Comment:
    from blog.services.content import render_comment

    comment = Comment(post=post, author=author or post.author, body=body, html=render_comment(body), status=status,
                      parent_id=parent.id if parent else None, **fields)
    db.session.add(comment)
    db.session.commit()
    return comment


def wipe_content() -> None:
    """Delete every row (children first; the category tree leaf-up via NULL parents)."""
    from blog.models import Activity
    from blog.models import ApiToken
    from blog.models import Category
    from blog.models import PostRevision
    from blog.models import PostViewDay
    from blog.models import post_tags

    db.session.execute(Comment.__table__.update().values(parent_id=None))
    db.session.execute(Category.__table__.update().values(parent_id=None))
    for table in (Activity.__table__, PostViewDay.__table__, PostRevision.__table__, Comment.__table__, post_tags, Post.__table__, Tag.__table__, Category.__table__,
                  ApiToken.__table__, User.__table__):
        db.session.execute(table.delete())
    db.session.commit()


def login_as(client, user: User) -> None:
    """Log ``user`` in on ``client`` without the form (the form itself is tested in test_auth)."""
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True


def link_in(message, path_prefix: str) -> str:
    """The first link in ``message``'s text that starts with ``path_prefix``, as a path."""
    import re
    from urllib.parse import urlsplit

    text = message.get_body(preferencelist=("plain",)).get_content()
    url = re.search(r"https?://\S+" + re.escape(path_prefix) + r"\S+", text).group(0)
    return urlsplit(url).path
