"""Flask extensions, created unbound; ``create_app`` calls ``init_app`` on each."""
from __future__ import annotations

from flask_bcrypt import Bcrypt
from flask_caching import Cache
from flask_htmx import HTMX
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from blog import current
from blog import ratelimit  # noqa: F401  (registers the sqlite:/// rate-limit storage with limits)


class GuestAwareLoginManager(LoginManager):
    """Flask-Login's manager, answering "a guest" at once for a visitor who brought no session
    cookie, no remember-me cookie and no Authorization header.

    Flask-Login reaches the same answer the long way on every request: it sends a signal, hashes
    the visitor's address and browser with SHA-512 for session protection, and reads the session
    and the cookies, all through Flask's proxies. That is about a tenth of a millisecond on each
    guest's page. Anyone who brings one of the three goes the usual way."""

    def _load_user(self):  # type: ignore[override]
        if not current.brings_credentials(current.request(), current.config()):
            return self._update_request_context_with_user()  # the anonymous user, as Flask-Login's own
        return super()._load_user()


class Base(DeclarativeBase):
    # Stable constraint names so Alembic migrations are identical on SQLite and PostgreSQL.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = GuestAwareLoginManager()
csrf = CSRFProtect()
bcrypt = Bcrypt()
cache = Cache()
htmx = HTMX()
limiter = Limiter(key_func=get_remote_address)
