"""Storing imported items: one transaction per item, matched on the source's ids so a re-run updates.

Everything goes through the site's own rules: bodies through the one Markdown pipeline
(services.content), images through the checks of uploads (services.media), slugs made unique
(and kept clear of the site's routes for pages), the search index updated by ``post_updated``.
"""
from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from flask import current_app
from slugify import slugify
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from blog import signals
from blog.extensions import db
from blog.models import Category
from blog.models import Comment
from blog.models import ImportedItem
from blog.models import Post
from blog.models import Tag
from blog.models import User
from blog.models import utcnow
from blog.services import accounts
from blog.services import content
from blog.services import media
from blog.services import pages
from blog.services import posts
from blog.services import seo
from blog.services import taxonomy
from blog.services.errors import ServiceError
from blog.services.importers.items import CategoryItem
from blog.services.importers.items import CommentItem
from blog.services.importers.items import MediaItem
from blog.services.importers.items import PostItem
from blog.services.importers.items import TagItem
from blog.services.importers.items import UserItem
from blog.services.importers.report import Report

log = logging.getLogger(__name__)


class Skip(Exception):
    """This item cannot be imported; the message says why (it goes in the report)."""


def post_url(post: Post) -> str:
    """The site path of a post or page (DESIGN.md's URL map)."""
    return f"/{post.slug}" if post.kind == "page" else f"/blog/{post.slug}"


class Writer:
    def __init__(self, source: str, *, report: Report, dry_run: bool, fallback_author: User | None,
                 progress: Callable[[int], None]) -> None:
        self.source = source[:200]
        self.report = report
        self.dry_run = dry_run
        self.fallback_author = fallback_author
        self.progress = progress
        self._files: list[tuple[str, str]] = []  # (kind, name) written by the current item
        self._after_commit: list[Callable[[], None]] = []
        self._undo: list = []
        # What this source imported before, read once: (kind, key) -> (local id, local name).
        self._ids: dict[tuple[str, str], tuple[int, str | None]] = {
            (kind, external): (local_id, name) for kind, external, local_id, name in db.session.execute(
                select(ImportedItem.kind, ImportedItem.external_id, ImportedItem.local_id, ImportedItem.local_name)
                .where(ImportedItem.source == self.source))}
        self.touched_posts = False
        if dry_run and db.engine.dialect.name == "sqlite":
            # pysqlite opens its transaction only before a write, so a first SAVEPOINT would start (and
            # its RELEASE commit) one of its own: a no-op write opens the transaction the dry run rolls back.
            db.session.execute(ImportedItem.__table__.delete().where(ImportedItem.local_id < 0))

    # --- bookkeeping -------------------------------------------------------------------

    def local_id(self, kind: str, key: str | None) -> int | None:
        """The local row an item of this source became (this run or an earlier one)."""
        if key is None:
            return None
        found = self._ids.get((kind, str(key)[:300]))
        return found[0] if found else None

    def local_name(self, kind: str, key: str) -> str | None:
        found = self._ids.get((kind, str(key)[:300]))
        return found[1] if found else None

    def _remember(self, kind: str, key: str, local_id: int, name: str | None = None) -> None:
        external = str(key)[:300]
        row = db.session.get(ImportedItem, (self.source, kind, external)) if (kind, external) in self._ids else None
        if row is None:
            db.session.add(ImportedItem(source=self.source, kind=kind, external_id=external,
                                        local_id=local_id, local_name=name))
        else:
            row.local_id, row.local_name = local_id, name
        self._undo.append(((kind, external), self._ids.get((kind, external))))
        self._ids[(kind, external)] = (local_id, name)

    @contextmanager
    def item(self, kind: str, label: str, *, count: bool = True) -> Iterator[None]:
        """One item's unit of work: committed alone (a savepoint in a dry run); on failure rolled back,
        its new files removed, and a report line written instead."""
        self._files, self._after_commit = [], []
        self._undo: list = []  # what this item added to _ids, to forget if it fails
        try:
            if self.dry_run:
                with db.session.begin_nested():
                    yield
            else:
                yield
                db.session.commit()
        # Malformed items (a missing key, a list where a string belongs) are reported like any bad item.
        except (Skip, ServiceError, SQLAlchemyError, ValueError, OSError, KeyError, TypeError, AttributeError) as exc:
            if not self.dry_run:
                db.session.rollback()
            for key, previous in reversed(self._undo):
                if previous is None:
                    self._ids.pop(key, None)
                else:
                    self._ids[key] = previous
            self._discard_files()
            reason = exc.message if isinstance(exc, ServiceError) else str(exc) or type(exc).__name__
            if isinstance(exc, (KeyError, TypeError, AttributeError)):
                reason = f"malformed item ({type(exc).__name__}: {exc})"
            if isinstance(exc, ServiceError) and getattr(exc, "fields", None):
                reason += " " + "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.fields.items())
            if isinstance(exc, SQLAlchemyError):
                log.warning("import of %s %s failed", kind, label, exc_info=True)
                reason = f"database refused it ({type(exc.orig if hasattr(exc, 'orig') else exc).__name__})"
            self.report.skipped(kind, label, reason)
        else:
            if self.dry_run:
                self._discard_files()  # a dry run keeps nothing, not even checked files
            else:
                for action in self._after_commit:
                    action()
        finally:
            self._files, self._after_commit = [], []
            if count:
                self.progress(1)

    def _discard_files(self) -> None:
        for kind, name in self._files:
            if kind == "cover":
                media.discard_cover(name)
            else:
                media.discard_imported_image(name)

    def finish(self) -> None:
        """End the run: a dry run forgets everything; otherwise the cached widgets are refreshed (the
        menu's links to imported pages follow the commit, services.pagecache)."""
        if self.dry_run:
            db.session.rollback()
        taxonomy.clear_widgets()

    # --- users, categories, tags, media --------------------------------------------------

    def user(self, item: UserItem) -> User:
        """An author of the source as a user here; a new one has a random password until they reset it."""
        user = db.session.get(User, self.local_id("user", item.key) or 0)
        username = item.username if accounts.USERNAME.match(item.username or "") else slugify(item.username or "", max_length=40)
        if user is None and len(username) >= 3:
            user = db.session.scalar(select(User).where(User.username == username))
        email = (item.email or "").strip().lower()
        if user is None and email:
            user = db.session.scalar(select(User).where(User.email == email))
        if user is None:
            if not accounts.USERNAME.match(username):
                raise Skip(f"no usable username in {item.username!r}")
            if not accounts.EMAIL.match(email):
                email = f"{username.lower()}@import.invalid"
                self.report.changed("user", username, f"no email address in the source: {email} until someone sets one")
            user = User(username=username, email=email, role=item.role if item.role in ("reader", "author", "moderator", "admin") else "author",
                        bio=item.bio or "", email_confirmed=False, created_at=item.created_at or utcnow())
            # Nobody knows this password: the person sets one with "forgot password".
            user.set_password(secrets.token_urlsafe(32))
            db.session.add(user)
            db.session.flush()
            self.report.count("user", "created")
        else:
            if item.bio and not user.bio:
                user.bio = item.bio
            self.report.count("user", "updated")
        self._remember("user", item.key, user.id)
        return user

    def category(self, item: CategoryItem) -> Category:
        """A category with its parent (which must have been imported first)."""
        category = db.session.get(Category, self.local_id("category", item.key) or 0)
        slug = slugify(item.slug or item.name, max_length=100)
        if not slug:
            raise Skip("no letters or digits in its name")
        if category is None:
            category = db.session.scalar(select(Category).where(Category.slug == slug))
        parent_id = self.local_id("category", item.parent_key)
        if item.parent_key and parent_id is None:
            self.report.changed("category", slug, f"its parent {item.parent_key!r} was not imported: made top-level")
        created = category is None
        if created:
            category = Category(slug=slug)
            db.session.add(category)
        category.name = (item.name or slug)[:80]
        category.description = item.description or category.description or ""
        if parent_id != category.id:
            category.parent_id = parent_id
        db.session.flush()
        self.report.count("category", "created" if created else "updated")
        self._remember("category", item.key, category.id)
        return category

    def tag(self, item: TagItem) -> Tag:
        """A tag, keeping the source's slug."""
        tag = db.session.get(Tag, self.local_id("tag", item.key) or 0)
        slug = slugify(item.slug or item.name, max_length=60)
        name = " ".join((item.name or slug).split())[:50]
        if not slug:
            raise Skip("no letters or digits in its name")
        if tag is None:
            tag = db.session.scalar(select(Tag).where((Tag.slug == slug) | (Tag.name == name)))
        created = tag is None
        if created:
            tag = Tag(name=name, slug=slug)
            db.session.add(tag)
        db.session.flush()
        self.report.count("tag", "created" if created else "updated")
        self._remember("tag", item.key, tag.id)
        return tag

    def media(self, item: MediaItem) -> str:
        """An image stored under UPLOAD_FOLDER/media/ after the upload checks; returns its file name."""
        existing = self.local_name("media", item.key)
        if existing and media.imported_image_path(existing):
            self.report.count("media", "updated")
            return existing
        if item.data is None:
            raise Skip("file not found (give the copy of wp-content/uploads with --media)")
        name = media.store_imported_image(item.data, name=item.keep_name)
        self._files.append(("media", name))
        # A media row like an upload's (the importing author's library): size and srcset in posts.
        try:
            owner = self._author(None)
        except Skip:  # no admin yet: the file is imported all the same, without a library entry
            owner = None
        row = media.record_imported_image(name, owner.id) if owner is not None else None
        if row is not None and not self.dry_run:
            self._after_commit.append(lambda: media.queue_media(row.id, name))
        self._remember("media", item.key, row.id if row is not None else 0, name)
        self.report.count("media", "created")
        return name

    # --- posts, pages, comments ----------------------------------------------------------

    def _author(self, key: str | None) -> User:
        user = db.session.get(User, self.local_id("user", key) or 0) if key else None
        if user is None:
            user = self.fallback_author or db.session.scalar(
                select(User).where(User.role == "admin", User.is_active.is_(True)).order_by(User.id))
        if user is None:
            raise Skip("no author: create an admin first, or pass --author")
        return user

    def _slug(self, item: PostItem, post: Post | None) -> str:
        wanted = slugify(item.slug or "", max_length=200) or slugify(item.title, max_length=200) or "post"
        if item.kind == "page" and pages.is_reserved(wanted):
            self.report.changed(item.kind, wanted, f"/{wanted} is one of the site's own addresses: the page is /{wanted}-page")
            wanted = f"{wanted}-page"
        slug = posts._unique_slug(wanted, post.id if post else None)
        if slug != wanted:
            self.report.changed(item.kind, item.title[:60], f"slug {wanted!r} is taken: it is {slug!r}")
        return slug

    def post(self, item: PostItem) -> Post:
        """A post or page: created, or updated in place when this source imported it before."""
        label = item.slug or item.title[:60]
        known = self.local_id("post", item.key)
        post = db.session.get(Post, known) if known else None  # a new item: no look-up for id 0
        title = " ".join((item.title or "").split())
        if not title:
            title = (item.slug or "Untitled").replace("-", " ").capitalize()
            self.report.changed(item.kind, label, f"no title: called it {title!r}")
        if len(title) > posts.MAX_TITLE:
            title = title[:posts.MAX_TITLE - 1].rstrip() + "…"
            self.report.changed(item.kind, label, f"title cut to {posts.MAX_TITLE} characters")
        if not item.body.strip():
            item.body = "*(This post was empty.)*\n"
            self.report.changed(item.kind, label, "empty body: a placeholder line stands in")
        if len(item.body) > posts.MAX_BODY:
            raise Skip(f"the body is over {posts.MAX_BODY:,} characters")
        if item.status not in ("draft", "pending", "scheduled", "published", "archived"):
            raise Skip(f"unknown status {item.status!r}")
        author = self._author(item.author_key)
        created = post is None
        if created:
            post = Post(author_id=author.id, views=0, kind=item.kind)
        else:
            post.author_id = author.id
        post.kind = item.kind
        post.title = title
        post.body = item.body
        rendered = content.render_post(item.body)
        post.html = rendered.html
        post.word_count = seo.count_words(rendered.html)
        post.reading_time = content.reading_time(item.body)
        summary = " ".join((item.summary or "").split())
        if len(summary) > posts.MAX_SUMMARY:
            summary = summary[:posts.MAX_SUMMARY - 1].rstrip() + "…"
            self.report.changed(item.kind, label, f"summary cut to {posts.MAX_SUMMARY} characters")
        post.summary = summary
        post.status = item.status
        post.comments_enabled = item.comments_enabled
        post.nav_order = item.nav_order if item.kind == "page" else None
        post.category_id = self.local_id("category", item.category_key) if item.kind == "post" else None
        now = utcnow()
        post.created_at = item.created_at or post.created_at or now
        post.updated_at = item.updated_at or item.created_at or now
        post.published_at = item.published_at if item.status in ("published", "archived", "scheduled") else None
        if post.status in ("published", "archived") and post.published_at is None:
            post.published_at = post.created_at
        with db.session.no_autoflush:
            post.slug = self._slug(item, post if not created else None)
            tag_ids = [tid for tid in (self.local_id("tag", key) for key in item.tag_keys) if tid]
            post.tags = list(db.session.scalars(select(Tag).where(Tag.id.in_(tag_ids)))) if tag_ids else []
        if len(post.tags) > posts.MAX_TAGS:
            self.report.note(item.kind, post.slug, f"{len(post.tags)} tags (the editor allows {posts.MAX_TAGS})")
        db.session.add(post)
        db.session.flush()
        media.link_usage(post.id, rendered.media_ids)
        self._cover(post, item)
        post.updated_at = item.updated_at or item.created_at or now  # set again: the cover's flush ran onupdate
        # All of the item's old addresses with one look-up (a look-up and a flush each made the
        # redirects a fifth of a big import's time).
        for outcome in pages.add_redirects([(old, post_url(post)) for old in item.old_paths]):
            if outcome:
                self.report.count("redirect", outcome)
        self._remember("post", item.key, post.id)
        for action, reason in item.notes:
            (self.report.changed if action == "changed" else self.report.note)(item.kind, post.slug, reason)
        # The search index follows in the same transaction; no "published" announcement for imports.
        signals.post_updated.send(current_app._get_current_object(), post=post)
        if post.status == "scheduled" and not self.dry_run:
            self._after_commit.append(lambda when=post.published_at: posts._schedule_publication(when))
        self.report.count(item.kind, "created" if created else "updated")
        self.touched_posts = True
        return post

    def _cover(self, post: Post, item: PostItem) -> None:
        if item.cover is None:
            return
        data, preferred, source_id = item.cover
        if post.cover_image and self.local_name("cover", source_id) == post.cover_image:
            return  # imported before and still the cover: nothing to do
        old = post.cover_image
        key = media.store_imported_cover(data, key=preferred)
        self._files.append(("cover", key))
        post.cover_image, post.cover_processed = key, False
        db.session.flush()
        self._remember("cover", source_id, post.id, key)
        self._after_commit.append(lambda: media.cover_saved(post.id, key, old))

    def comment(self, item: CommentItem) -> Comment:
        """A comment, threaded under its parent; a guest's keeps their name, email and site."""
        post_id = self.local_id("post", item.post_key)
        if post_id is None:
            raise Skip("its post was not imported")
        known = self.local_id("comment", item.key)
        comment = db.session.get(Comment, known) if known else None
        created = comment is None
        if created:
            comment = Comment(post_id=post_id)
            db.session.add(comment)
        parent_id = self.local_id("comment", item.parent_key)
        if item.parent_key and parent_id is None:
            self.report.changed("comment", item.key, "its parent was not imported: a top-level comment")
        comment.post_id = post_id
        comment.parent_id = parent_id
        comment.author_id = self.local_id("user", item.author_key)
        comment.author_name = (item.author_name or "")[:100] or None
        comment.author_email = (item.author_email or "")[:254] or None
        url = (item.author_url or "").strip()
        comment.author_url = url[:500] if url.startswith(("http://", "https://")) else None
        if comment.author_id is None and not comment.author_name:
            comment.author_name = "Anonymous"
        comment.body = item.body
        comment.html = content.render_comment(item.body)
        comment.status = item.status if item.status in ("pending", "approved", "rejected", "spam") else "pending"
        comment.created_at = item.created_at or utcnow()
        comment.deleted_at = item.deleted_at
        db.session.flush()
        self._remember("comment", item.key, comment.id)
        self.report.count("comment", "created" if created else "updated")
        return comment

    def redirect(self, old_path: str, target: str) -> None:
        """An old address of the source that should answer 301 with ``target``."""
        outcome = pages.add_redirect(old_path, target)
        if outcome:
            self.report.count("redirect", outcome)


def parse_datetime(value) -> datetime | None:
    """A naive-UTC datetime from an ISO string (``Z`` or an offset) or a datetime; None for empty or zero dates."""
    from datetime import UTC
    from datetime import date

    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    text = str(value).strip()
    if not text or text.startswith("0000-00-00"):
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed
