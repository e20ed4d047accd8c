"""The blog application factory. Wiring only: configuration, extensions, blueprints, handlers."""
from __future__ import annotations

import calendar
from pathlib import Path

from flask import Flask
from flask_login import current_user

import config as config_module
from blog import errors
from blog import logs
from blog import rendering
from blog import security
from blog.extensions import bcrypt
from blog.extensions import cache
from blog.extensions import csrf
from blog.extensions import db
from blog.extensions import htmx
from blog.extensions import limiter
from blog.extensions import login_manager
from blog.extensions import migrate
from blog.services import pagecache

ROOT = Path(__file__).resolve().parent.parent


def create_app(config_name: str | type[config_module.Config] | None = None) -> Flask:
    """Build the app for ``config_name`` (a CONFIGS key or a Config class; BLOG_ENV by default)."""
    if config_name is None:
        settings = config_module.selected()
    elif isinstance(config_name, str):
        settings = config_module.CONFIGS[config_name]
    else:
        settings = config_name
    settings.validate()

    app = rendering.App(
        __name__,
        instance_path=settings.INSTANCE_PATH,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_object(settings)
    app.url_map.converters["int"] = security.BoundedIntegerConverter  # before any route is added
    app.jinja_env.trim_blocks = True  # no stray blank lines from template tags: smaller fragments
    app.jinja_env.lstrip_blocks = True
    _configure_cache(app)
    if app.config["PROXY_COUNT"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)  # type: ignore[method-assign]
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    from blog import assets

    assets.init_app(app)  # fingerprinted, pre-compressed static files through WhiteNoise

    logs.configure(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    security.check_csrf(app)
    bcrypt.init_app(app)
    cache.init_app(app)
    pagecache.init_app(app)  # after the cache: its change feed follows the backend
    htmx.init_app(app)
    limiter.init_app(app)
    _configure_sqlite(app)
    _configure_postgres(app)
    from blog import tasks

    tasks.configure(app)  # the queue reads this app's configuration (the consumer's too, via wsgi)

    from blog import models  # noqa: F401  (register the tables with the metadata)
    from blog.services import mail  # noqa: F401  (its session listeners queue mail once its transaction commits)
    from blog.main import bp as main_bp
    from blog.my import bp as my_bp
    from blog.admin import bp as admin_bp
    from blog.api import bp as api_bp
    from blog.auth import bp as auth_bp
    from blog.comments import bp as comments_bp
    from blog.posts import bp as posts_bp
    from blog.subscriptions import bp as subscriptions_bp
    from blog.users import bp as users_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp, url_prefix="/auth")
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(comments_bp)
    csrf.exempt(api_bp)  # bearer tokens only: no cookie ever authenticates an API call
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    app.register_blueprint(posts_bp, url_prefix="/blog")
    app.register_blueprint(users_bp, url_prefix="/user")
    app.register_blueprint(my_bp, url_prefix="/my")
    app.register_blueprint(subscriptions_bp)
    from blog.media import bp as media_bp

    app.register_blueprint(media_bp, url_prefix="/my")  # /my/media (blog.my, another area, has /my/posts)
    from blog.pages import bp as pages_bp

    app.register_blueprint(pages_bp)  # /<slug> and old addresses: only what no route above takes

    from blog import handlers

    handlers.connect()
    rendering.register(app)  # the page cache and the HTTP caching headers
    errors.register(app)
    security.register(app)
    _register_template_helpers(app)

    from blog import cli

    cli.register(app)
    return app


def _configure_cache(app: Flask) -> None:
    if app.config.get("CACHE_TYPE"):
        return
    if app.config.get("REDIS_URL"):
        # Fails soft: with Redis down, an in-process cache answers (blog/fallback_cache.py), after a short wait.
        app.config["CACHE_TYPE"] = "blog.fallback_cache.FallbackRedisCache"
        app.config["CACHE_REDIS_URL"] = app.config["REDIS_URL"]
        app.config.setdefault("CACHE_OPTIONS", {"socket_connect_timeout": 0.5, "socket_timeout": 0.5})
        app.config.setdefault("CACHE_KEY_PREFIX", f"{app.config['HUEY_NAME']}:{app.config['ENV_NAME']}:")
    elif app.config.get("TESTING"):
        app.config["CACHE_TYPE"] = "SimpleCache"  # each test app its own, nothing left between tests
    else:
        # Shared by every process on the machine (gunicorn workers, the Huey consumer, the CLI), so an
        # invalidation in one reaches all; a per-process SimpleCache would keep serving old pages.
        app.config["CACHE_TYPE"] = "blog.sqlitecache.SQLiteCache"
        app.config.setdefault("CACHE_DIR", str(Path(app.instance_path) / "cache"))
        app.config.setdefault("CACHE_THRESHOLD", 20_000)
    app.config.setdefault("CACHE_DEFAULT_TIMEOUT", 300)


def _configure_sqlite(app: Flask) -> None:
    """WAL mode and enforced foreign keys on every SQLite connection."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    from sqlalchemy import event

    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record) -> None:  # pragma: no cover - exercised on every connect
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if app.config["SQLALCHEMY_DATABASE_URI"] not in ("sqlite://", "sqlite:///:memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()


def _configure_postgres(app: Flask) -> None:
    """Stale pooled connections replaced at checkout, with a round trip only when one is in doubt
    (blog/pool.py). A SQLite connection is a file, not a socket a server can drop: no check."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        return
    from blog import pool

    with app.app_context():
        pool.check_on_checkout(db.engine)


def _register_template_helpers(app: Flask) -> None:
    from flask import Response
    from flask import abort
    from flask import flash
    from flask import redirect
    from flask import request
    from flask import url_for
    from flask_htmx import make_response as htmx_response

    from blog.models import User
    from blog.models import utcnow
    from blog.services import accounts

    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to see that page."
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def _load_user(session_id: str) -> User | None:
        # "<id>.<fingerprint of password hash and session version>": see accounts.end_sessions.
        return accounts.load_session_user(session_id)

    @login_manager.unauthorized_handler
    def _unauthorized() -> Response:
        if request.path.startswith("/api/"):
            abort(401)
        target = url_for("auth.login", next=request.full_path.rstrip("?") if request.method == "GET" else None)
        flash(login_manager.login_message)
        if htmx:
            return htmx_response(redirect=target)  # a full navigation, not a swap into the page
        return redirect(target)

    @app.context_processor
    def _site() -> dict:
        return {"site_name": app.config["SITE_NAME"], "site_description": app.config["SITE_DESCRIPTION"],
                "site_url": app.config["SITE_URL"]}

    @app.template_global("canonical_url")
    def _canonical_url() -> str:
        """This page's absolute URL on SITE_URL, keeping only the page number."""
        page = request.args.get("page", type=int)
        return app.config["SITE_URL"] + request.path + (f"?page={page}" if page and page > 1 else "")

    from blog.services import media

    from blog.permissions import can_manage

    # Also a global (Flask-Login only puts it in each render's context): macro files can then be
    # imported without context, which Jinja builds once instead of on every render.
    app.add_template_global(current_user, "current_user")
    app.add_template_global(media.avatar_url, "avatar_url")
    app.add_template_global(media.cover_urls, "cover_urls")
    app.add_template_global(can_manage, "can_manage")
    from blog.services import reading

    app.add_template_global(reading.card_image, "card_image")
    app.add_template_global(reading.initials, "initials")
    app.add_template_global(reading.social_links, "social_links")
    from blog.services import pages

    app.add_template_global(pages.nav_pages, "nav_pages")

    from blog.services import seo

    app.add_template_global(seo.default_image, "default_image")
    app.add_template_global(seo.default_image_alt, "default_image_alt")
    app.add_template_global(seo.json_ld, "json_ld")
    app.add_template_global(seo.website_ld, "website_ld")
    app.add_template_global(seo.post_head, "post_head")

    from blog.services import subscriptions

    app.add_template_global(subscriptions.post_choices, "subscribe_choices")
    app.add_template_global(seo.breadcrumbs, "breadcrumbs_ld")

    from blog.services import comments

    @app.template_global("pending_comments")
    def _pending_comments() -> int:
        """Comments waiting for the current user to moderate: one COUNT, run only where the nav shows it."""
        return comments.pending_count(current_user)

    @app.template_global("current_year")
    def _current_year() -> int:
        return utcnow().year

    @app.template_global("month_name")
    def _month_name(number: int) -> str:
        return calendar.month_name[number]

    @app.template_filter("date")
    def _date(value, fmt: str = "%d %b %Y") -> str:
        return value.strftime(fmt) if value else ""

    from markupsafe import Markup
    from markupsafe import escape

    from blog.services import clock

    @app.template_filter("local")
    def _local(value, fmt: str = clock.DEFAULT_FORMAT, zone=None) -> Markup:
        """``<time datetime="…Z">2 Dec 2026, 09:00 CET</time>``: a stored UTC time in the viewer's zone
        (guests: the site's), the zone named; a date-only format keeps the full time in ``title``."""
        if value is None:
            return Markup("")
        local = clock.to_local(value, zone or clock.viewer_zone())  # once for both texts
        text = clock.format_in_zone(local, fmt)
        full = text if fmt == clock.DEFAULT_FORMAT else clock.format_in_zone(local)
        title = "" if full == text else f' title="{escape(full)}"'
        return Markup(f'<time datetime="{clock.iso_utc(value)}"{title}>{escape(text)}</time>')

    @app.template_filter("local_text")
    def _local_text(value, fmt: str = clock.DEFAULT_FORMAT, zone=None) -> str:
        """The same local time as plain text (for headings, attributes, mail)."""
        return clock.format_local(value, fmt, zone)

    app.add_template_global(clock.zone_for, "zone_for")
    app.add_template_global(clock.zone_names, "zone_names")
    app.add_template_global(utcnow, "now_utc")

    @app.template_global("site_zone_name")
    def _site_zone_name() -> str:
        return clock.zone_name(clock.site_zone())

    @app.template_global("viewer_zone_name")
    def _viewer_zone_name() -> str:
        return clock.zone_name(clock.viewer_zone())
