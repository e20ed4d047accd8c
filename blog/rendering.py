"""Full page or fragment, decided in one place; and the one page-cache layer in front of the views.

Anonymous GETs of the pages in ``CACHEABLE`` are answered from the shared page cache
(services/pagecache.py) before the view runs, keyed on the URL and the htmx headers the views
read. Everything leaving here gets its HTTP caching headers: ETag and Last-Modified with 304s
for cacheable pages, ``public, s-maxage`` for guests, ``private, no-store`` for anyone signed in.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import logging
import time
from collections.abc import Callable
from datetime import datetime
from datetime import UTC
from types import FunctionType
from types import MethodType

from flask import Flask
from flask import Response
from flask import abort
from flask import current_app
from flask import get_flashed_messages
from flask import make_response
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask.sessions import SecureCookieSessionInterface
from flask.templating import Environment as FlaskEnvironment
from flask_htmx import make_response as htmx_response
from isal import igzip
from jinja2.runtime import Context
from jinja2.runtime import Macro
from jinja2_fragments.flask import render_block
from werkzeug.exceptions import HTTPException
from werkzeug.http import is_resource_modified
from werkzeug.http import unquote_etag
from werkzeug.wrappers import Request as WerkzeugRequest

from blog import current
from blog import logs
from blog.extensions import db
from blog.extensions import htmx
from blog.extensions import limiter
from blog.services import pagecache
from blog.services import posts

#: The request headers ``wants_fragment`` reads: every fragment-or-page response varies on them.
FRAGMENT_HEADERS = ("HX-Request", "HX-Boosted", "HX-History-Restore-Request")
#: Every htmx header a view reads (the home page also reads HX-Trigger): all of them key the page cache.
KEY_HEADERS = (*FRAGMENT_HEADERS, "HX-Trigger")
#: The same headers' keys in the WSGI environ (read there: a missing header costs EnvironHeaders an exception).
_KEY_ENVIRON = tuple((name, "HTTP_" + name.upper().replace("-", "_")) for name in KEY_HEADERS)
#: Response headers worth storing with a page (the rest are added on the way out each time).
_KEPT_HEADERS = ("Content-Type", "Vary", "ETag", "Last-Modified", "Cache-Control")
_COMPRESSIBLE = ("text/html", "application/rss+xml", "application/atom+xml", "application/xml", "text/xml",
                 "application/json", "text/plain")


class _Context(Context):
    """Jinja's render context, calling macros, plain functions and bound methods without asking first.

    Every call in a template goes through ``Context.call``, which asks the callable, and its
    ``__call__``, whether it wants the context passed in (four lookups and two function calls,
    a bound method made for a macro's ``__call__``), about ninety times a post page. A macro
    always takes the evaluation context (``Macro.__call__`` is ``pass_eval_context``); a
    function, method or ``functools.cache`` wrapper answers with the one attribute Jinja's
    decorators set, read here directly. Anything else goes Jinja's way."""

    def call(__self, __obj, *args, **kwargs):  # noqa: N805 (Jinja's own signature)
        kind = type(__obj)
        if kind is Macro:
            args = (__self.eval_ctx, *args)
        elif kind is MethodType:  # its attributes are its function's; asked of the method, a miss raises
            if hasattr(__obj.__func__, "jinja_pass_arg"):
                return super().call(__obj, *args, **kwargs)
        elif kind not in _PLAIN_CALLABLES or hasattr(__obj, "jinja_pass_arg"):
            return super().call(__obj, *args, **kwargs)
        if kwargs:  # what Jinja adds for context functions only
            kwargs.pop("_block_vars", None)
            kwargs.pop("_loop_vars", None)
        try:
            return __obj(*args, **kwargs)
        except StopIteration:  # as Jinja does
            return __self.environment.undefined("value was undefined because a callable raised a"
                                                 " StopIteration exception")


_PLAIN_CALLABLES = (FunctionType, type(functools.cache(lambda: None)))


class _Environment(FlaskEnvironment):
    context_class = _Context

    def make_globals(self, d):  # type: ignore[override]
        """A template's globals as a plain dict: the environment's as they are when the template
        loads, under its own. Jinja builds a ChainMap so that later changes to the environment's
        globals still reach loaded templates, and asks that none be made once templates load (none
        is: every global is added in create_app). A ChainMap is read in Python: each render copies
        the globals into its context, a KeyError per name from the empty first map, and each
        ``{% from … import %}`` subtracts their keys; a twentieth of a post page's instructions."""
        return {**self.globals, **(d or {})}


class App(Flask):
    """Flask, whose ``url_for`` remembers the internal URLs it built (a post page builds ~40), and
    whose ``ensure_sync`` remembers which functions need no wrapping.

    Building one through Werkzeug's map costs 4-6 µs; the same endpoint and values in the same
    app under the same script root always give the same path (the static fingerprints are fixed
    at start-up), so a bounded memo answers repeats in well under 1 µs. External URLs, anchors,
    methods, relative endpoints and values that cannot be keys go the usual way.
    """

    _MEMO_SIZE = 8192
    jinja_environment = _Environment

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._url_memo: dict[tuple, str] = {}
        self._sync_memo: dict = {}

    def ensure_sync(self, func):  # type: ignore[override]
        """Flask's, remembered per function: Flask asks ``inspect`` whether each hook and view is a
        coroutine function every time it calls one, about twenty times a request."""
        try:
            return self._sync_memo[func]
        except KeyError:
            if len(self._sync_memo) >= self._MEMO_SIZE:  # per-request callbacks must not pile up
                self._sync_memo.clear()
            sync = self._sync_memo[func] = super().ensure_sync(func)
            return sync
        except TypeError:  # unhashable
            return super().ensure_sync(func)

    def url_for(self, endpoint: str, *, _anchor: str | None = None, _method: str | None = None,  # type: ignore[override]
                _scheme: str | None = None, _external: bool | None = None, **values) -> str:
        if _anchor is None and _method is None and _scheme is None and not _external and endpoint[:1] != ".":
            try:
                key = (current.request().script_root, endpoint, *values.items())  # query args keep their order
                return self._url_memo[key]
            except KeyError:
                url = super().url_for(endpoint, **values)
                if len(self._url_memo) >= self._MEMO_SIZE:
                    self._url_memo.clear()
                self._url_memo[key] = url
                return url
            except (RuntimeError, TypeError):  # no request (mail: external URLs), or an unhashable value
                pass
        return super().url_for(endpoint, _anchor=_anchor, _method=_method, _scheme=_scheme, _external=_external,
                               **values)


def _listing_areas(_args: dict) -> tuple[str, ...]:
    return (pagecache.LISTINGS, pagecache.TAXONOMY)


def _post_areas(args: dict) -> tuple[str, ...]:
    return (pagecache.post_area(args["slug"]), pagecache.TAXONOMY)


def _post_page_areas(args: dict) -> tuple[str, ...]:
    # The page links to other posts (previous/next, related, more from the author); its thread fragments do not.
    return (*_post_areas(args), pagecache.NEIGHBOURS)


#: Endpoints whose anonymous GETs may be served from the page cache -> the areas they show.
CACHEABLE: dict[str, Callable[[dict], tuple[str, ...]]] = {
    "main.index": _listing_areas,
    "main.category": _listing_areas,
    "main.tag": _listing_areas,
    "main.tags": _listing_areas,
    "main.archive": _listing_areas,
    "main.search": _listing_areas,
    "main.feed": _listing_areas,
    "main.category_feed": _listing_areas,
    "main.tag_feed": _listing_areas,
    "users.profile": _listing_areas,
    "posts.detail": _post_page_areas,
    "comments.thread": _post_areas,
    "comments.count": _post_areas,
}


def _reading_page() -> bool:
    """The cacheable pages carry no rate limit (served from the page cache they never reach it either)."""
    req = current.request()
    return req.method in ("GET", "HEAD") and req.endpoint in CACHEABLE


def _rate_limit_except_reading_pages(check: Callable[[], None]) -> Callable[[], None]:
    """Flask-Limiter's before-request ``check``, skipped for reading pages: it works out every limit
    that could apply before it would ask a request filter (a fifth of a millisecond a page)."""

    def rate_limit() -> None:
        if not _reading_page():
            check()

    return rate_limit


#: Page numbers past this are a 404 before any query: no listing is that long, and SQLite's
#: integers overflow past 2**63 - 1 (``?page=99999999999999999999`` was a 500).
MAX_PAGE = 1_000_000


def page_number(name: str = "page", args=None) -> int:
    """The ``?page=N`` of this request (or of ``args``): 1 when absent or not a number; 404 when out of range."""
    number = (request.args if args is None else args).get(name, 1, type=int)
    if number < 1 or number > MAX_PAGE:
        abort(404)
    return number


def wants_fragment() -> bool:
    """True for an htmx swap; page loads, boosted links and history restores get the whole page.

    (flask-htmx's tests, read from the WSGI environ: a missing header costs Werkzeug an exception.)"""
    environ = current.request().environ
    return (environ.get("HTTP_HX_REQUEST") == "true" and environ.get("HTTP_HX_BOOSTED") != "true"
            and environ.get("HTTP_HX_HISTORY_RESTORE_REQUEST") != "true")


def render(template: str, *, block: str | None = None, status: int = 200, oob: tuple[str, ...] = (),
           **context) -> Response:
    """Render ``template`` whole, or only ``block`` of it when htmx asks for a swap.

    Blocks named in ``oob`` ride along with the fragment (each renders with ``oob=True`` and
    must mark its root ``hx-swap-oob`` then). Pending flash messages always do, so a message
    flashed before an htmx response is shown at once, not on the next page.
    """
    if block and wants_fragment():
        html = render_block(template, block, **context)
        for extra in oob:
            html += render_block(template, extra, **{**context, "oob": True})
        if get_flashed_messages():
            html += render_template("_flashes.html", oob=True)
    else:
        html = render_template(template, **context)
    response = make_response(html, status)
    if block:
        vary(response, *FRAGMENT_HEADERS)
    return response


def vary(response: Response, *names: str) -> None:
    """Add each of ``names`` to ``response``'s Vary header unless it is there (in any case).

    Werkzeug's ``response.vary`` parses the header into a set on every access and writes it back
    on every change: three times a page, each dearer than the response's other headers."""
    existing = response.headers.get("Vary")
    have = {part.strip().lower() for part in existing.split(",")} if existing else set()
    extra = []
    for name in names:
        if name.lower() not in have:
            have.add(name.lower())
            extra.append(name)
    if extra:
        response.headers["Vary"] = ", ".join([existing, *extra] if existing else extra)


def render_fragment(template: str, block: str, *, status: int = 200, **context) -> Response:
    """Render only ``block`` of ``template``, for URLs that exist only as fragments (inline checks,
    suggestions, counters): a plain request (no ``HX-Request``) gets the same small piece of HTML."""
    return make_response(render_block(template, block, **context), status)


def redirect_to(url: str) -> Response:
    """303 for plain form posts; ``HX-Redirect`` for htmx, so the browser loads the whole page.

    (``HX-Location`` would fetch the page as an htmx request, and get a fragment back.)
    """
    if htmx:
        return htmx_response(redirect=url)
    return redirect(url, 303)


def conditional(response: Response, etag: str | None = None,
                last_modified: datetime | float | None = None) -> Response:
    """Add a (weak) ETag and Last-Modified to ``response`` and answer 304 when the client has it.

    ``etag`` defaults to a hash of the body; ``last_modified`` is a naive-UTC datetime or epoch seconds.
    """
    if etag is None:
        etag = _etag(response.get_data())
    elif not etag.startswith(("W/", '"')):
        etag = f'W/"{etag}"'
    response.headers["ETag"] = etag
    if last_modified is not None:
        if isinstance(last_modified, datetime):
            stamp = last_modified.replace(tzinfo=last_modified.tzinfo or UTC)
        else:
            stamp = datetime.fromtimestamp(last_modified, UTC)
        response.last_modified = stamp.replace(microsecond=0)
    environ = current.request().environ
    if "HTTP_IF_NONE_MATCH" not in environ and "HTTP_IF_MODIFIED_SINCE" not in environ:
        # Nothing to compare, so no 304: Werkzeug would find that out only after adding a Date
        # header (the WSGI server sends its own) and parsing the validators it was not sent.
        return response
    return response.make_conditional(request)


def count_view_when_cached(post_id: int) -> None:
    """This page reads post ``post_id``: a copy served from the page cache counts a view of it too."""
    _state()["post_id"] = post_id


# --- the page-cache layer -------------------------------------------------------------------

def _state() -> dict:
    # Per request, in the WSGI environ (``g`` belongs to the app context, which tests share between requests).
    return current.request().environ.setdefault("blog.page", {})


def _etag(body: bytes) -> str:
    # SHA-256 (truncated to 96 bits), not BLAKE2b: OpenSSL's runs on the CPU's SHA instructions,
    # twice as fast on a post page (11 µs against 22) as the reference C code behind hashlib.blake2b.
    return 'W/"' + hashlib.sha256(body).hexdigest()[:24] + '"'


def _signed_in() -> bool:
    # Only a visitor who brought a session or remember-me cookie can be signed in (Flask-Login
    # puts the id in the session in both cases); the others' sessions are not even looked at.
    return current.brings_credentials(current.request(), current.config()) and "_user_id" in session


def _shareable_request() -> bool:
    """A guest's GET of a page in CACHEABLE: the same answer for everyone who asks it so."""
    req = current.request()
    if req.method not in ("GET", "HEAD") or req.endpoint not in CACHEABLE:
        return False
    # A session (flashes, a form token, a login) or a remember-me cookie: this visitor's own page.
    return not current.brings_credentials(req, current.config())


def _serve_from_cache() -> Response | None:
    if not _shareable_request():
        return None
    req = current.request()
    areas = CACHEABLE[req.endpoint](req.view_args or {})
    environ = req.environ
    variant = [f"{name}={environ.get(key, '')}" for name, key in _KEY_ENVIRON]
    key = entry = None
    try:
        # The generations are read before the view reads the database (see services/pagecache.py).
        if current.config()["PAGE_CACHE"]:
            key, gens, entry = pagecache.lookup(req.full_path, variant, [pagecache.SITE, *areas], environ)
        else:
            gens = pagecache.generations([pagecache.SITE, *areas])
    except Exception:  # the cache is down: render as if nothing were cached
        current_app.logger.exception("page cache unavailable")
        gens = {}
    _state()["page"] = (key, gens)
    if entry is None:
        read_without_transaction()
        return None
    _state()["hit"] = True
    if entry.post_id is not None:
        posts.count_view(entry.post_id, user_agent=environ.get("HTTP_USER_AGENT", ""))
    headers = list(entry.headers)  # stored with their final values: the quick path does no header work
    if ("HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MODIFIED_SINCE" in environ) and not is_resource_modified(
            environ, etag=unquote_etag(entry.etag)[0],
            last_modified=datetime.fromtimestamp(int(entry.last_modified), UTC)):
        return Response(status=304, headers=[(k, v) for k, v in headers if k != "Content-Type"])
    if "gzip" in req.accept_encodings:
        body = entry.body
        headers.append(("Content-Encoding", "gzip"))
    else:
        body = gzip.decompress(entry.body)
    headers.append(("X-Page-Cache", "hit"))
    return Response(body, entry.status, headers=headers)


#: See ``read_without_transaction``.
_AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}


def read_without_transaction() -> None:
    """A guest's GET of a reading page (which writes nothing to the database) reads on PostgreSQL
    outside a transaction: two of a post page's five round trips fewer (BEGIN before the first
    statement, ROLLBACK when the connection goes back to the pool), and the same data, since under
    READ COMMITTED every statement takes its own snapshot either way. The pool gives the connection
    back its usual mode. Not on SQLite, where a read opens no transaction anyway and switching the
    connection's mode costs more than it saves; not once the request has used the database."""
    session = db.session()
    if not session.in_transaction() and session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options=_AUTOCOMMIT)


def _public(response: Response, etag: str | None, last_modified: datetime | float | None) -> Response:
    config = current.config()
    response.headers["Cache-Control"] = (f"public, max-age=0, s-maxage={config['HTTP_S_MAXAGE']}, "
                                         f"stale-while-revalidate={config['HTTP_STALE_WHILE_REVALIDATE']}")
    # A CDN must not hand a guest's copy to someone signed in (who sends a cookie).
    vary(response, "Cookie", "Accept-Encoding")
    return conditional(response, etag, last_modified)


def _finish(response: Response) -> Response:
    state = _state()
    if state.get("hit"):
        return response
    if _signed_in():
        response.headers["Cache-Control"] = "private, no-store"
        return _compress(response)
    page = state.get("page")
    if page is not None and response.status_code == 304 and not session.modified:
        return _public(response, response.headers["ETag"], response.last_modified)  # the view's own conditional()
    if (page is None or response.status_code != 200 or response.direct_passthrough or response.is_streamed
            or session.modified or "Set-Cookie" in response.headers):
        return _compress(response)
    key, gens = page
    body = response.get_data()
    # The view's own validators win (a feed knows its newest item); else the body and the generations.
    etag = response.headers.get("ETag") or _etag(body)
    last_modified = (response.last_modified.timestamp() if response.last_modified
                     else pagecache.changed_at(gens.values()) or time.time())
    response = _public(response, etag, last_modified)
    gzipped = None
    if key is not None and response.status_code == 200:
        headers = [(name, response.headers[name]) for name in _KEPT_HEADERS if name in response.headers]
        headers += [(name, value) for name, value in response.headers.items() if name.startswith("HX-")]
        try:
            entry = pagecache.store(key, body, status=response.status_code, headers=headers, etag=etag,
                                    last_modified=last_modified, post_id=state.get("post_id"), keep=False)
            # Everything the app sent (security headers included), for QuickHits.
            entry.extra["headers"] = [(k, v) for k, v in response.headers.items() if k.lower() not in _PER_REQUEST]
            entry.extra["gens"] = gens  # read before the view ran: a change since makes it stale at once
            pagecache.save(key, entry)
            gzipped = entry.body
        except Exception:
            current_app.logger.exception("could not store a page in the page cache")
        response.headers["X-Page-Cache"] = "miss"
    return _compress(response, gzipped)


def _gzip(body: bytes) -> bytes:
    return igzip.compress(body, 1)


def _compress(response: Response, gzipped: bytes | None = None) -> Response:
    """gzip text bodies over 1 KB for clients that take it (static files come pre-compressed).

    Through ISA-L (``isal``) at its level 1: a post page compresses in 36 µs against zlib's 98 µs
    at level 1 (nginx's ``gzip_comp_level`` default), and comes out a little smaller, which
    every uncached page pays. ``gzipped``: the body already compressed (the copy just stored in
    the page cache, at its own higher level).
    """
    if (response.status_code != 200 or response.direct_passthrough or response.is_streamed
            or "Content-Encoding" in response.headers or response.mimetype not in _COMPRESSIBLE):
        return response
    vary(response, "Accept-Encoding")
    if "gzip" not in current.request().accept_encodings:
        return response
    body = response.get_data()
    if len(body) < 1024:
        return response
    response.set_data(gzipped if gzipped is not None else _gzip(body))
    response.headers["Content-Encoding"] = "gzip"
    return response


#: Stored response headers that are per request, or recomputed on the way out.
_PER_REQUEST = {"set-cookie", "content-length", "content-encoding", "x-page-cache", "x-request-id", "date"}


def _takes_gzip(value: str, req) -> bool:
    """``"gzip" in req.accept_encodings`` without parsing the usual plain list (``gzip, deflate, br``)."""
    if "q=" in value or "*" in value:
        return "gzip" in req.accept_encodings
    return "gzip" in (part.strip().lower() for part in value.split(","))


class QuickHits:
    """WSGI middleware: a guest's GET found in the page cache is answered before Flask builds a request.

    Same eligibility, key and answer as ``_serve_from_cache`` (which remains the path for
    everything else); the stored headers include the security headers the app added. The
    generations are read per request here too, so an invalidation is seen at once.
    """

    def __init__(self, app: Flask, wsgi_app) -> None:
        self.app, self.wsgi_app = app, wsgi_app
        self.access = logging.getLogger("blog.access")
        self._backend = None
        self._static = app.static_url_path + "/"
        #: (script name, path, method, host) -> (endpoint, view args) of a cacheable page, or None.
        self._routes: dict[tuple[str, str, str, str], tuple[str, dict] | None] = {}

    def _match(self, environ) -> tuple[str, dict] | None:
        """The URL map's answer for this request, remembered per path (the map is fixed once the
        app runs; bounded, so odd URLs cannot grow it without limit)."""
        key = (environ.get("SCRIPT_NAME", ""), environ.get("PATH_INFO", ""), environ["REQUEST_METHOD"],
               environ.get("HTTP_HOST", ""))
        try:
            return self._routes[key]
        except KeyError:
            pass
        try:
            endpoint, view_args = self.app.url_map.bind_to_environ(environ).match()
            found = (endpoint, view_args) if endpoint in CACHEABLE else None
        except HTTPException:
            found = None
        if len(self._routes) >= 4096:
            self._routes.clear()
        self._routes[key] = found
        return found

    @property
    def backend(self):
        """The cache backend Flask-Caching made for this app (``cache.cache`` without an app context)."""
        if self._backend is None:
            from blog.extensions import cache

            self._backend = self.app.extensions["cache"][cache]
        return self._backend

    def __call__(self, environ, start_response):
        try:
            answer = self._answer(environ)
        except Exception:  # anything odd (cache down, unusual request): the app decides
            self.app.logger.warning("page cache quick path skipped", exc_info=True)
            answer = None
        if answer is None:
            return self.wsgi_app(environ, start_response)
        status, headers, body = answer
        start_response(status, headers)
        return [body]

    def _answer(self, environ):
        started = time.perf_counter()
        config = self.app.config
        if not config["PAGE_CACHE"] or environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return None
        if environ.get("PATH_INFO", "").startswith(self._static):
            return None
        req = WerkzeugRequest(environ)
        if current.brings_credentials(req, config):
            return None
        matched = self._match(environ)
        if matched is None:
            return None
        endpoint, view_args = matched
        # What ``request.headers.get(name, "")`` reads on the Flask side (``EnvironHeaders``).
        variant = [f"{name}={environ.get(key, '')}" for name, key in _KEY_ENVIRON]
        # This process's copy, or one round trip straight to the cache backend (no app context to
        # push and pop for a hit): the entry and the generations it must have been rendered under.
        _, _, entry = pagecache.lookup(req.full_path, variant, [pagecache.SITE, *CACHEABLE[endpoint](view_args)],
                                       backend=self.backend, near=self.app.extensions.get("pagecache.near"))
        if entry is None:
            return None
        if entry.post_id is not None:  # counted in this process's memory: no app context to push
            posts.count_view(entry.post_id, user_agent=environ.get("HTTP_USER_AGENT", ""), app=self.app)
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        headers = [*entry.extra.get("headers", ()),
                   ("X-Request-ID", logs.request_id(incoming))]
        if not entry.extra.get("headers"):
            return None  # stored before the quick path existed: let the app answer
        if ("HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MODIFIED_SINCE" in environ) and not is_resource_modified(
                environ, etag=unquote_etag(entry.etag)[0],
                last_modified=datetime.fromtimestamp(int(entry.last_modified), UTC)):
            status, body = "304 NOT MODIFIED", b""
            headers = [(k, v) for k, v in headers if k != "Content-Type"]
        else:
            status = "200 OK"  # only 200s are stored
            if _takes_gzip(environ.get("HTTP_ACCEPT_ENCODING", ""), req):
                body = entry.body
                headers.append(("Content-Encoding", "gzip"))
            else:
                body = gzip.decompress(entry.body)
            headers += [("Content-Length", str(len(body))), ("X-Page-Cache", "hit")]
            if environ["REQUEST_METHOD"] == "HEAD":
                body = b""
        self.access.info("%s %s %s %.1fms", environ["REQUEST_METHOD"], req.full_path.rstrip("?"), status[:3],
                         (time.perf_counter() - started) * 1000)
        return status, headers, body


class _LazySessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, minus the signing set-up for requests that bring no cookie."""

    def open_session(self, app: Flask, request):  # type: ignore[override]
        if app.secret_key and request.cookies.get(self.get_cookie_name(app)) is None:
            return self.session_class()
        return super().open_session(app, request)


def register(app: Flask) -> None:
    """Put the page cache in front of the views and the caching headers on every response."""
    # First of the before-request hooks: a cached guest page needs none of the others (rate
    # limits apply to writes and sign-ins, never to these GETs).
    hooks = app.before_request_funcs.setdefault(None, [])
    hooks.insert(0, _serve_from_cache)
    check = limiter._check_request_limit  # registered by limiter.init_app: replaced in place, order kept
    hooks[hooks.index(check)] = _rate_limit_except_reading_pages(check)
    app.after_request(_finish)
    app.session_interface = _LazySessionInterface()
    app.wsgi_app = QuickHits(app, app.wsgi_app)  # type: ignore[method-assign]
