"""Richer reading pages (issue 14, item 5): listing cards, the author box, related and previous/next posts."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask

from blog.extensions import db
from blog.models import Post
from blog.models import utcnow
from blog.services import accounts
from blog.services import comments
from blog.services import reading
from tests.conftest import HX
from tests.factories import make_comment
from tests.factories import make_post
from tests.factories import make_user

AVATAR = "ab" * 16
COVER = "cd" * 16 + ".png"


def _article(html: str, post: Post) -> str:
    match = re.search(rf'<article id="post-{post.id}".*?</article>', html, re.S)
    assert match, f"post {post.id} is not listed"
    return match.group(0)


# --- excerpts -------------------------------------------------------------------------------------

def test_the_excerpt_is_the_summary_when_there_is_one():
    assert reading.excerpt("  A  short\nsummary. ", "<p>Body text.</p>") == "A short summary."


def test_without_a_summary_the_excerpt_is_the_first_sentences_of_the_text():
    html = ("<h2>Intro</h2><p>One &amp; two. " + "Words here. " * 20 + "</p>")
    text = reading.excerpt("", html)
    assert text.startswith("Intro One & two. Words here.") and text.endswith(".")
    assert reading.EXCERPT_TARGET <= len(text) <= reading.EXCERPT_MAX


def test_an_excerpt_cut_from_an_html_prefix_drops_an_unfinished_tag_or_entity():
    prefix = ("<p>" + "word " * 80)[:200] + '<a href="https://exa'
    text = reading.excerpt("", prefix.ljust(reading.EXCERPT_SOURCE, " "))
    assert "<" not in text and "href" not in text
    assert reading.excerpt("", "<p>Tom &amp") == "Tom"


def test_a_long_text_without_sentence_ends_is_cut_at_a_word_with_an_ellipsis():
    text = reading.excerpt("", "<p>" + "lorem ipsum " * 300)
    assert text.endswith("…") and len(text) <= reading.EXCERPT_MAX and "lorem ipsu…" not in text


def test_a_short_body_is_its_own_excerpt():
    assert reading.excerpt("", "<p>Just a note</p>") == "Just a note"


# --- cards ----------------------------------------------------------------------------------------

def test_cards_count_only_approved_comments_that_are_not_removed(app, count_queries):
    post, other = make_post(), make_post(summary="", body="First sentence here. Second one.")
    reader = make_user(role="reader")
    for status in ("approved", "approved", "pending", "rejected", "spam"):
        make_comment(post, author=reader, status=status)
    make_comment(post, author=reader, deleted_at=utcnow())
    db.session.refresh(post), db.session.refresh(other)  # loaded, as a listing's posts are
    with count_queries() as queries:
        found = reading.cards([post, other])
    assert queries.count == 1
    assert found[post.id] == reading.Card(post.summary, 2)
    assert found[other.id] == reading.Card("First sentence here. Second one.", 0)
    assert reading.cards([]) == {}


def test_listing_cards_show_the_excerpt_reading_time_and_comment_count(client):
    post = make_post(title="Carded", summary="", body="The first sentence. " + "More words follow. " * 40)
    make_comment(post)
    make_comment(post, status="pending", body="Not yet")
    card = _article(client.get("/").text, post)
    assert '<p class="excerpt">The first sentence. More words follow.' in card
    assert "1 min read" in card and "1 comment<" in card and "Not yet" not in card


def test_a_card_shows_the_cover_card_with_larger_widths_lazily_and_the_first_one_eagerly(client):
    older = make_post(title="Older with cover", cover_image=COVER, cover_processed=True, age_hours=2)
    newest = make_post(title="Newest with cover", cover_image=COVER, cover_processed=True)
    plain = make_post(title="No cover", age_hours=1)
    html = client.get("/").text
    card = _article(html, older)
    img = re.search(r'<img class="card-image"[^>]*>', card).group(0)
    name = COVER.split(".")[0]
    assert f'src="/uploads/covers/{name}-card.webp"' in img
    assert (f'srcset="/uploads/covers/{name}-card.webp 400w, /uploads/covers/{name}-800.webp 800w, '
            f'/uploads/covers/{name}-1200.webp 1200w"') in img
    assert 'width="400" height="225"' in img and 'loading="lazy"' in img and 'sizes="' in img
    assert 'alt=""' in img  # no cover alt text given: decorative, the title is the card's heading beside it
    first = re.search(r'<img class="card-image"[^>]*>', _article(html, newest)).group(0)
    assert 'loading="lazy"' not in first and 'fetchpriority="high"' in first
    assert "<img" not in _article(html, plain)


def test_a_cover_still_waiting_for_its_variants_shows_the_original_without_srcset(client):
    post = make_post(cover_image=COVER, cover_processed=False)
    img = re.search(r'<img class="card-image"[^>]*>', _article(client.get("/").text, post)).group(0)
    assert f'src="/uploads/covers/{COVER}"' in img and "srcset" not in img


def test_the_card_alt_text_is_the_covers_own_when_it_has_one(app):
    post = make_post(title="Title", cover_image=COVER, cover_processed=True)
    with app.test_request_context():
        assert reading.card_image(post)["alt"] == ""
        post.cover_alt = "A red bicycle against a wall"  # the editor's cover alt field
        assert reading.card_image(post)["alt"] == "A red bicycle against a wall"


@pytest.mark.parametrize("url", ["/tag/cards", "/category/{category}", "/user/{author}", "/archive/{year}"])
def test_every_listing_has_the_richer_cards(client, url):
    from blog.services import taxonomy

    category = taxonomy.create_category("Cards")
    post = make_post(tags=["cards"], category=category, summary="The card text.")
    make_comment(post)
    url = url.format(category=category.slug, author=post.author.username, year=post.published_at.year)
    for headers in ({}, HX):
        card = _article(client.get(url, headers=headers).text, post)
        assert "The card text." in card and "1 comment<" in card, url


# --- the post page --------------------------------------------------------------------------------

def _timeline():
    """Four published posts an hour apart plus a draft, a page and a scheduled post in between."""
    author = make_user(username="writer", bio="Writes <b>about</b> HTML.",
                       social_links={"website": "https://writer.example", "github": "javascript:alert(1)"})
    other = make_user(username="someone_else")
    old = make_post(author=other, title="Oldest", age_hours=4)
    middle = make_post(author=author, title="Middle", age_hours=3)
    make_post(author=author, title="A draft", status="draft")
    make_post(author=author, title="A page", kind="page", age_hours=2)
    later = make_post(author=author, title="Later", age_hours=2)
    make_post(author=author, title="Scheduled", status="scheduled", published_at=utcnow() + timedelta(days=1))
    newest = make_post(author=other, title="Newest", age_hours=1)
    return author, old, middle, later, newest


def test_previous_and_next_are_the_published_posts_around_it(app, count_queries):
    author, old, middle, later, newest = _timeline()
    db.session.refresh(middle)
    with count_queries() as queries:
        around = reading.neighbours(middle)
    assert queries.count == 1
    assert around.previous.title == "Oldest" and around.next.title == "Later"
    assert [link.title for link in around.more_from] == ["Later"]  # not drafts, pages, scheduled, nor itself
    assert reading.neighbours(old).previous is None and reading.neighbours(newest).next is None


def test_posts_published_at_the_same_second_still_chain_by_id(app):
    when = utcnow() - timedelta(hours=1)
    first, second, third = (make_post(title=name, published_at=when) for name in ("A", "B", "C"))
    around = reading.neighbours(second)
    assert around.previous.title == "A" and around.next.title == "C"


def test_an_unpublished_post_has_no_neighbours(app):
    make_post(age_hours=1)
    draft = make_post(status="draft")
    assert reading.neighbours(draft) == reading.Neighbours(None, None, [])


def test_more_from_the_author_is_their_three_latest_other_posts(app):
    author = make_user()
    posts = [make_post(author=author, title=f"Mine {n}", age_hours=n) for n in range(5)]
    assert [link.title for link in reading.neighbours(posts[2]).more_from] == ["Mine 0", "Mine 1", "Mine 3"]


def test_related_posts_share_the_most_tags_then_are_the_newest_in_one_query(app, count_queries):
    post = make_post(title="Subject", tags=["a", "b", "c"])
    make_post(title="One tag, new", tags=["a"], age_hours=1)
    make_post(title="Two tags, old", tags=["a", "b"], age_hours=50)
    make_post(title="Three tags", tags=["a", "b", "c", "z"], age_hours=90)
    make_post(title="One tag, older", tags=["c"], age_hours=20)
    make_post(title="One tag, oldest", tags=["b"], age_hours=30)
    make_post(title="Draft with all", tags=["a", "b", "c"], status="draft")
    make_post(title="Unrelated", tags=["z"])
    assert len(post.tags) == 3  # loaded with the post, as on its page
    with count_queries() as queries:
        found = reading.related(post)
    assert queries.count == 1
    assert [link.title for link in found] == ["Three tags", "Two tags, old", "One tag, new"]


def test_a_post_without_tags_or_shared_tags_has_no_related_posts(app, client, count_queries):
    lonely = make_post(tags=["only-here"])
    untagged = make_post()
    assert untagged.tags == []
    with count_queries() as queries:
        assert reading.related(untagged) == []
    assert queries.count == 0
    assert reading.related(lonely) == []
    assert 'id="related-title"' not in client.get(f"/blog/{lonely.slug}").text


def test_the_post_page_has_the_author_box_related_posts_and_previous_next(app, client):
    author, old, middle, later, newest = _timeline()
    author.avatar, author.avatar_processed = AVATAR, True
    db.session.commit()
    make_post(title="Shares a tag", tags=["html"], age_hours=10)
    middle.tags = list(make_post(title="Tag holder", tags=["html"], status="draft").tags)
    db.session.commit()
    response = client.get(f"/blog/{middle.slug}")
    html = response.text
    assert "Set-Cookie" not in response.headers  # a guest's reading page opens no session
    box = re.search(r'<aside class="author-box" aria-labelledby="author-box-title">.*?</aside>', html, re.S).group(0)
    assert 'id="author-box-title"' in box and "writer" in box
    assert f'src="/uploads/avatars/{AVATAR}-256.webp"' in box  # uploaded avatars are public now
    assert "Writes &lt;b&gt;about&lt;/b&gt; HTML." in box  # the bio is text, never markup
    assert 'href="https://writer.example"' in box and "javascript:" not in box
    assert 'href="/user/writer">More from writer</a>' in box
    assert re.search(r'class="more-from".*?Later', box, re.S)
    nav = re.search(r'<nav class="post-nav" aria-label="Previous and next posts">.*?</nav>', html, re.S).group(0)
    assert f'rel="prev" href="/blog/{old.slug}"' in nav
    assert f'rel="next" href="/blog/{later.slug}"' in nav
    related = re.search(r'<section class="related".*?</section>', html, re.S).group(0)
    assert "Shares a tag" in related and "Middle" not in related and "Tag holder" not in related
    # The byline carries the avatar too.
    byline = re.search(r'<p class="post-meta">.*?</p>', html, re.S).group(0)
    assert f"/uploads/avatars/{AVATAR}-64.webp" in byline


def test_an_author_without_avatar_or_bio_gets_initials_and_no_empty_parts(client):
    author = make_user(username="grace_hopper")
    post = make_post(author=author)
    html = client.get(f"/blog/{post.slug}").text
    box = re.search(r'<aside class="author-box".*?</aside>', html, re.S).group(0)
    assert '<span class="avatar initials avatar-64" aria-hidden="true">GH</span>' in box
    assert "author-bio" not in box and "social-links" not in box and "more-from" not in box
    assert 'class="post-nav"' not in html  # the only post: nothing before or after


def test_the_comment_thread_fragment_runs_no_neighbour_or_related_queries(client, count_queries):
    post = make_post(tags=["x"])
    make_post(tags=["x"], age_hours=1)
    client.get(f"/blog/{post.slug}/comments", headers=HX)
    with count_queries() as queries:
        fragment = client.get(f"/blog/{post.slug}", headers=HX)
    assert "author-box" not in fragment.text and "post-nav" not in fragment.text
    statements = " ".join(queries.statements)
    assert "UNION ALL" not in statements and "shared" not in statements


def test_comments_show_their_authors_avatar_or_initials(client):
    post = make_post()
    pictured = make_user(role="reader", username="pictured", avatar=AVATAR, avatar_processed=True)
    make_comment(post, author=pictured, body="With a picture")
    make_comment(post, author=make_user(role="reader", username="no_picture"), body="Without")
    guest = make_comment(post, author_name="Imported Guest", body="From the old blog")
    guest.author = None  # an imported comment: no account here
    db.session.commit()
    html = client.get(f"/blog/{post.slug}").text
    assert re.search(rf'<img class="avatar" src="/uploads/avatars/{AVATAR}-64.webp" alt="" width="32" height="32"'
                     r'[^>]*>\s*<strong>pictured</strong>', html)
    assert re.search(r'aria-hidden="true">NP</span>\s*<strong>no_picture</strong>', html)
    assert re.search(r'aria-hidden="true">IG</span>\s*<strong>Imported Guest</strong>', html)


def test_initials():
    assert reading.initials("ada") == "A"
    assert reading.initials("ada_lovelace") == "AL"
    assert reading.initials("grace.m.hopper") == "GM"
    assert reading.initials("") == "?"


# --- the page cache keeps them fresh --------------------------------------------------------------

@pytest.fixture
def cached(app: Flask) -> Flask:
    app.config["PAGE_CACHE"] = True
    return app


def _hit(response) -> bool:
    return response.headers.get("X-Page-Cache") == "hit"


def test_approving_a_comment_refreshes_the_listing_count(cached, client):
    moderator = make_user(role="moderator")
    post = make_post(title="Counted")
    waiting = make_comment(post, author=make_user(role="reader"), status="pending")
    assert "0 comments" in _article(client.get("/").text, post)
    assert _hit(client.get("/"))
    comments.moderate(waiting, "approve", by=moderator)
    assert "1 comment<" in _article(client.get("/").text, post)


def test_a_bio_or_avatar_change_refreshes_the_author_box(cached, client):
    post = make_post(author=make_user(username="changing"))
    url = f"/blog/{post.slug}"
    client.get(url)
    assert _hit(client.get(url))
    accounts.update_profile(post.author, bio="A brand new bio.", links={"website": "https://new.example"})
    page = client.get(url).text
    assert "A brand new bio." in page and "https://new.example" in page
    post.author.avatar, post.author.avatar_processed = AVATAR, True
    db.session.commit()
    assert f"/uploads/avatars/{AVATAR}-256.webp" in client.get(url).text


def test_publishing_a_post_refreshes_the_next_link_on_the_one_before(cached, client):
    before = make_post(title="Was the newest", tags=["t"], age_hours=1)
    url = f"/blog/{before.slug}"
    assert 'rel="next"' not in client.get(url).text
    assert _hit(client.get(url))
    make_post(title="Just published", tags=["t"])
    page = client.get(url).text
    assert 'rel="next"' in page and "Just published" in page


def test_retitling_a_related_post_refreshes_the_pages_linking_to_it(cached, client):
    post = make_post(tags=["t"])
    other = make_post(title="Old title", tags=["t"], age_hours=5)
    url = f"/blog/{post.slug}"
    assert "Old title" in client.get(url).text
    other.title = "New title"
    db.session.commit()
    page = client.get(url).text
    assert "New title" in page and "Old title" not in page


def test_a_comment_or_a_body_edit_elsewhere_keeps_other_post_pages_cached(cached, client):
    post, other = make_post(), make_post(age_hours=1)
    url = f"/blog/{post.slug}"
    client.get(url)
    make_comment(other, author=make_user(role="reader"))
    other.body, other.html = "Edited", "<p>Edited</p>"
    db.session.commit()
    assert _hit(client.get(url))


# --- fragments stay small -------------------------------------------------------------------------

def test_the_home_fragment_with_a_cover_on_every_card_stays_small(client):
    from blog.services import demo

    demo.seed()
    db.session.execute(Post.__table__.update().values(cover_image=COVER, cover_processed=True))
    db.session.commit()
    full, fragment = client.get("/"), client.get("/", headers=HX)
    assert fragment.text.count('class="card-image"') == 10
    # Each card: title, meta, excerpt and a four-URL picture, about 850 bytes (the four URLs share one
    # name, so gzip sends them for little more than one). Without covers the fragment stays under a
    # quarter of the page (test_pages); with a cover on every card, under 40 % and 10 kB.
    assert len(fragment.data) <= 10_000 and len(fragment.data) * 5 <= len(full.data) * 2, \
        (len(fragment.data), len(full.data))


def test_search_results_show_the_cover_card(client):
    from blog.services import fulltext

    post = make_post(title="Searchable bicycles", cover_image=COVER, cover_processed=True)
    fulltext.index(post)
    db.session.commit()
    for headers in ({}, HX):
        hit = _article(client.get("/search?q=bicycles", headers=headers).text, post)
        assert 'class="card-image"' in hit and 'loading="lazy"' in hit and 'alt=""' in hit


def test_a_post_page_rendered_again_after_a_comment_keeps_its_neighbours_and_related(client, count_queries):
    post = make_post(title="Subject", tags=["t"], age_hours=2)
    make_post(title="Before", tags=["t"], age_hours=3)
    url = f"/blog/{post.slug}"
    client.get(url)
    make_comment(post, author=make_user(role="reader"))  # the page changes; what is around it does not
    with count_queries() as queries:
        page = client.get(url).text
    assert "Before" in page and 'rel="prev"' in page
    assert not any("UNION ALL" in sql or "post_tags.tag_id IN" in sql for sql in queries.statements)
    make_post(title="Also tagged", tags=["t"], age_hours=1)  # a new neighbour and a new related post
    page = client.get(url).text
    assert 'rel="next"' in page and page.count("Also tagged") >= 2
