"""The Markdown pipeline: rendering, highlighting, sanitising."""
from __future__ import annotations

import pytest

from blog.services.content import reading_time
from blog.services.content import render_markdown


def test_markdown_renders_emphasis_headings_and_tables():
    html = render_markdown("# Title\n\nSome *emphasis*.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    assert '<h1 id="h-title">Title</h1>' in html
    assert "<em>emphasis</em>" in html
    assert "<table>" in html and "<td>1</td>" in html


def test_fenced_code_is_highlighted_on_the_server():
    html = render_markdown("```python\ndef f():\n    return 1\n```\n")
    assert '<div class="highlight">' in html
    assert '<span class="k">def</span>' in html


def test_footnotes_keep_their_anchors():
    html = render_markdown("Claim.[^1]\n\n[^1]: Source.\n")
    assert 'id="fnref:1"' in html and 'href="#fn:1"' in html and 'id="fn:1"' in html


@pytest.mark.parametrize("source, forbidden", [
    ("<script>alert(1)</script>", "<script"),
    ('<img src="x" onerror="alert(1)">', "onerror"),
    ("[click](javascript:alert(1))", "javascript:"),
    ('<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>', "data:"),
    ("<iframe src='https://evil.example'></iframe>", "<iframe"),
    ('<p style="position:fixed">x</p>', "style="),
    ('<div hx-get="/admin/">x</div>', "hx-get"),
])
def test_dangerous_markup_is_removed(source, forbidden):
    assert forbidden not in render_markdown(source)


def test_user_chosen_ids_cannot_shadow_page_elements():
    html = render_markdown('<h2 id="post-list">Sneaky</h2>')
    assert 'id="post-list"' not in html


def test_external_links_get_nofollow_noopener_and_local_links_do_not():
    html = render_markdown("[out](https://example.org/x) and [in](/blog/other)")
    assert '<a href="https://example.org/x" rel="nofollow noopener">out</a>' in html
    assert '<a href="/blog/other">in</a>' in html


def test_bare_urls_become_links_but_not_inside_code():
    html = render_markdown("See https://example.org today.\n\n    https://inside.example/code\n")
    assert 'href="https://example.org"' in html
    assert 'href="https://inside.example' not in html


def test_reading_time_is_about_200_words_a_minute():
    assert reading_time("") == 1
    assert reading_time("word " * 200) == 1
    assert reading_time("word " * 201) == 2
    assert reading_time("word " * 1000) == 5


def test_code_keeps_its_entities_escaped_exactly_once():
    html = render_markdown('```html\n<b class="x">A &amp; B</b>\n```\n\nInline `<i>` and AT&T.')
    assert "&amp;lt;" not in html and "&amp;amp;amp;" not in html
    assert '<span class="p">&lt;</span><span class="nt">b</span>' in html
    assert "<code>&lt;i&gt;</code>" in html and "AT&amp;T" in html


def test_urls_in_link_text_or_code_spans_are_not_linked_twice():
    html = render_markdown("[https://a.example](https://a.example) `https://code.example` (https://p.example).")
    assert html.count("<a ") == 2
    assert '<code>https://code.example</code>' in html
    assert '(<a href="https://p.example" rel="nofollow noopener">https://p.example</a>).' in html
