"""Reading posts: listings and single posts, each in a fixed number of queries."""
from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_sqlalchemy.pagination import Pagination
from slugify import slugify
from sqlalchemy import Select
from sqlalchemy import bindparam
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm import defer
from sqlalchemy.orm import joinedload
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from blog.extensions import db
from blog.models import Category
from blog.models import Post
from blog.models import PostRedirect
from blog.models import PostRevision
from blog.models import Tag
from blog.models import User
from blog.models import utcnow
from blog.models.post import post_tags
from blog.services import content
from blog.services import pages
from blog.services import paging
from blog.services import pagecache
from blog.services import seo
from blog.services import taxonomy
from blog.services import viewcounts
from blog.services.errors import Conflict
from blog.services.errors import Invalid
from blog.services.errors import NotFound
from blog.services.rows import PostRow
from blog.services.rows import post_by_slug

log = logging.getLogger(__name__)


def _with_relations() -> Select:
    # Author and category join in the same query; tags come in one extra IN query.
    return select(Post).options(joinedload(Post.author), joinedload(Post.category), selectinload(Post.tags))


def _listing() -> Select:
    # Listings never show bodies: leave the two largest columns in the database.
    return _with_relations().options(defer(Post.body), defer(Post.html))


def published(page: int = 1, per_page: int | None = None, *, category: Category | None = None,
              tag: Tag | None = None, author: User | None = None, between: tuple[datetime, datetime] | None = None) -> Pagination:
    """Published posts, newest first, optionally in a category subtree, with a tag, by an author, or in a period.

    One page of them; past the last page is a 404. Three queries at any depth (a "deferred join",
    see ``paging.listing``): the total, then the page's rows with author and category, whose ids
    a subquery reads off ``ix_posts_listing`` (or the category/author index) alone, then the tags.
    """
    where = [Post.status == "published", Post.kind == "post"]  # pages are not listed
    if category is not None:
        where.append(Post.category_id.in_(taxonomy.subtree_ids(category)))
    if tag is not None:
        # The tag's own rows of post_tags, not an EXISTS per post: the planner starts from the tag.
        where.append(Post.id.in_(select(post_tags.c.post_id).where(post_tags.c.tag_id == tag.id)))
    if author is not None:
        where.append(Post.author_id == author.id)
    if between is not None:
        where += [Post.published_at >= between[0], Post.published_at < between[1]]
    order = (Post.published_at.desc(), Post.id.desc())
    return paging.listing(
        ids=select(Post.id).where(*where).order_by(*order),
        count=select(func.count()).select_from(Post).where(*where),
        load=lambda page_ids: _listing().where(Post.id.in_(page_ids)).order_by(*order),
        page=page, per_page=per_page or current_app.config["POSTS_PER_PAGE"], max_per_page=100)


@dataclass(frozen=True)
class PostLink:
    title: str
    slug: str
    views: int


@pagecache.memoize(pagecache.LISTINGS, timeout=taxonomy.WIDGET_TIMEOUT)
def popular(limit: int = 5) -> list[PostLink]:
    """The most read published posts (for the sidebar)."""
    rows = db.session.execute(
        select(Post.title, Post.slug, Post.views).where(Post.status == "published", Post.kind == "post")
        .order_by(Post.views.desc(), Post.id.desc()).limit(limit)
    ).all()
    return [PostLink(*row) for row in rows]


def get_readable(slug: str, user=None) -> PostRow:
    """The post at ``slug`` as its page shows it, if ``user`` may read it: plain rows, not ORM
    objects (services/rows.py), for the post page and its thread. Raises NotFound as ``get_visible``."""
    post = post_by_slug(slug)
    if post is None or not post.is_visible_to(user):
        raise NotFound("There is no post at this address.")
    return post


@functools.cache
def _by_slug(light: bool) -> Select:
    # Built once, with a bound slug: building the statement and its loader options per request
    # cost about as much as running it. Tags come from ``_tags_of``, not selectinload, whose
    # statement is built (and its cache key computed) afresh on every load.
    if light:
        return select(Post).options(defer(Post.body), defer(Post.html)).where(Post.slug == bindparam("slug"))
    return (select(Post).options(joinedload(Post.author), joinedload(Post.category))
            .where(Post.slug == bindparam("slug")))


@functools.cache
def _tags_of() -> Select:
    return (select(Tag).join(post_tags, post_tags.c.tag_id == Tag.id).where(post_tags.c.post_id == bindparam("post_id"))
            .order_by(Tag.name))


def get_visible(slug: str, user=None, *, light: bool = False) -> Post:
    """The post at ``slug`` if ``user`` may read it.

    Raises:
        NotFound: no such post, or it is a draft the user may not see (never a 403: that would leak it exists).

    ``light`` loads the row alone (no author, category, tags, body): for cheap fragments.
    """
    post = db.session.scalar(_by_slug(light), {"slug": slug})
    if post is None or not post.is_visible_to(user):
        raise NotFound("There is no post at this address.")
    if not light and "tags" not in post.__dict__:  # the relationship's order (Tag.name), loaded as selectinload would
        set_committed_value(post, "tags", list(db.session.scalars(_tags_of(), {"post_id": post.id})))
    return post


def publish_due(now: datetime | None = None) -> list[Post]:
    """Publish every scheduled post whose time has come; returns them (the every-minute task)."""
    from blog.models import utcnow

    now = now or utcnow()
    due = list(db.session.scalars(
        select(Post).where(Post.status == "scheduled", Post.published_at <= now).with_for_update(skip_locked=True)
    ))
    from blog import signals

    for post in due:
        post.status = "published"
        signals.post_published.send(current_app._get_current_object(), post=post)
        signals.post_updated.send(current_app._get_current_object(), post=post)
    db.session.commit()
    if due:
        taxonomy.clear_widgets()
    return due


# --- writing ------------------------------------------------------------------------------

MAX_TITLE = 200
MAX_SUMMARY = 500
MAX_BODY = 100_000
MAX_TAGS = 10
MAX_TAG = 50
MAX_COVER_ALT = 300
#: What each role may set directly; a reader's "published" waits for a moderator as "pending".
AUTHOR_STATUSES = ("draft", "scheduled", "published", "archived")
READER_STATUSES = ("draft", "pending")
#: Matched against the lowercased User-Agent: with ``re.I`` the same search took 6-13 µs a page view
#: (the engine compares every position case-folded), on the lowercased text under 1 µs.
_BOTS = re.compile(r"bot|crawl|spider|slurp|preview|facebookexternalhit|headless|curl|wget|python-|"
                   r"httpclient|monitor|uptime")


@dataclass
class PostInput:
    """What the editor (or the API) sends; plain values, validated by ``save``."""

    title: str
    body: str
    summary: str = ""
    tags: str | list[str] = ""
    category_id: int | None = None
    status: str = "draft"
    publish_at: datetime | None = None
    slug: str = ""
    comments_enabled: bool = True
    #: ``post`` or ``page`` (a static page at /<slug>, out of listings); the header position is admins' to set.
    kind: str = "post"
    nav_order: int | None = None
    #: The cover's alt text; None leaves it as it is (API clients that do not send it).
    cover_alt: str | None = None


def parse_tags(value: str | list[str]) -> list[str]:
    """Tag names from "a, b, c" (or a list): trimmed, de-duplicated case-insensitively, in order."""
    names = value if isinstance(value, list) else (value or "").split(",")
    seen: dict[str, str] = {}
    for name in names:
        name = " ".join(str(name).split())
        if name and name.lower() not in seen:
            seen[name.lower()] = name
    return list(seen.values())


def validate(data: PostInput, *, by: User, post: Post | None = None, now: datetime | None = None) -> dict[str, list[str]]:
    """Field errors for ``data`` saved by ``by`` (empty when it can be saved)."""
    from blog.models import utcnow

    now = now or utcnow()
    errors: dict[str, list[str]] = {}
    if not (data.title or "").strip():
        errors["title"] = ["Give the post a title."]
    elif len(data.title.strip()) > MAX_TITLE:
        errors["title"] = [f"Keep the title under {MAX_TITLE} characters."]
    if not (data.body or "").strip():
        errors["body"] = ["Write something first: the body is empty."]
    elif len(data.body) > MAX_BODY:
        errors["body"] = [f"The body is over {MAX_BODY:,} characters; split it into several posts."]
    if len((data.summary or "").strip()) > MAX_SUMMARY:
        errors["summary"] = [f"Keep the summary under {MAX_SUMMARY} characters."]
    tags = parse_tags(data.tags)
    if len(tags) > MAX_TAGS:
        errors["tags"] = [f"Use at most {MAX_TAGS} tags."]
    elif any(len(tag) > MAX_TAG or not slugify(tag) for tag in tags):
        errors["tags"] = [f"Each tag needs a letter or digit and at most {MAX_TAG} characters."]
    if data.category_id is not None and db.session.get(Category, data.category_id) is None:
        errors["category_id"] = ["Choose a category from the list."]
    allowed = AUTHOR_STATUSES if by.has_role("author") else READER_STATUSES + ("published",)
    if data.status not in allowed:
        errors["status"] = ["Choose one of the statuses offered."]
    elif data.status == "scheduled":
        if data.publish_at is None:
            errors["publish_at"] = ["Choose when the post should go live."]
        elif data.publish_at <= now:
            errors["publish_at"] = ["Choose a time in the future (or publish now)."]
    if data.kind not in ("post", "page"):
        errors["kind"] = ["Choose a post or a page."]
    elif data.kind == "page" and not by.has_role("author"):
        errors["kind"] = ["Only authors write pages."]
    if data.cover_alt is not None and len(" ".join(data.cover_alt.split())) > MAX_COVER_ALT:
        errors["cover_alt"] = [f"Keep the cover's description under {MAX_COVER_ALT} characters."]
    if data.slug and (slugify(data.slug) != data.slug or len(data.slug) > 200):
        errors["slug"] = ["Use lowercase letters, digits and dashes only."]
    elif data.slug in reserved_slugs():
        errors["slug"] = [f"The site itself uses the address “{data.slug}”; choose another."]
    return errors


def reserved_slugs() -> frozenset[str]:
    """Slugs the site's own pages hold under /blog/ (``create``, ``preview``, ``tags`` ...): a post there
    would be shadowed by the route, or shadow it. Read from the URL map, so a new route counts at once."""
    reserved = set()
    for rule in current_app.url_map.iter_rules():
        head, _, rest = rule.rule.removeprefix("/blog/").partition("/")
        if rule.rule.startswith("/blog/") and head and "<" not in head:
            reserved.add(head)
    return frozenset(reserved)


def _unique_slug(base: str, post_id: int | None) -> str:
    """``base``, or ``base-2``, ``base-3`` ... whichever no other post (nor old slug) uses, nor a route."""
    base = base[:200].strip("-") or "post"
    taken = set(reserved_slugs())
    taken |= set(db.session.scalars(
        select(Post.slug).where(Post.slug.like(f"{base}%"), Post.id != (post_id or 0))))
    taken |= set(db.session.scalars(
        select(PostRedirect.old_slug).where(PostRedirect.old_slug.like(f"{base}%"),
                                            PostRedirect.post_id != (post_id or 0))))
    slug, number = base, 2
    while slug in taken:
        slug, number = f"{base}-{number}", number + 1
    return slug


def _tags(names: list[str]) -> list[Tag]:
    """Existing tags by slug, new ones created; a tag made by a concurrent save is picked up."""
    wanted = {slugify(name): name for name in names}
    found = {t.slug: t for t in db.session.scalars(select(Tag).where(Tag.slug.in_(wanted)))}
    for slug, name in wanted.items():
        if slug not in found:
            try:
                with db.session.begin_nested():
                    tag = Tag(name=name, slug=slug)
                    db.session.add(tag)
                found[slug] = tag
            except IntegrityError:
                found[slug] = db.session.scalar(select(Tag).where(Tag.slug == slug))
    return [found[slugify(name)] for name in names]


def save(data: PostInput, *, by: User, post: Post | None = None, cover=None,
         remove_cover: bool = False, version: int | None = None, revision_kind: str = "save") -> Post:
    """Create (``post`` None) or update a post from ``data``, with an optional new cover upload.

    The body is rendered and sanitised once, here; the slug follows the title until the post is
    first public and is stable after that (an explicit slug change leaves a redirect). Every save
    keeps a revision (``revision_kind`` ``autosave``: the writer's one autosave row, replaced).
    ``version`` is the post's version the writer's editor was opened at (default: as ``post`` was
    read): a save based on an older one is a Conflict, never an overwrite.

    Raises:
        NotAllowed: ``by`` may not edit ``post``.
        Invalid: a field breaks a rule (``fields`` says which); nothing is saved.
        Conflict: no free slug could be claimed after several concurrent clashes, or the post was
            saved by someone else since ``post`` was read (optimistic lock on ``Post.version``).
    """
    from blog.permissions import check_owner
    from blog.services import media

    if post is not None:
        check_owner(by, post.author_id, "You can only edit your own posts.")
    errors = validate(data, by=by, post=post)
    if errors:
        raise Invalid("The post has problems; nothing was saved.", errors)
    post_id = post.id if post is not None else None
    # The version the caller read: a concurrent save that committed since makes ours a 409, never a
    # silent overwrite nor a half-applied mix of the two.
    expected = (version if version is not None else post.version) if post is not None else None
    new_key = media.store_cover(cover) if cover else None  # refuses a bad image before anything is written
    try:
        for attempt in range(ATTEMPTS):
            post = db.session.get(Post, post_id) if post_id else None
            if post_id and (post is None or post.version != expected):
                raise _changed_meanwhile()
            before = _Before.of(post)
            try:
                post = _apply(post or Post(author_id=by.id, views=0), data, by=by, before=before,
                              new_key=new_key, remove_cover=remove_cover)
                keep_revision(post, by=by, kind=revision_kind, base_version=expected or 0)
                db.session.commit()
                break
            except StaleDataError:
                # Our UPDATE found another version (or our tag links gone): someone saved first.
                raise _changed_meanwhile() from None
            except IntegrityError:
                # A concurrent save claimed the same slug (or tag) between our check and our write.
                db.session.rollback()
                if attempt == ATTEMPTS - 1:
                    raise Conflict("Could not find a free address for this post; try again.") from None
            except DBAPIError as error:
                # PostgreSQL chose us as a deadlock victim or could not serialise us: nothing was
                # written; try again (bounded), from a fresh read checked against the same version.
                if not retryable(error) or attempt == ATTEMPTS - 1:
                    raise
                db.session.rollback()
                log.info("save of post %s retried after %s", post_id, type(error.orig).__name__)
    except BaseException:
        db.session.rollback()
        media.discard_cover(new_key)
        raise
    if new_key:
        media.cover_saved(post.id, new_key, before.cover)
    elif remove_cover and before.cover:
        media.discard_cover(before.cover)
    if post.status == "scheduled":
        _schedule_publication(post.published_at)
    if revision_kind != "autosave":  # an autosave only ever changes a draft: no widget or menu shows it
        taxonomy.clear_widgets()
    return post


def keep_revision(post: Post, *, by: User, kind: str = "save", base_version: int = 0,
                  data: PostInput | None = None) -> PostRevision:
    """Add a revision of ``post`` (in the session, not committed): its content now, or ``data``'s.

    A manual save adds a row; an autosave replaces the writer's previous autosave of this post,
    so there is at most one per writer and post however long they type.
    """
    if kind == "autosave":
        db.session.execute(PostRevision.__table__.delete().where(
            PostRevision.post_id == post.id, PostRevision.author_id == by.id, PostRevision.kind == "autosave"))
    if data is None:
        title, summary, body, tags = post.title, post.summary, post.body, ", ".join(t.name for t in post.tags)
    else:
        title, summary = " ".join((data.title or "").split()), " ".join((data.summary or "").split())
        body, tags = data.body or "", ", ".join(parse_tags(data.tags))
    revision = PostRevision(post_id=post.id, author_id=by.id, kind=kind, base_version=base_version,
                            title=title[:MAX_TITLE], summary=summary[:MAX_SUMMARY], body=body, tags=tags,
                            created_at=utcnow())
    db.session.add(revision)
    return revision


#: How many times a save is tried when it loses a race the database reports (slug, deadlock).
ATTEMPTS = 5
#: SQLSTATEs that mean "nothing was done, run the transaction again": serialization failure, deadlock.
RETRYABLE = {"40001", "40P01"}


def retryable(error: DBAPIError) -> bool:
    """True for a PostgreSQL serialization failure or deadlock (SQLite's busy timeout waits instead)."""
    return getattr(error.orig, "sqlstate", None) in RETRYABLE


def _changed_meanwhile() -> Conflict:
    return Conflict("The post was changed by someone else meanwhile; reload it and try again. Nothing was saved.")


@dataclass(frozen=True)
class _Before:
    """What a post was before this save (all None for a new post)."""

    status: str | None
    slug: str | None
    cover: str | None
    published_at: datetime | None

    @classmethod
    def of(cls, post: Post | None) -> _Before:
        if post is None:
            return cls(None, None, None, None)
        return cls(post.status, post.slug, post.cover_image, post.published_at)

    @property
    def public(self) -> bool:
        return self.status in ("published", "archived")


def _apply(post: Post, data: PostInput, *, by: User, before: _Before, new_key: str | None,
           remove_cover: bool) -> Post:
    """Copy ``data`` onto ``post`` (in the session, not committed) and announce the change."""
    from blog import signals
    from blog.models import utcnow
    from blog.services import media

    status = data.status
    if status == "published" and not by.has_role("author"):
        status = "pending"  # a reader's post waits for a moderator
    rendered = content.render_post(data.body)
    # Images from other hosts are refused (the CSP would show them broken); those an older body
    # already had (stored before this rule) stay as the links they render as, so old posts can be edited.
    new_remote = [src for src in rendered.remote_images if src not in (post.body or "")]
    if new_remote:
        message = content.REMOTE_IMAGES.format(addresses=", ".join(dict.fromkeys(new_remote)))
        raise Invalid("The post has problems; nothing was saved.", {"body": [message]})
    post.title = " ".join(data.title.split())
    post.body = data.body
    post.html = rendered.html
    post.word_count = seo.count_words(rendered.html)
    post.reading_time = content.reading_time(data.body)
    post.summary = " ".join((data.summary or "").split())
    post.category_id = data.category_id
    if data.cover_alt is not None:
        post.cover_alt = " ".join(data.cover_alt.split())
    post.comments_enabled = data.comments_enabled
    post.status = status
    post.kind = data.kind
    if data.kind != "page":
        post.nav_order = None
    elif by.has_role("admin"):
        post.nav_order = data.nav_order  # the header menu is the admins' to arrange
    if status == "published":
        post.published_at = before.published_at if before.status == "published" and before.published_at else utcnow()
    elif status == "scheduled":
        post.published_at = data.publish_at
    elif status in ("draft", "pending"):
        post.published_at = None
    if new_key:
        post.cover_image, post.cover_processed = new_key, False
    elif remove_cover:
        post.cover_image, post.cover_processed = None, False
    with db.session.no_autoflush:  # a new post has no slug yet: nothing may flush it early
        tags = _tags(parse_tags(data.tags))
        # The address follows the title until the post is first public; then it stays unless the
        # author changes it, and the old one keeps working as a redirect.
        wanted = data.slug or (before.slug if before.public else slugify(post.title)) or "post"
        if post.kind == "page" and pages.is_reserved(wanted):
            wanted = f"{wanted}-page"  # /<slug> must never shadow (or be shadowed by) one of the site's routes
        post.slug = _unique_slug(wanted, post.id)
        post.tags = tags
    db.session.add(post)
    db.session.flush()
    media.link_usage(post.id, rendered.media_ids)  # /my/media's "used in", and no deleting a shown image
    if before.public and before.slug and post.slug != before.slug:
        _move_address(post, before.slug)
    sender = current_app._get_current_object()
    if status == "published" and before.status != "published":
        signals.post_published.send(sender, post=post)
    signals.post_updated.send(sender, post=post)
    return post


def _move_address(post: Post, old_slug: str) -> None:
    """Keep ``old_slug`` working as a redirect to ``post`` (and free its new slug of any redirect)."""
    db.session.execute(PostRedirect.__table__.delete().where(PostRedirect.old_slug == post.slug))
    if db.session.get(PostRedirect, old_slug) is None:
        db.session.add(PostRedirect(old_slug=old_slug, post_id=post.id))


def _schedule_publication(when: datetime) -> None:
    """Ask the worker to publish right on time (the every-minute task is the safety net)."""
    from blog import tasks

    try:
        tasks.publish_scheduled_posts.schedule(eta=when)
    except Exception:  # the queue being down must not lose the saved post
        log.warning("could not schedule publication at %s; the periodic task will do it", when, exc_info=True)


def delete(post: Post, *, by: User) -> None:
    """Delete a post with its comments, tags links, redirects and cover files.

    Raises:
        NotAllowed: ``by`` may not delete it.
    """
    from blog import signals
    from blog.models import Comment
    from blog.permissions import check_owner
    from blog.services import media

    check_owner(by, post.author_id, "You can only delete your own posts.")
    post_id, slug, cover = post.id, post.slug, post.cover_image
    db.session.execute(Comment.__table__.update().where(Comment.post_id == post_id).values(parent_id=None))
    db.session.execute(Comment.__table__.delete().where(Comment.post_id == post_id))
    db.session.execute(PostRedirect.__table__.delete().where(PostRedirect.post_id == post_id))
    db.session.delete(post)  # the ORM removes its tag links (raw SQL here would leave the loaded collection stale)
    db.session.commit()
    media.discard_cover(cover)
    signals.post_deleted.send(current_app._get_current_object(), post_id=post_id, slug=slug)
    taxonomy.clear_widgets()


def lock_for_patch(post: Post) -> Post:
    """Hold ``post``'s row until the next commit or rollback, and reload it as it is now.

    For changes that apply on top of whatever the post is (an API PATCH names only the fields it
    changes): concurrent ones then run one after the other, each on the latest version, instead
    of all but one ending in 409. A no-op UPDATE takes the lock on both databases (PostgreSQL's
    row lock; SQLite's write lock, which waits out the busy timeout rather than failing).
    """
    db.session.execute(update(Post).where(Post.id == post.id).values(version=Post.version)
                       .execution_options(synchronize_session=False))
    db.session.expire(post)
    db.session.refresh(post)
    return post


def get_for_edit(slug: str, by: User) -> Post:
    """The post at ``slug`` for its editor. Raises NotFound, or NotAllowed for someone else's public post."""
    from blog.permissions import can_manage
    from blog.permissions import check_owner

    post = db.session.scalar(select(Post).options(selectinload(Post.tags)).where(Post.slug == slug))
    if post is None or not (post.is_visible_to(by) or can_manage(by, post.author_id)):
        # Someone else's draft is a 404, as on its page and in the API: a 403 would tell it exists.
        raise NotFound("There is no post at this address.")
    check_owner(by, post.author_id, "You can only edit your own posts.")
    return post


def redirect_for(slug: str) -> str | None:
    """The current slug of a post that used to live at ``slug``, if any."""
    return db.session.scalar(
        select(Post.slug).join(PostRedirect, PostRedirect.post_id == Post.id).where(PostRedirect.old_slug == slug))


def record_view(post: Post, *, user=None, user_agent: str = "") -> bool:
    """Count a read, not for the post's author, not for obvious bots (buffered: no write here).

    The buffer reaches ``posts.views`` and today's per-day row within a minute (``viewcounts.flush``).
    """
    if user is not None and getattr(user, "is_authenticated", False) and user.id == post.author_id:
        return False
    return count_view(post.id, user_agent=user_agent)


def count_view(post_id: int, *, user_agent: str = "", app=None) -> bool:
    """Count a read of ``post_id`` unless a bot's; it reaches ``posts.views`` with the next flush.

    ``app``: the app whose counters take it, for a caller without an app context (``QuickHits``).
    """
    if not user_agent or _BOTS.search(user_agent.lower()):
        return False
    viewcounts.add(post_id, app)
    return True


def tag_suggestions(typed: str, limit: int = 8) -> list[str]:
    """Names of published posts' tags starting with the last comma-separated part of ``typed``."""
    *done, last = (typed or "").split(",")
    last = last.strip()
    if not last:
        return []
    taken = {name.strip().lower() for name in done}
    names = db.session.scalars(
        select(Tag.name).where(func.lower(Tag.name).like(f"{_escape_like(last.lower())}%", escape="\\"),
                               taxonomy.published_tag())
        .order_by(Tag.name).limit(limit + len(taken)))
    return [name for name in names if name.lower() not in taken][:limit]


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
