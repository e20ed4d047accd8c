"""Any input to any HTML GET route answers 2xx/3xx/4xx, never 5xx (the API has test_api_fuzz.py).

Hypothesis fills every path part, the query string (the parameters views read, plus strangers)
and the htmx headers, for a guest and for a signed-in admin, over a small real data set.
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from werkzeug.routing import IntegerConverter

from blog.extensions import db
from blog.models import Category
from tests.conftest import Client
from tests.factories import login_as
from tests.factories import make_comment
from tests.factories import make_post
from tests.factories import make_user

#: Query parameters some view reads, so the fuzzer reaches real code paths, not only 200s.
PARAMS = ("page", "q", "tag", "category", "status", "post", "author", "reply_to", "select", "sent", "next",
          "tags", "username", "email", "role", "year", "month", "sort")

# Text a client can send: no lone surrogates (not encodable as UTF-8).
sendable = st.characters(exclude_categories=["Cs"])
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20)
hostile_text = st.one_of(
    st.text(sendable, max_size=40),
    st.sampled_from(["", "0", "-1", "99999999999999999999", "9223372036854775808", "1e9", "NaN", "\x00",
                     "%00", "../../etc/passwd", "<script>alert(1)</script>", "' OR 1=1 --", "{{7*7}}",
                     "[" * 300, "🙂", " ", "a" * 2000, "kiwi", "2026", "12", "draft", "all"]),
)
numbers = st.one_of(st.integers(min_value=0, max_value=10**30), st.sampled_from([0, 1, 2, 2026, 2**63 - 1, 2**63]))
headers = st.fixed_dictionaries({}, optional={
    "HX-Request": st.sampled_from(["true", "false", ""]),
    "HX-Boosted": st.sampled_from(["true", ""]),
    "HX-History-Restore-Request": st.sampled_from(["true"]),
    "HX-Trigger": st.one_of(st.sampled_from(["tag-filter-kiwi", "tag-filter-", "search", "comments"]),
                            header_text),
    "HX-Target": header_text,
    "HX-Current-URL": st.sampled_from(["http://localhost/", "javascript:alert(1)", ""]),
})
queries = st.dictionaries(st.one_of(st.sampled_from(PARAMS), st.text(sendable, min_size=1, max_size=8)), hostile_text,
                          max_size=4)


def _get_rules():
    from blog import create_app
    from config import TestingConfig

    app = create_app(TestingConfig)
    return sorted((rule.endpoint, rule.rule) for rule in app.url_map.iter_rules()
                  if "GET" in rule.methods and not rule.rule.startswith("/api/") and rule.endpoint != "static")


RULES = _get_rules()


@pytest.fixture
def world(app):
    app.test_client_class = Client
    admin = make_user(role="admin", username="boss")
    category = Category(name="Cat", slug="cat")
    db.session.add(category)
    db.session.commit()
    post = make_post(author=admin, tags=["kiwi"], category_id=category.id, slug="kiwi-post")
    make_post(author=admin, status="draft", slug="draft-post", tags=["secret"])
    make_comment(post, author=make_user(role="reader", username="commenter"))
    return admin


def _path_part(converter, draw):
    if isinstance(converter, IntegerConverter):
        return draw(numbers)
    return draw(st.one_of(st.sampled_from(["kiwi-post", "draft-post", "kiwi", "cat", "boss", "username", "email",
                                           "css/site.css"]), hostile_text.filter(lambda s: s and "/" not in s)))


@pytest.mark.parametrize("endpoint, path", RULES, ids=[path for _, path in RULES])
@pytest.mark.parametrize("who", ["guest", "admin"])
def test_any_input_to_an_html_get_route_is_never_a_5xx(app, world, endpoint, path, who):
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint and r.rule == path)
    client = app.test_client()
    if who == "admin":
        login_as(client, world)
    adapter = app.url_map.bind("localhost")

    @settings(max_examples=25, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(data=st.data(), query=queries, extra=headers)
    def check(data, query, extra):
        values = {name: _path_part(rule._converters[name], data.draw) for name in rule.arguments}
        url = adapter.build(endpoint, values, force_external=False)
        response = client.get(url, query_string=query, headers=extra)
        assert response.status_code < 500, (url, query, extra, response.status_code)

    check()
