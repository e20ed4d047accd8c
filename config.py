"""Configuration classes, chosen by ``BLOG_ENV``; values come from the environment and ``.env``."""
from __future__ import annotations

import os
from pathlib import Path

from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent
load_dotenv(BASE_DIR / ".env")


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


#: Where the embedded-default stack keeps its files (SQLite, Huey queue, outbox, uploads, logs).
INSTANCE = Path(os.environ.get("INSTANCE_PATH") or BASE_DIR / "instance").resolve()


class Config:
    """Settings shared by every environment; each one can be overridden from the environment."""

    ENV_NAME = "development"
    SECRET_KEY = os.environ.get("SECRET_KEY") or "dev-only-insecure-key"
    INSTANCE_PATH = str(INSTANCE)

    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE / 'blog.db'}"
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}  # PostgreSQL: stale connections are replaced at checkout (blog/pool.py)
    REDIS_URL = os.environ.get("REDIS_URL") or None

    # Background jobs: RedisHuey when REDIS_URL is set, else SqliteHuey in the instance folder.
    HUEY_NAME = "blog"
    HUEY_SQLITE_PATH = str(INSTANCE / "huey.db")
    HUEY_IMMEDIATE = False

    MAIL_SERVER = os.environ.get("MAIL_SERVER") or None
    MAIL_PORT = _env_int("MAIL_PORT", 25)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_USE_TLS = _env_bool("MAIL_USE_TLS", False)
    #: An address alone gets SITE_NAME as its display name ("Inkwell <noreply@localhost>").
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER") or "noreply@localhost"
    MAIL_OUTBOX = str(INSTANCE / "outbox")
    #: A message not sent this long after it was queued (or claimed by a worker that died) is queued again.
    MAIL_RESEND_AFTER_MINUTES = _env_float("MAIL_RESEND_AFTER_MINUTES", 2)
    #: Failed sends back off from 30 s doubling to an hour; a message is given up this long after it
    #: was written, or after MAIL_MAX_ATTEMPTS attempts (50 attempts of that schedule span ~44 h).
    MAIL_GIVE_UP_HOURS = _env_int("MAIL_GIVE_UP_HOURS", 24)
    MAIL_MAX_ATTEMPTS = _env_int("MAIL_MAX_ATTEMPTS", 50)

    UPLOAD_FOLDER = os.environ.get("UPLOAD_FOLDER") or str(INSTANCE / "uploads")
    MAX_CONTENT_LENGTH = _env_int("MAX_CONTENT_LENGTH", 16 * 1024 * 1024)
    AVATAR_MAX_BYTES = _env_int("AVATAR_MAX_BYTES", 2 * 1024 * 1024)
    #: /admin/import: uploads are stored here under random names until their import ends.
    IMPORT_FOLDER = os.environ.get("IMPORT_FOLDER") or str(INSTANCE / "imports")
    IMPORT_MAX_BYTES = _env_int("IMPORT_MAX_BYTES", 64 * 1024 * 1024)
    #: A running import with no progress for this long is marked failed (its worker died).
    IMPORT_STALE_SECONDS = _env_int("IMPORT_STALE_SECONDS", 300)
    COVER_MAX_BYTES = _env_int("COVER_MAX_BYTES", 8 * 1024 * 1024)
    #: Images uploaded into post bodies (the editor's "Insert image", /my/media).
    MEDIA_MAX_BYTES = _env_int("MEDIA_MAX_BYTES", 8 * 1024 * 1024)
    #: Larger images are refused before decoding (decompression bombs).
    IMAGE_MAX_PIXELS = _env_int("IMAGE_MAX_PIXELS", 40_000_000)
    POSTS_PER_PAGE = _env_int("POSTS_PER_PAGE", 10)
    SITE_NAME = os.environ.get("SITE_NAME") or "Inkwell"
    SITE_DESCRIPTION = os.environ.get("SITE_DESCRIPTION") or "Notes on building fast, humane software for the web."
    SITE_URL = (os.environ.get("SITE_URL") or "http://127.0.0.1:5000").rstrip("/")
    #: The site's time zone (IANA name): times are shown in it to guests (and to users who chose no
    #: zone of their own), and the weekly digest goes out Mondays at 08:00 there. ``SITE_TIMEZONE``,
    #: its former name, is still read when ``TIMEZONE`` is unset.
    TIMEZONE = (os.environ.get("TIMEZONE") or os.environ.get("SITE_TIMEZONE") or "UTC").strip()
    #: An absolute URL or a path of the default Open Graph image; empty: one is drawn from SITE_NAME.
    SITE_IMAGE = os.environ.get("SITE_IMAGE") or ""
    COMMENTS_REQUIRE_APPROVAL = _env_bool("COMMENTS_REQUIRE_APPROVAL", True)
    #: Commenters with this many approved comments skip the queue (0: never).
    COMMENTS_TRUSTED_AFTER = _env_int("COMMENTS_TRUSTED_AFTER", 3)
    #: Top-level comments per thread page (``?cpage=N``); replies stay with theirs.
    COMMENTS_PER_PAGE = _env_int("COMMENTS_PER_PAGE", 100)
    #: A comment form sent back faster than this (seconds) is a bot's.
    COMMENT_MIN_SECONDS = _env_int("COMMENT_MIN_SECONDS", 3)

    #: How long an API token from POST /api/v1/auth/login works (it can be revoked before).
    API_TOKEN_DAYS = _env_int("API_TOKEN_DAYS", 30)

    BCRYPT_LOG_ROUNDS = _env_int("BCRYPT_LOG_ROUNDS", 12)
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    WTF_CSRF_CHECK_DEFAULT = False  # checked by security.check_csrf (the same check, the method first)

    #: Shared by every process: Redis when REDIS_URL is set, else a SQLite file (blog/ratelimit.py);
    #: never memory://, which each gunicorn worker would count alone.
    RATELIMIT_STORAGE_URI = (os.environ.get("RATELIMIT_STORAGE_URI") or os.environ.get("REDIS_URL")
                             or f"sqlite:///{INSTANCE / 'ratelimit.db'}")
    RATELIMIT_HEADERS_ENABLED = True
    #: When the storage is down (Redis stopped), count in memory meanwhile and log a warning,
    #: rather than answer 500; the shared storage is used again once it answers.
    RATELIMIT_SWALLOW_ERRORS = True
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True

    #: How many proxies (nginx ...) sit in front of the app: their X-Forwarded-For/-Proto are trusted
    #: so rate limits see the client's address. 0 when the app is reached directly.
    PROXY_COUNT = _env_int("PROXY_COUNT", 0)

    LOG_LEVEL = (os.environ.get("LOG_LEVEL") or "INFO").upper()
    LOG_FILE = os.environ.get("LOG_FILE") or None

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = False
    HSTS = False

    #: Anonymous pages and fragments from the shared page cache (Redis, or files in instance/cache).
    PAGE_CACHE = _env_bool("PAGE_CACHE", True)
    #: Longest a cached page lives; any change to what it shows replaces it at once anyway.
    PAGE_CACHE_TIMEOUT = _env_int("PAGE_CACHE_TIMEOUT", 300)
    #: Each process keeps copies of what it read from that cache (pages, widgets, generations),
    #: up to this many bytes (0: none), dropped the moment any process announces a change, and
    #: at most NEAR_CACHE_SECONDS old: a cache hit then costs no round trip to Redis.
    NEAR_CACHE_BYTES = _env_int("NEAR_CACHE_BYTES", 16 << 20)
    NEAR_CACHE_SECONDS = _env_float("NEAR_CACHE_SECONDS", 10.0)
    #: How long nginx or a CDN may keep a guest's page (Cache-Control s-maxage), and serve it stale
    #: while fetching a fresh one: they cannot be told about changes, so keep these short.
    HTTP_S_MAXAGE = _env_int("HTTP_S_MAXAGE", 10)
    HTTP_STALE_WHILE_REVALIDATE = _env_int("HTTP_STALE_WHILE_REVALIDATE", 30)
    #: The embedded stack's shared view-count buffer (Redis when REDIS_URL is set).
    VIEWS_BUFFER_PATH = str(INSTANCE / "views.db")

    @classmethod
    def validate(cls) -> None:
        """Refuse settings that cannot work: an unknown TIMEZONE would put wrong times on every page."""
        from zoneinfo import available_timezones

        if cls.TIMEZONE not in available_timezones():
            raise RuntimeError(f"TIMEZONE={cls.TIMEZONE!r} is not an IANA time zone name (e.g. UTC, Europe/Berlin).")


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    BCRYPT_LOG_ROUNDS = _env_int("BCRYPT_LOG_ROUNDS", 10)


class TestingConfig(Config):
    """In-memory SQLite and in-process defaults; real PostgreSQL/Redis when TEST_* URLs are set."""

    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "testing-secret-key"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL") or "sqlite://"
    REDIS_URL = os.environ.get("TEST_REDIS_URL") or None
    RATELIMIT_STORAGE_URI = os.environ.get("TEST_REDIS_URL") or "memory://"
    HUEY_IMMEDIATE = True
    WTF_CSRF_ENABLED = False
    COMMENT_MIN_SECONDS = 0  # the timing check has its own tests
    BCRYPT_LOG_ROUNDS = 4
    SITE_URL = "http://localhost"
    LOG_LEVEL = (os.environ.get("LOG_LEVEL") or "WARNING").upper()
    PAGE_CACHE = False  # tests that count queries or change rows behind the app's back see every render
    VIEWS_BUFFER_PATH = ":memory:"  # one per app (tests run side by side): see services/viewcounts.py


class ProductionConfig(Config):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    HSTS = True
    LOG_FILE = os.environ.get("LOG_FILE") or str(INSTANCE / "logs" / "blog.log")

    @classmethod
    def validate(cls) -> None:
        """A production app without its own secret key must not start."""
        super().validate()
        if not os.environ.get("SECRET_KEY"):
            raise RuntimeError("SECRET_KEY must be set in the environment when BLOG_ENV=production.")


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def selected() -> type[Config]:
    """The configuration class that ``BLOG_ENV`` names (development by default)."""
    name = os.environ.get("BLOG_ENV") or "development"
    try:
        return CONFIGS[name]
    except KeyError:
        raise RuntimeError(f"BLOG_ENV must be one of {', '.join(CONFIGS)}, not {name!r}.") from None
