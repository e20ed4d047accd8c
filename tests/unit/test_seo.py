"""The post page's description and word count read only what they need, and say what the whole text says."""
from __future__ import annotations

import random
from types import SimpleNamespace

import pytest

from blog.services import seo


def _whole_text_description(markup: str) -> str:
    # The description as it was read from the whole body (before it looked at a prefix first).
    body = seo.plain_text(markup)
    match = seo._SENTENCE.match(body)
    text = match.group(1) if match else body
    if len(text) > seo.DESCRIPTION_MAX:
        text = text[:seo.DESCRIPTION_MAX - 1].rsplit(" ", 1)[0] + "…"
    return text


def _html(rng: random.Random) -> str:
    words = ["alpha", "beta", "gamma", "3.14", "e.g.", "Fish &amp; chips", "<em>stress</em>", "end.", "why?",
             "<a href=\"https://example.com/x.y\">link</a>", "&#8230;", "x" * 40, "wow!"]
    blocks = []
    for _ in range(rng.randint(1, 60)):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 80)))
        blocks.append(rng.choice(["<p>{}</p>", "<pre><code>{}</code></pre>", "<h2>{}</h2>", "<li>{}</li>"]).format(text))
    return "".join(blocks)


@pytest.mark.parametrize("seed", range(300))
def test_description_from_a_prefix_is_the_whole_texts(seed):
    markup = _html(random.Random(seed))
    assert seo.description(SimpleNamespace(summary="", html=markup)) == _whole_text_description(markup)


def test_long_posts_are_described_from_their_beginning():
    first = "<p>" + "word " * 30 + "ends here. More follows.</p>"
    markup = first + "<p>" + "filler text " * 50_000 + "</p>"
    assert seo.description(SimpleNamespace(summary="", html=markup)) == _whole_text_description(markup)
    assert seo.description(SimpleNamespace(summary="  A  summary ", html=markup)) == "A summary"
    # No sentence ends in the part read first: the limit cuts the same text either way.
    for markup in ("<p>" + "lorem " * 2000 + "end.</p>", "<p>" + "lorem " * 2000 + "</p>",
                   "<pre>" + "<b>x</b>" * 400 + "</pre><p>Late. Sentence.</p>", "<p>" + "a" * 1999 + ". b</p>"):
        assert seo.description(SimpleNamespace(summary="", html=markup)) == _whole_text_description(markup)


def test_words_are_counted_in_the_text_not_the_markup():
    assert seo.count_words('<p>Fish &amp; chips, <a href="https://x.y/z">twice</a>.</p>') == 3
    assert seo.count_words("<p>don’t stop-gap</p><pre><code>a_b</code></pre>") == 3
    assert seo.count_words("") == seo.count_words(None) == 0
    markup = _html(random.Random(7))
    assert seo.count_words(markup) == len(seo._WORD.findall(seo.plain_text(markup)))
