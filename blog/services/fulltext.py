"""Full-text search over published posts: SQLite FTS5 or PostgreSQL ``tsvector``, one API.

The index holds one row per *published* post in a table called ``post_search``: its title,
its tag names and its summary plus body as plain text (from the rendered HTML). On SQLite
it is an FTS5 table (``porter unicode61``, rowid = post id); on PostgreSQL a plain table
with a generated, weighted ``tsvector`` (title A, tags B, text C) and a GIN index. Migration
0005 creates it (and ``db.create_all()`` too, through the metadata events below); the
receivers in ``blog/handlers.py`` keep it current on every save, publish, unpublish and
delete; ``flask reindex`` rebuilds it.

What people type is parsed once, like a web search box (``"quoted phrase"``, ``-exclude``,
``OR``, ``prefix*``, and the last word matched as a prefix too while it is being typed),
then compiled for the database in use: the user's text never reaches the FTS5 or tsquery
parser as syntax, so no input can make a search fail.
"""
from __future__ import annotations

import html
import logging
import math
import re
import unicodedata
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field

from markupsafe import Markup
from markupsafe import escape
from sqlalchemy import Column
from sqlalchemy import ColumnElement
from sqlalchemy import DDL
from sqlalchemy import Integer
from sqlalchemy import MetaData
from sqlalchemy import Select
from sqlalchemy import Table
from sqlalchemy import Text
from sqlalchemy import and_
from sqlalchemy import bindparam
from sqlalchemy import column
from sqlalchemy import delete
from sqlalchemy import event
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import literal_column
from sqlalchemy import not_
from sqlalchemy import select
from sqlalchemy import table
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm import selectinload

from blog.extensions import db
from blog.models import Category
from blog.models import Post
from blog.models import Tag
from blog.models import User
from blog.models import post_tags

log = logging.getLogger(__name__)

#: Longer input is cut here (a search box, not a document); the words past MAX_TERMS are ignored.
MAX_QUERY_LENGTH = 256
MAX_TERMS = 12
MAX_WORD_LENGTH = 64
#: The last word counts as a prefix too ("pyth" finds "python") once it has this many characters.
IMPLICIT_PREFIX_MIN = 3
MAX_PER_PAGE = 100
#: Pages past this are "beyond the end" without asking the database to skip that many rows.
MAX_PAGE = 1000

# Highlight sentinels: control characters no text contains (they are stripped from what is
# indexed and from queries). Snippets come back from the database with them around each
# match; the rest is escaped, then only they become <mark> tags.
_START, _STOP = "\x02", "\x03"
_SENTINELS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")

#: Column weights. FTS5 bm25(): title, tags, text. PostgreSQL ts_rank_cd(): {D, C, B, A} with
#: title A, tags B, text C, so one title match outweighs many mentions in the body.
_BM25_WEIGHTS = (10.0, 4.0, 1.0)
_PG_WEIGHTS = "{0.1, 0.1, 0.4, 1.0}"
_SNIPPET_WORDS = 30
_PG_HEADLINE = (f'StartSel="{_START}", StopSel="{_STOP}", MaxWords={_SNIPPET_WORDS}, MinWords=15, '
                'ShortWord=3, MaxFragments=2, FragmentDelimiter=" … "')
_PG_TITLE = f'StartSel="{_START}", StopSel="{_STOP}", HighlightAll=true'


# --- the index structures ---------------------------------------------------------------------
# Migration 0005 holds a frozen copy of these statements; here they serve db.create_all() (tests).

SCHEMA = {
    "sqlite": [
        "CREATE VIRTUAL TABLE IF NOT EXISTS post_search USING fts5("
        "title, tags, text, tokenize='porter unicode61 remove_diacritics 2', prefix='2 3')",
        # Deleting a post any way at all (its author's account, say) takes its row along, so a
        # recycled rowid can never show a stale document.
        "CREATE TRIGGER IF NOT EXISTS post_search_post_deleted AFTER DELETE ON posts "
        "BEGIN DELETE FROM post_search WHERE rowid = old.id; END",
    ],
    "postgresql": [
        "CREATE TABLE IF NOT EXISTS post_search ("
        " post_id integer PRIMARY KEY REFERENCES posts (id) ON DELETE CASCADE,"
        " title text NOT NULL DEFAULT '', tags text NOT NULL DEFAULT '', text text NOT NULL DEFAULT '',"
        " document tsvector GENERATED ALWAYS AS ("
        "  setweight(to_tsvector('english', title), 'A') ||"
        "  setweight(to_tsvector('english', tags), 'B') ||"
        "  setweight(to_tsvector('english', text), 'C')) STORED)"
        # Rows stay in the table (compressed) rather than in TOAST: PostgreSQL then sees what a
        # sequential scan really costs, and uses the GIN index (2 ms, not 25, for 1,000 matches).
        " WITH (toast_tuple_target = 8160)",
        "CREATE INDEX IF NOT EXISTS ix_post_search_document ON post_search USING gin (document)",
    ],
}
DROP = {
    "sqlite": ["DROP TRIGGER IF EXISTS post_search_post_deleted", "DROP TABLE IF EXISTS post_search"],
    "postgresql": ["DROP TABLE IF EXISTS post_search"],
}


def _run(statements: dict[str, list[str]], connection) -> None:
    for statement in statements.get(connection.dialect.name, []):
        connection.execute(DDL(statement))


# create_all()/drop_all() build and remove the index with the tables (it is not a model).
event.listen(db.metadata, "after_create", lambda target, connection, **kw: _run(SCHEMA, connection))
event.listen(db.metadata, "before_drop", lambda target, connection, **kw: _run(DROP, connection))


def include_name(name: str | None, type_: str, parent_names: dict) -> bool:
    """Alembic hook: leave the search index (and FTS5's shadow tables) out of model comparisons."""
    return not (type_ == "table" and name is not None and name.startswith("post_search"))


_fts = table("post_search", column("rowid", Integer), column("title"), column("tags"), column("text"))
_pg = Table("post_search", MetaData(), Column("post_id", Integer, primary_key=True), Column("title", Text),
            Column("tags", Text), Column("text", Text), Column("document", TSVECTOR))


def _dialect() -> str:
    return db.engine.dialect.name


# --- keeping it current -------------------------------------------------------------------------

_BLOCK_TAGS = re.compile(
    r"</?(?:p|div|h[1-6]|li|ul|ol|pre|blockquote|table|thead|tbody|tfoot|tr|td|th|dl|dt|dd|br|hr|img|sup)\b[^>]*>",
    re.I)
_TAGS = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"\s+")


def plain_text(rendered: str) -> str:
    """The words of sanitised post HTML: tags dropped (blocks keep a space), entities decoded."""
    text = _TAGS.sub("", _BLOCK_TAGS.sub(" ", rendered or ""))
    return html.unescape(text).replace("\u21a9\ufe0e", " ").replace("\u21a9", " ")  # footnote back-links


#: Follows every "<" in indexed text. PostgreSQL's parser takes "<b>" or "<script>...</script>" in
#: plain text for markup and skips it (a post about HTML would lose its words); this character
#: breaks that up, is a separator to FTS5 too, and is removed again from snippets.
_NOT_A_TAG = "\x01"


def _clean(value: str) -> str:
    return _SPACES.sub(" ", _SENTINELS.sub(" ", value or "")).strip().replace("<", "<" + _NOT_A_TAG)


def _document(post_id: int, title: str, tags: list[str], summary: str, rendered: str) -> dict:
    key = "rowid" if _dialect() == "sqlite" else "post_id"
    return {key: post_id, "title": _clean(title), "tags": _clean(" ".join(tags)),
            "text": _clean(f"{summary or ''}\n{plain_text(rendered)}")}


def _delete_rows(ids) -> None:
    if _dialect() == "sqlite":
        db.session.execute(delete(_fts).where(_fts.c.rowid.in_(ids)))
    else:
        db.session.execute(delete(_pg).where(_pg.c.post_id.in_(ids)))


def _insert_rows(rows: list[dict]) -> None:
    if rows:
        db.session.execute(insert(_fts if _dialect() == "sqlite" else _pg), rows)


def index(post: Post) -> None:
    """Put ``post`` in the index if it is published, else take it out; in the caller's transaction."""
    _delete_rows([post.id])
    if post.status == "published":
        _insert_rows([_document(post.id, post.title, [tag.name for tag in post.tags], post.summary, post.html)])


def unindex(post_id: int) -> None:
    """Take a post out of the index (in the caller's transaction)."""
    _delete_rows([post_id])


def indexable_count() -> int:
    """How many posts ``reindex`` will index (the published ones)."""
    return db.session.scalar(select(func.count()).select_from(Post).where(Post.status == "published")) or 0


def reindex(progress: Callable[[int], None] | None = None, batch: int = 500) -> int:
    """Rebuild the whole index from the published posts, in one transaction; returns how many.

    Readers keep seeing the old index until the commit. ``progress(n)`` after each batch.
    """
    advance = progress or (lambda n: None)
    db.session.execute(delete(_fts) if _dialect() == "sqlite" else delete(_pg))
    ids = list(db.session.scalars(select(Post.id).where(Post.status == "published").order_by(Post.id)))
    for start in range(0, len(ids), batch):
        chunk = ids[start:start + batch]
        names: dict[int, list[str]] = {}
        for post_id, name in db.session.execute(
                select(post_tags.c.post_id, Tag.name).join(Tag, Tag.id == post_tags.c.tag_id)
                .where(post_tags.c.post_id.in_(chunk)).order_by(Tag.name)):
            names.setdefault(post_id, []).append(name)
        rows = db.session.execute(select(Post.id, Post.title, Post.summary, Post.html).where(Post.id.in_(chunk)))
        _insert_rows([_document(row.id, row.title, names.get(row.id, []), row.summary, row.html) for row in rows])
        advance(len(chunk))
    if _dialect() == "sqlite":
        # Merge the index's segments into one b-tree: fewer pages to read per query.
        db.session.execute(text("INSERT INTO post_search(post_search) VALUES ('optimize')"))
    db.session.commit()
    return len(ids)


# --- what people type ---------------------------------------------------------------------------

#: One piece of the query: an optional minus, then a quoted phrase (closing quote optional) or a word.
_PIECE = re.compile(r'(?P<neg>-?)(?:"(?P<phrase>[^"]*)"?(?P<star>\*?)|(?P<word>[^\s"]+))')
#: The tokens both back ends index: runs of letters and digits (punctuation and "_" separate).
_TOKEN = re.compile(r"[^\W_]+")


#: English suffixes the stemmers (Porter in FTS5, Snowball in PostgreSQL) strip from indexed words.
_SUFFIXES = ("ational", "tional", "ization", "ation", "ator", "alism", "iveness", "fulness", "ousness",
             "aliti", "iviti", "biliti", "ement", "ment", "ence", "ance", "able", "ible", "ness", "ing",
             "ies", "ive", "ize", "ous", "ent", "ant", "ism", "ate", "iti", "ful", "ion", "al", "er", "ic",
             "ed", "es", "ly")
#: The shortest stem a half-typed word is cut back to.
_MIN_STEM = 4


@dataclass(frozen=True)
class Term:
    """A word, or a phrase of adjacent words; ``prefix``: the last word may continue."""

    words: tuple[str, ...]
    prefix: bool = False
    #: Typed last and still growing: match it exactly *or* as a prefix (exact matches rank higher).
    growing: bool = False

    def prefixes(self) -> list[str]:
        """What a prefix term looks for: itself, and the stems a half-typed word may be heading for.

        The index holds stems ("pagination" is stored as "pagin"), so "paginat*" alone would miss
        it: a word that ends in the start of a suffix ("-at" of "-ation") is also tried without it.
        """
        text = " ".join(self.words)
        if len(self.words) > 1:
            return [text]
        found = [text]
        for suffix in _SUFFIXES:
            for cut in range(1, len(suffix)):
                stem = text[:-cut]
                if text.endswith(suffix[:cut]) and len(stem) >= _MIN_STEM and stem not in found:
                    found.append(stem)
        return found

    def __str__(self) -> str:
        text = " ".join(self.words)
        text = f'"{text}"' if len(self.words) > 1 else text
        return text + ("*" if self.prefix or self.growing else "")


@dataclass(frozen=True)
class Query:
    """Groups that must all match (each group: any of its terms), and terms that must not."""

    groups: tuple[tuple[Term, ...], ...] = ()
    excluded: tuple[Term, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.groups)

    def __str__(self) -> str:
        parts = [" OR ".join(map(str, group)) for group in self.groups]
        return " ".join(parts + [f"-{term}" for term in self.excluded])


def parse(typed: str) -> Query:
    """Read a search box: ``"exact phrase"``, ``-exclude``, ``a OR b``, ``pref*``; anything else is words.

    OR binds tighter than the implicit AND (``python OR rust testing`` wants testing and either).
    A last bare word with no space after it is still being typed: it matches as a prefix too.
    Never fails: symbols, operators alone and unbalanced quotes just contribute no words.
    """
    text_ = unicodedata.normalize("NFC", _safe(typed or ""))
    groups: list[list[Term]] = []
    excluded: list[Term] = []
    pending_or = negate_next = False
    growing = None  # (group, position) of a last bare word that may still be growing
    for match in _PIECE.finditer(text_):
        word = match.group("word")
        if word in ("OR", "|"):
            pending_or = bool(groups)
            continue
        if word in ("AND", "NOT"):
            negate_next = word == "NOT"
            continue
        words = tuple(token[:MAX_WORD_LENGTH] for token in _TOKEN.findall(word or match.group("phrase")))
        if not words:
            continue
        term = Term(words, prefix=word.endswith("*") if word else bool(match.group("star")))
        growing = None
        if match.group("neg") or negate_next:
            excluded.append(term)
        else:
            if pending_or:
                groups[-1].append(term)
            else:
                groups.append([term])
            if word and len(words) == 1 and not term.prefix and match.end() == len(text_):
                growing = (groups[-1], len(groups[-1]) - 1)
        negate_next = pending_or = False
        if len(excluded) + sum(map(len, groups)) == MAX_TERMS:
            break
    if growing and len(growing[0][growing[1]].words[0]) >= IMPLICIT_PREFIX_MIN:
        group, position = growing
        group[position] = Term(group[position].words, growing=True)
    return Query(tuple(tuple(group) for group in groups), tuple(excluded))


# --- the two back ends -------------------------------------------------------------------------

def _fts5_string(text: str) -> str:
    # Every word is letters and digits only, and quoted: FTS5 sees strings, never operators.
    return '"' + text.replace('"', '""') + '"'


def _fts5_term(term: Term) -> str:
    if not (term.prefix or term.growing):
        return _fts5_string(" ".join(term.words))
    options = ([_fts5_string(" ".join(term.words))] if term.growing else []) + [
        _fts5_string(prefix) + "*" for prefix in term.prefixes()]
    return f"({' OR '.join(options)})" if len(options) > 1 else options[0]


def fts5_expression(query: Query) -> str:
    """``query`` as an FTS5 MATCH expression."""
    expression = " AND ".join(f"({' OR '.join(map(_fts5_term, group))})" if len(group) > 1 else _fts5_term(group[0])
                              for group in query.groups)
    if query.excluded:
        expression = f"({expression})" + "".join(f" NOT {_fts5_term(term)}" for term in query.excluded)
    return expression


def _tsquery_term(term: Term) -> ColumnElement:
    words = " ".join(term.words)
    exact = func.websearch_to_tsquery("english", f'"{words}"' if len(term.words) > 1 else words)
    if not (term.prefix or term.growing):
        return exact
    combined = exact if term.growing else None
    for prefix in term.prefixes():
        # to_tsquery syntax, from words that are letters and digits only: "full <-> tex:*".
        part = func.to_tsquery("english", " <-> ".join(prefix.split()) + ":*")
        combined = part if combined is None else combined.op("||")(part)
    return combined


def _tsquery_any(terms) -> ColumnElement:
    combined = None
    for term in terms:
        part = _tsquery_term(term)
        combined = part if combined is None else combined.op("||")(part)
    return combined


def tsquery(query: Query) -> tuple[ColumnElement, ColumnElement | None]:
    """``query`` as PostgreSQL tsquery expressions: what must match, and what must not (or None)."""
    wanted = None
    for group in query.groups:
        part = _tsquery_any(group)
        wanted = part if wanted is None else wanted.op("&&")(part)
    return wanted, (_tsquery_any(query.excluded) if query.excluded else None)


# --- searching -----------------------------------------------------------------------------------

@dataclass
class SearchPage:
    """One page of ranked results; ``snippet(post)`` and ``title(post)`` are highlighted, HTML-safe."""

    items: list[Post]
    total: int
    page: int
    per_page: int
    query: str
    _snippets: dict[int, str] = field(default_factory=dict, repr=False)
    _titles: dict[int, str] = field(default_factory=dict, repr=False)

    @property
    def pages(self) -> int:
        return math.ceil(self.total / self.per_page) if self.total else 0

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int | None:
        return self.page - 1 if self.has_prev else None

    @property
    def next_num(self) -> int | None:
        return self.page + 1 if self.has_next else None

    @property
    def beyond_end(self) -> bool:
        """A page past the last one was asked for (there are results, just not here)."""
        return not self.items and self.total > 0

    def iter_pages(self, *, left_edge: int = 2, left_current: int = 2, right_current: int = 4,
                   right_edge: int = 2) -> Iterator[int | None]:
        """Page numbers for the pagination macro, ``None`` for a gap (as Flask-SQLAlchemy's)."""
        pages_end = self.pages + 1
        if pages_end == 1:
            return
        left_end = min(1 + left_edge, pages_end)
        yield from range(1, left_end)
        if left_end == pages_end:
            return
        mid_start = max(left_end, self.page - left_current)
        mid_end = min(self.page + right_current + 1, pages_end)
        if mid_start - left_end > 0:
            yield None
        yield from range(mid_start, mid_end)
        if mid_end == pages_end:
            return
        right_start = max(mid_end, pages_end - right_edge)
        if right_start - mid_end > 0:
            yield None
        yield from range(right_start, pages_end)

    def snippet(self, post: Post) -> Markup:
        """The passage of ``post`` that matched, matches in <mark>; everything else escaped."""
        return _marked(self._snippets.get(post.id, ""))

    def title(self, post: Post) -> Markup:
        """``post``'s title with the matching words in <mark>, escaped like the snippet."""
        return _marked(self._titles.get(post.id) or post.title)


def _marked(raw: str) -> Markup:
    """Escape ``raw`` and turn the sentinels around matches (only those) into balanced <mark> tags."""
    out: list[str] = []
    open_ = False
    for part in re.split(f"([{_START}{_STOP}])", (raw or "").replace(_NOT_A_TAG, "")):
        if part == _START:
            if not open_:
                out.append("<mark>")
            open_ = True
        elif part == _STOP:
            if open_:
                out.append("</mark>")
            open_ = False
        else:
            out.append(str(escape(part)))
    if open_:
        out.append("</mark>")
    return Markup("".join(out))


def search(q: str, *, page: int = 1, per_page: int = 10, tag: str | None = None, category: str | None = None,
           author: str | None = None) -> SearchPage:
    """Published posts matching ``q``, best first, optionally with a tag, in a category (and its
    sub-categories) or by an author (slugs and username).

    An empty query, or one with nothing to look for (operators, symbols, only exclusions), runs no
    SQL and finds nothing. A page past the end has no items but says the total (so does any page
    past MAX_PAGE). Never raises for any ``q`` or filter value.
    One statement for the page (and the total), one for the tags; one more past the last page.
    """
    try:
        page = max(1, int(page))
        per_page = min(max(1, int(per_page)), MAX_PER_PAGE)
    except (TypeError, ValueError, OverflowError):
        page, per_page = 1, 10
    query = parse(q)
    result = SearchPage([], 0, page, per_page, str(query))
    if not query:
        return result
    backend = _Sqlite(query) if _dialect() == "sqlite" else _Postgres(query)
    where = _filters(tag, category, author)
    try:
        if page <= MAX_PAGE:
            rows = db.session.execute(backend.page(where, page, per_page)).all()
            for post, total, snippet, title in rows:
                result.items.append(post)
                result.total = total
                result._snippets[post.id], result._titles[post.id] = snippet, title
        if not result.items and page > 1:  # past the end: say how many there are, for the page
            result.total = db.session.scalar(backend.count(where)) or 0
    except DBAPIError as exc:
        # Only a query the database could not parse ends here, and that is a bug in the compiler
        # above, not the user's fault: log it and answer "no results". Anything else propagates.
        if not _is_query_error(exc):
            raise
        db.session.rollback()
        log.exception("search query could not be run: %r", str(query))
        return SearchPage([], 0, page, per_page, str(query))
    return result


def _is_query_error(exc: DBAPIError) -> bool:
    message = str(exc.orig).lower()
    return "fts5" in message or "tsquery" in message


def _safe(value) -> str:
    """``value`` as text any database accepts: no NUL or control characters, no lone surrogates."""
    return _SENTINELS.sub("", str(value)).encode("utf-8", "replace").decode("utf-8")[:MAX_QUERY_LENGTH]


def _filters(tag: str | None, category: str | None, author: str | None) -> list[ColumnElement]:
    """Conditions on Post for the filters, resolved inside the search statement (no extra queries)."""
    where = [Post.status == "published"]
    if tag:
        where.append(Post.tags.any(Tag.slug == _safe(tag)))
    if category:
        tree = select(Category.id).where(Category.slug == _safe(category)).cte("search_categories", recursive=True)
        tree = tree.union_all(select(Category.id).where(Category.parent_id == tree.c.id))
        where.append(Post.category_id.in_(select(tree.c.id)))
    if author:
        where.append(Post.author.has(User.username == _safe(author)))
    return where


class _Backend:
    """Builds the two statements a search needs; subclasses say how to match, rank and highlight."""

    def hits(self, where: list[ColumnElement]) -> Select:
        """(post_id, score) of every published post that matches and passes the filters."""
        raise NotImplementedError

    def matched(self) -> tuple[list, ColumnElement, ColumnElement, list[ColumnElement]]:
        """(joins onto Post, snippet, title, WHERE) to highlight the posts of one page."""
        raise NotImplementedError

    #: True when a lower score is better (bm25), False when higher is (ts_rank_cd).
    ascending = False

    def count(self, where: list[ColumnElement]) -> Select:
        hits = self.hits(where).subquery()
        return select(func.count()).select_from(hits)

    def page(self, where: list[ColumnElement], number: int, per_page: int) -> Select:
        hits = self.hits(where).subquery("hits")
        order = hits.c.score.asc() if self.ascending else hits.c.score.desc()
        ranked = (select(hits.c.post_id, hits.c.score, func.count().over().label("total"))
                  .order_by(order, hits.c.post_id.desc())  # equal scores: the newer post first
                  .limit(per_page).offset((number - 1) * per_page).subquery("ranked"))
        source, snippet, title, conditions = self.matched()
        outer = ranked.c.score.asc() if self.ascending else ranked.c.score.desc()
        statement = (select(Post, ranked.c.total, snippet.label("snippet"), title.label("title_marked"))
                     .join(ranked, ranked.c.post_id == Post.id))
        for target, onclause in source:
            statement = statement.join(target, onclause)
        return (statement.where(*conditions)
                .options(joinedload(Post.author), joinedload(Post.category), selectinload(Post.tags))
                .order_by(outer, Post.id.desc()))


class _Sqlite(_Backend):
    ascending = True  # bm25() is lower for better matches

    def __init__(self, query: Query) -> None:
        self.match = literal_column("post_search").op("MATCH")(bindparam("fts_query", fts5_expression(query)))

    def hits(self, where: list[ColumnElement]) -> Select:
        score = func.bm25(literal_column("post_search"), *_BM25_WEIGHTS)
        # The MATCH must drive: joined to posts, SQLite walks the status index and runs the
        # full-text query once per post. A correlated EXISTS checks each match instead.
        # (A subquery of its own, too: bm25() must be computed where the MATCH runs, before
        # the window function counts the rows; SQLite refuses the two in one SELECT.)
        post = select(Post.id).where(Post.id == _fts.c.rowid, *where)
        return select(_fts.c.rowid.label("post_id"), score.label("score")).where(self.match, post.exists())

    def matched(self):
        snippet = func.snippet(literal_column("post_search"), 2, _START, _STOP, "…", _SNIPPET_WORDS)
        title = func.highlight(literal_column("post_search"), 0, _START, _STOP)
        return [(_fts, _fts.c.rowid == Post.id)], snippet, title, [self.match]


class _Postgres(_Backend):
    def __init__(self, query: Query) -> None:
        self.wanted, self.unwanted = tsquery(query)

    def _match(self, document: ColumnElement) -> ColumnElement:
        match = document.op("@@", is_comparison=True)(self.wanted)
        if self.unwanted is None:
            return match
        return and_(match, not_(document.op("@@", is_comparison=True)(self.unwanted)))

    def hits(self, where: list[ColumnElement]) -> Select:
        weights = literal_column(f"'{_PG_WEIGHTS}'::float4[]")
        score = func.ts_rank_cd(weights, _pg.c.document, self.wanted, 1)
        # Ranked where the documents are read, in a CTE the planner may not fold into the join:
        # otherwise it hashes every matching document (kilobytes each) to join them to posts
        # first, and ranks after; twice as slow with 2,000 matches.
        scored = (select(_pg.c.post_id, score.label("score")).where(self._match(_pg.c.document))
                  .cte("scored").prefix_with("MATERIALIZED"))
        return (select(scored.c.post_id, scored.c.score)
                .join(Post, Post.id == scored.c.post_id).where(*where))

    def matched(self):
        search = _pg.alias("matched")
        snippet = func.ts_headline("english", search.c.text, self.wanted, _PG_HEADLINE)
        title = func.ts_headline("english", search.c.title, self.wanted, _PG_TITLE)
        return [(search, search.c.post_id == Post.id)], snippet, title, []
