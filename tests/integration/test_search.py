"""Full-text search: ranking, stemming, the search-box syntax, a fresh index, filters, any input
answering 200, escaped highlights, and a fixed number of queries. Runs on SQLite (FTS5) and, with
TEST_DATABASE_URL, on PostgreSQL (tsvector), with the same expectations.
"""
from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade
from flask_migrate import upgrade
from sqlalchemy import select
from sqlalchemy import text

from blog.extensions import db
from blog.models import Category
from blog.models import Post
from blog.models import post_tags
from blog.models import Tag
from blog.models import User
from blog.models import utcnow
from blog.services import demo
from blog.services import fulltext
from blog.services import pagecache
from blog.services import posts
from tests.conftest import HX
from tests.factories import make_post
from tests.factories import make_user
from tests.factories import wipe_content


def write(author: User, title: str, body: str = "Nothing much to say.", *, status: str = "published",
          tags: str = "", summary: str = "", category_id: int | None = None, **fields) -> Post:
    """A post saved the way the editor saves it (so the signals keep the index)."""
    data = posts.PostInput(title=title, body=body, summary=summary, tags=tags, status=status,
                           category_id=category_id, **fields)
    return posts.save(data, by=author)


def edit(post: Post, **changes) -> Post:
    """Save ``post`` again with ``changes`` (the editor sends every field)."""
    fields = {"title": post.title, "body": post.body, "summary": post.summary, "status": post.status,
              "tags": [tag.name for tag in post.tags], "category_id": post.category_id}
    fields.update(changes)
    return posts.save(posts.PostInput(**fields), by=post.author, post=post)


def found(q: str, **filters) -> list[str]:
    return [post.title for post in fulltext.search(q, **filters).items]


def index_rows() -> int:
    return db.session.scalar(text("SELECT count(*) FROM post_search"))


@pytest.fixture
def author(app) -> User:
    return make_user(role="author", username="ada")


# --- matching and ranking ----------------------------------------------------------------------

def test_a_title_match_outranks_matches_in_the_body(author):
    write(author, "Notes from the week", "Caching came up. We talked caching again, and caching once more.")
    write(author, "Caching in practice", "Mostly about other things.")
    write(author, "Unrelated", "Nothing here.")
    assert found("caching") == ["Caching in practice", "Notes from the week"]


def test_a_tag_match_outranks_a_body_match(author):
    write(author, "First", "A note that mentions sqlite in passing.")
    write(author, "Second", "A note about storage.", tags="SQLite")
    assert found("sqlite") == ["Second", "First"]


def test_stemming_running_finds_run_and_runs(author):
    write(author, "Morning habits", "I run every morning before work.")
    write(author, "Background jobs", "The worker runs each task once.")
    write(author, "Walking", "Slow and steady.")
    assert sorted(found("running")) == ["Background jobs", "Morning habits"]
    assert sorted(found("runs ")) == ["Background jobs", "Morning habits"]


def test_a_quoted_phrase_needs_the_words_side_by_side(author):
    write(author, "Side by side", "Full text search is built in.")
    write(author, "Scattered", "Search the text in full.")
    assert found('"full text search"') == ["Side by side"]
    assert sorted(found("full text search")) == ["Scattered", "Side by side"]


def test_a_minus_excludes_posts_with_that_word(author):
    write(author, "Flask notes", "Python with Flask.")
    write(author, "Django notes", "Python with Django.")
    assert found("python -django") == ["Flask notes"]
    assert found('python -"with flask"') == ["Django notes"]
    assert found("python NOT flask") == ["Django notes"]


def test_or_finds_posts_with_either_word(author):
    write(author, "Flask notes", "Python with Flask.")
    write(author, "Django notes", "Python with Django.")
    write(author, "Rust notes", "Borrowing and lifetimes.")
    assert sorted(found("flask OR django")) == ["Django notes", "Flask notes"]
    # OR binds tighter than the implicit AND, as in a web search box.
    assert found("flask OR lifetimes borrowing") == ["Rust notes"]


def test_prefixes_match_with_a_star_and_while_the_last_word_is_typed(author):
    write(author, "Python tips", "Decorators and generators.")
    write(author, "Pagination done right", "Keyset beats offset.")
    assert found("pyth*") == ["Python tips"]
    assert found("pyth") == ["Python tips"]  # still typing: the last word is a prefix too
    assert found("pyth ") == []  # a space ends the word
    # The index holds stems ("pagin"): a half-typed word past the stem still finds it.
    assert found("paginat") == found("pagination") == ["Pagination done right"]
    assert found("generat") == ["Python tips"]


def test_only_published_posts_are_found(author):
    write(author, "Published kiwi", "kiwi")
    write(author, "Draft kiwi", "kiwi", status="draft")
    write(make_user(role="reader"), "Pending kiwi", "kiwi", status="published")  # a reader's post waits
    write(author, "Scheduled kiwi", "kiwi", status="scheduled", publish_at=utcnow() + timedelta(days=1))
    write(author, "Archived kiwi", "kiwi", status="archived")
    assert found("kiwi") == ["Published kiwi"]
    fulltext.reindex()
    assert found("kiwi") == ["Published kiwi"]


def test_the_result_page_carries_everything_a_list_needs(author):
    post = write(author, "Loaded kiwi", "kiwi", tags="fruit, green")
    page = fulltext.search("kiwi")
    assert (page.total, page.page, page.per_page, page.pages, page.query) == (1, 1, 10, 1, "kiwi*")
    assert page.items == [post]
    assert page.items[0].author.username == "ada" and [tag.name for tag in page.items[0].tags] == ["fruit", "green"]


# --- the index stays current ---------------------------------------------------------------------

def test_an_edit_replaces_the_indexed_words(author):
    post = write(author, "Apples", "Crisp apples.")
    edit(post, title="Pears", body="Soft pears.")
    assert found("apples") == [] and found("pears") == ["Pears"]


def test_unpublishing_and_republishing_take_a_post_out_and_back(author):
    post = write(author, "Seasonal figs", "Figs in autumn.")
    edit(post, status="draft")
    assert found("figs") == []
    edit(post, status="published")
    assert found("figs") == ["Seasonal figs"]
    edit(post, status="archived")
    assert found("figs") == []


def test_deleting_a_post_removes_it(author):
    post = write(author, "Temporary quince", "Quince.")
    posts.delete(post, by=author)
    assert found("quince") == [] and index_rows() == 0


def test_deleting_an_author_account_removes_their_posts_from_the_index(author):
    write(author, "Orphaned quince", "Quince.")
    db.session.execute(User.__table__.delete().where(User.id == author.id))  # posts go by ON DELETE CASCADE
    db.session.commit()
    assert index_rows() == 0 and found("quince") == []


def test_tag_changes_are_searchable(author):
    post = write(author, "Tagged", "Plain body.", tags="oldtag")
    assert found("oldtag") == ["Tagged"]
    edit(post, tags=["newtag"])
    assert found("oldtag") == [] and found("newtag") == ["Tagged"]


def test_a_scheduled_post_is_found_once_it_goes_live(author):
    post = write(author, "Future plums", "Plums.", status="scheduled", publish_at=utcnow() + timedelta(minutes=5))
    assert found("plums") == []
    posts.publish_due(now=post.published_at + timedelta(seconds=1))
    assert found("plums") == ["Future plums"]


def test_a_failed_save_leaves_the_index_as_it_was(author, monkeypatch):
    post = write(author, "Steady", "Unchanged words.")

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(db.session, "commit", fail)
    with pytest.raises(RuntimeError):
        edit(post, title="Changed", body="Different words.")
    monkeypatch.undo()
    db.session.rollback()
    assert found("unchanged") == ["Steady"] and found("different") == []


def test_reindex_rebuilds_from_published_posts(app, runner, author):
    make_post(author, title="Bulk loaded lime", body="Lime.")  # inserted past the signals
    make_post(author, title="Draft lime", body="Lime.", status="draft")
    assert found("lime") == []
    result = runner.invoke(args=["reindex"])
    assert result.exit_code == 0, result.output
    assert "Indexed 1 published posts" in result.output
    assert found("lime") == ["Bulk loaded lime"]


def test_seed_db_leaves_the_demo_posts_searchable(runner):
    result = runner.invoke(args=["seed-db", "--posts", "12", "--comments", "0", "--users", "4"])
    assert result.exit_code == 0, result.output
    published = db.session.scalar(select(db.func.count()).select_from(Post).where(Post.status == "published"))
    assert f"Indexed {published} published posts" in result.output
    assert index_rows() == published and fulltext.search("the database").total > 0


def test_the_migration_creates_the_index_and_fills_it_with_published_posts(app):
    from tests.integration.test_migrations import _drop_everything

    _drop_everything()
    # Rows are made through the models, so at the head schema; going back to 0004 keeps them
    # (and leaves no index), and the upgrade must index them.
    upgrade()
    author = make_user(role="author")
    make_post(author, title="Old almond", body="Almond & <b>honey</b>.", tags=["nuts"])
    make_post(author, title="Draft almond", body="Almond.", status="draft")
    db.session.remove()
    downgrade(revision="0004")
    upgrade()
    assert found("almond") == ["Old almond"] and found("nuts") == ["Old almond"]
    honey = fulltext.search("honey")
    snippet = str(honey.snippet(honey.items[0]))
    assert "Almond &amp; <mark>honey</mark>" in snippet and "&lt;b&gt;" not in snippet  # text, not the HTML
    db.session.rollback()  # end the reads: on PostgreSQL they hold a lock the DROP would wait for
    downgrade(revision="0004")
    assert "post_search" not in {name for name in db.inspect(db.engine).get_table_names()}
    downgrade(revision="base")
    _drop_everything()


# --- filters and pages ------------------------------------------------------------------------------

@pytest.fixture
def shelf(author) -> dict[str, Category]:
    """Three kiwi posts: in Programming › Python by ada (tag: snake), in Web by grace, and one untagged."""
    programming = Category(name="Programming", slug="programming")
    db.session.add(programming)
    db.session.flush()
    python = Category(name="Python", slug="python", parent_id=programming.id)
    web = Category(name="Web", slug="web")
    db.session.add_all([python, web])
    db.session.commit()
    grace = make_user(role="author", username="grace")
    write(author, "Kiwi in Python", "kiwi", tags="snake", category_id=python.id)
    write(grace, "Kiwi on the web", "kiwi", tags="browser", category_id=web.id)
    write(author, "Kiwi elsewhere", "kiwi")
    return {"programming": programming, "python": python, "web": web}


def test_filters_narrow_the_results_and_combine(shelf):
    assert len(found("kiwi")) == 3
    assert found("kiwi", tag="snake") == ["Kiwi in Python"]
    assert found("kiwi", category="programming") == ["Kiwi in Python"]  # sub-categories included
    assert found("kiwi", author="grace") == ["Kiwi on the web"]
    assert found("kiwi", author="ada", category="web") == []
    assert found("kiwi", tag="snake", category="python", author="ada") == ["Kiwi in Python"]
    assert found("kiwi", tag="no-such-tag") == [] and found("kiwi", author="nobody") == []


def test_pages_split_the_results_and_a_page_past_the_end_is_empty(author):
    for n in range(5):
        write(author, f"Kiwi {n}", "kiwi")
    first, second = fulltext.search("kiwi", per_page=2), fulltext.search("kiwi", page=2, per_page=2)
    assert (first.total, first.pages, len(first.items), len(second.items)) == (5, 3, 2, 2)
    assert not {p.id for p in first.items} & {p.id for p in second.items}
    for number in (4, 10**6, 10**30):
        beyond = fulltext.search("kiwi", page=number, per_page=2)
        assert beyond.items == [] and beyond.total == 5 and beyond.beyond_end
    assert fulltext.search("kiwi", page=-3).page == 1 and fulltext.search("kiwi", per_page=10**9).per_page == 100


def test_nothing_to_look_for_runs_no_query(app, author, count_queries):
    for q in ("", "   ", '"', "-python", "OR", "* : ( )", "NOT"):
        with count_queries() as queries:
            page = fulltext.search(q)
        assert (page.items, page.total, queries.count) == ([], 0, 0), q


# --- any input answers -------------------------------------------------------------------------------

BAD_QUERIES = [
    "", "   ", "x" * 1000, "pagination " * 100, '"', '""', '"unbalanced quote', 'two "unbalanced "quotes',
    "*", "**", "pag**", "*pag", "NEAR", "NEAR(a b)", "a NEAR b", ":", "title:python", "tags:sql", "(", ")",
    "(a OR b", "\\", "\\\\", "a\\b", "AND", "OR", "NOT", "a AND OR NOT", "-", "--", "-python", "^", "+python",
    "'", "'; DROP TABLE posts; --", "1' OR '1'='1", "\" OR 1=1 --", "%", "_", "<script>alert(1)</script>",
    "</mark><script>", "\x00", "a\x00b", "\x02kiwi\x03", "🙂 kiwi", "ΚΙΒΙ", "كيوي", "kiwi:* & !", "'kiwi':*",
]


@pytest.mark.parametrize("q", BAD_QUERIES)
def test_any_query_answers_200_as_page_and_as_fragment(client, author, q):
    write(author, "Kiwi", "kiwi")
    for headers in ({}, HX):
        response = client.get("/search", query_string={"q": q}, headers=headers)
        assert response.status_code == 200, (q, response.status_code)
        assert "<script>alert" not in response.text and "</mark><script>" not in response.text


@pytest.mark.parametrize("filters", [{"tag": "\x00"}, {"category": "a\x00b"}, {"author": "\ud800"},
                                     {"tag": "'; DROP TABLE tags; --"}, {"category": "x" * 5000}])
def test_any_filter_value_finds_nothing_rather_than_failing(author, filters):
    write(author, "Kiwi", "kiwi", tags="fruit")
    assert fulltext.search("ki\ud800wi kiwi", **filters).items == []
    assert found("kiwi") == ["Kiwi"]


@pytest.mark.parametrize("page", ["abc", "-1", "0", "2", "99999", "99999999999999999999999999", "1e3", ""])
def test_any_page_number_answers_200(client, author, page):
    write(author, "Kiwi", "kiwi")
    response = client.get("/search", query_string={"q": "kiwi", "page": page})
    assert response.status_code == 200


def test_a_page_past_the_end_says_so_and_links_back(client, author):
    write(author, "Kiwi", "kiwi")
    html = client.get("/search?q=kiwi&page=7").text
    assert "No more results" in html and 'href="/search?q=kiwi"' in html


# --- highlights are escaped -----------------------------------------------------------------------

def test_snippets_escape_the_post_and_the_query_and_mark_only_matches(author):
    post = write(author, "Why <i>tags</i> & such", 'Try `<script>kiwi</script>` & <b>bold</b> words.')
    page = fulltext.search("kiwi")
    snippet, title = page.snippet(post), page.title(post)
    assert "<mark>kiwi</mark>&lt;/script&gt; &amp; bold words" in snippet and "<script" not in snippet
    assert re.sub(r"</?mark>", "", str(snippet)).count("<") == 0  # no other tag survives
    assert str(title) == "Why &lt;i&gt;tags&lt;/i&gt; &amp; such"
    tagged = fulltext.search("tags")
    assert str(tagged.title(post)) == "Why &lt;i&gt;<mark>tags</mark>&lt;/i&gt; &amp; such"
    injected = fulltext.search('<mark>kiwi</mark> "><img src=x onerror=alert(1)>')
    assert injected.items == [] and injected.query  # words searched, markup never interpreted


def test_unbalanced_markers_never_leave_an_open_tag():
    assert str(fulltext._marked("a \x02b")) == "a <mark>b</mark>"
    assert str(fulltext._marked("a\x03 <b>\x02\x02c\x03\x03")) == "a &lt;b&gt;<mark>c</mark>"


def test_the_results_page_shows_count_highlights_and_pages_that_keep_the_filters(client, author):
    for n in range(12):
        write(author, f"Kiwi {n:02}", "A kiwi a day.", tags="fruit")
    html = client.get("/search?q=kiwi&tag=fruit").text
    assert "12 posts found; page 1 of 2." in html
    assert html.count('<article id="post-') == 10 and "<mark>Kiwi</mark>" in html
    next_link = re.search(r'<a rel="next" href="([^"]+)"', html).group(1)
    assert parse_qs(urlsplit(next_link.replace("&amp;", "&")).query) == {"q": ["kiwi"], "tag": ["fruit"], "page": ["2"]}
    assert 'value="kiwi"' in html  # the header box shows the query


def test_no_results_suggest_popular_tags(client, author):
    write(author, "Kiwi", "kiwi", tags="fruit")
    html = client.get("/search?q=durian").text
    assert "No posts match &ldquo;durian&rdquo;" in html and 'href="/tag/fruit"' in html
    filtered = client.get("/search?q=durian&tag=fruit").text
    assert "Search all posts instead" in filtered


def test_the_empty_search_page_runs_no_search(client, count_queries, author):
    write(author, "Kiwi", "kiwi")
    with count_queries() as queries:
        response = client.get("/search")
    assert response.status_code == 200 and "Type a word or two" in response.text
    assert not any("post_search" in statement for statement in queries.statements)


def test_search_is_a_page_without_htmx_and_its_results_block_with_it(client, author):
    write(author, "Kiwi", "kiwi")
    full = client.get("/search?q=kiwi&tag=&category=&author=&page=1")
    fragment = client.get("/search?q=kiwi&tag=&category=&author=&page=1", headers=HX)
    assert b"<html" in full.data and b"<html" not in fragment.data
    assert fragment.text.startswith("<title>kiwi &middot; Search") and 'id="search-results"' in fragment.text
    for response in (full, fragment):
        assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    assert fragment.headers["HX-Push-Url"] == "/search?q=kiwi"  # empty filters and page 1 left out
    assert 'name="robots" content="noindex"' in full.text


def test_every_page_has_the_search_box(client, author):
    post = write(author, "Kiwi", "kiwi")
    for url in ("/", f"/blog/{post.slug}", "/tags", "/auth/login"):
        html = client.get(url).text
        assert 'id="site-search"' in html and 'action="/search"' in html and 'hx-get="/search"' in html, url


# --- query counts ---------------------------------------------------------------------------------

def _search_counts(client, count_queries) -> dict[str, int]:
    def count(url: str, warm: bool = False, **kwargs) -> int:
        if warm:
            client.get(url, **kwargs)
        else:
            pagecache.clear()
        db.session.expunge_all()
        with count_queries() as queries:
            assert client.get(url, **kwargs).status_code == 200
        return queries.count

    return {
        "page": count("/search?q=database"),
        "fragment, warm": count("/search?q=database", warm=True, headers=HX),
        "filtered": count("/search?q=index&tag=sql&category=databases&author=admin"),
        "page 3": count("/search?q=the&page=3"),
        "past the end": count("/search?q=database&page=5000"),
        "no results": count("/search?q=zzzzqqq"),
    }


def test_search_query_count_does_not_grow_with_data(app, client, count_queries):
    demo.seed(posts=40, comments=0, users=5)
    fulltext.reindex()
    small = _search_counts(client, count_queries)
    wipe_content()
    demo.seed(posts=2000, comments=0, users=20)
    fulltext.reindex()
    large = _search_counts(client, count_queries)
    assert large == small
    # The results with their authors and categories in one statement, their tags in a second.
    assert small["fragment, warm"] == 2, small
