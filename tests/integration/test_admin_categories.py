"""Admins manage the category tree (create, rename, move, delete when empty) and see a dashboard."""
from __future__ import annotations

import re
import threading
import time

import pytest
from sqlalchemy import event
from sqlalchemy import select
from sqlalchemy import update

from blog.extensions import db
from blog.models import Category
from blog.models import MailMessage
from blog.services import taxonomy
from blog.services.errors import Conflict
from blog.services.errors import Invalid
from tests.conftest import HX
from tests.factories import login_as
from tests.factories import make_comment
from tests.factories import make_post
from tests.factories import make_user


@pytest.fixture
def admin(client):
    """The client, logged in as an admin."""
    login_as(client, make_user(role="admin", username="root"))
    return client


@pytest.fixture
def tree(app):
    """Programming > Python > Flask, and Notes."""
    programming = Category(name="Programming", slug="programming")
    python = Category(name="Python", slug="python", parent=programming)
    flask = Category(name="Flask", slug="flask", parent=python)
    notes = Category(name="Notes", slug="notes")
    db.session.add_all([programming, python, flask, notes])
    db.session.commit()
    return {"programming": programming, "python": python, "flask": flask, "notes": notes}


def create(client, name: str, parent: Category | None = None, description: str = "", headers=None):
    return client.post("/admin/categories", headers=headers, data={
        "new-name": name, "new-parent_id": parent.id if parent else "", "new-description": description})


def edit(client, category: Category, headers=None, **changes):
    """Post the row's edit form: the category's current values with ``changes`` applied."""
    fields = {"name": category.name, "parent_id": category.parent_id or "",
              "description": category.description} | changes
    return client.post(f"/admin/categories/{category.id}", headers=headers,
                       data={f"category-{category.id}-{name}": value for name, value in fields.items()})


def delete(client, category: Category, headers=None):
    return client.post(f"/admin/categories/{category.id}/delete", headers=headers)


def category_named(name: str) -> Category | None:
    db.session.expire_all()
    return db.session.scalar(select(Category).where(Category.name == name))


def slugs() -> list[str]:
    return sorted(db.session.scalars(select(Category.slug)))


def titles(html: str) -> list[str]:
    return re.findall(r'<h2><a href="/blog/[^"]+">([^<]+)</a></h2>', html)


def crumbs(html: str) -> str:
    return re.search(r'<nav class="breadcrumbs".*?</nav>', html, re.S).group(0)


# --- who may ------------------------------------------------------------------------------

# The dashboard (/admin/) is open to moderators since issue 13: see test_admin_dashboard.py.
ADMIN_REQUESTS = [("get", "/admin/categories"), ("post", "/admin/categories"),
                  ("post", "/admin/categories/{id}"), ("post", "/admin/categories/{id}/delete")]


@pytest.mark.parametrize("role", ["reader", "author", "moderator"])
def test_only_admins_may_manage_categories(client, tree, role):
    login_as(client, make_user(role=role))
    for method, url in ADMIN_REQUESTS:
        response = getattr(client, method)(url.format(id=tree["notes"].id), data={"new-name": "Sneaky"})
        assert response.status_code == 403, url
    assert category_named("Notes") is not None and category_named("Sneaky") is None


def test_guests_are_sent_to_log_in(client, tree):
    for method, url in ADMIN_REQUESTS:
        response = getattr(client, method)(url.format(id=tree["notes"].id))
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/auth/login")
    assert client.get("/admin/categories").headers["Location"] == "/auth/login?next=/admin/categories"


# --- the dashboard ------------------------------------------------------------------------

def test_dashboard_counts_users_posts_comments_and_unsent_mail(admin, tree, count_queries):
    reader = make_user(role="reader")
    post = make_post(category=tree["python"])
    make_post(status="draft")
    make_comment(post, author=reader, status="pending")
    make_comment(post, author=reader)
    for n in (1, 2):
        db.session.add(MailMessage(kind="test", recipient=f"r{n}@example.com", subject="Hi", text_body="Hi"))
    db.session.commit()  # both are sent at once (immediate Huey in tests); mark one as failed
    db.session.execute(update(MailMessage).where(MailMessage.recipient == "r1@example.com").values(sent_at=None))
    db.session.commit()
    with count_queries() as queries:
        html = admin.get("/admin/").text
    section = lambda title: html.split(title, 1)[1].split("</section>", 1)[0]  # noqa: E731
    # Since issue 13 each count links to the list it counts (see test_admin_dashboard.py).
    users = section("Users by role")
    assert re.search(r'Reader</a></dt><dd>1</dd>\s*</div>\s*<div><dt><a href="/admin/users\?role=author">Author</a></dt><dd>2</dd>',
                     users)
    assert re.search(r"Admin</a></dt><dd>1</dd>", users)
    assert re.search(r"Published</a></dt><dd>1</dd>.*All</a></dt><dd>2</dd>", section("Posts by status"), re.S)
    assert re.search(r"Pending</a></dt><dd>1</dd>.*Approved</a></dt><dd>1</dd>", section("Comments by status"), re.S)
    assert re.search(r'id="queue-mail">Unsent mail <span class="count-badge">1</span>', html)
    assert 'href="/admin/categories">Categories</a> <span class="count">4</span>' in html
    # The logged-in user, the nav's pending count and page links (cold cache), four counts, four
    # charts and the week's most read.
    assert queries.count == 12


# --- creating -----------------------------------------------------------------------------

def test_admin_creates_categories_and_a_clashing_name_gets_a_numbered_slug(admin, tree):
    response = create(admin, "  Python  ", description="Snakes and such.")
    assert response.status_code == 303 and response.headers["Location"] == "/admin/categories"
    response = create(admin, "Programming", parent=tree["notes"])
    assert slugs() == ["flask", "notes", "programming", "programming-2", "python", "python-2"]
    page = admin.get("/admin/categories").text
    assert "Added the category “Programming”." in page
    assert 'href="/category/python-2">Python</a>' in page
    added = db.session.scalar(select(Category).where(Category.slug == "programming-2"))
    assert added.parent_id == tree["notes"].id and added.name == "Programming"
    assert admin.get("/category/python-2").text.count("Snakes and such.") >= 1


def test_unicode_and_symbol_only_names_still_get_a_slug(admin):
    create(admin, "Café Society")
    create(admin, "!!!")
    assert slugs() == ["cafe-society", "category"]


@pytest.mark.parametrize("name, message", [
    ("", "Give the category a name."),
    ("   ", "Give the category a name."),
    ("x" * 81, "Field cannot be longer than 80 characters."),
])
def test_empty_and_overlong_names_are_refused(admin, name, message):
    response = create(admin, name)
    assert response.status_code == 422 and "<html" in response.text
    assert re.search(r'<p class="error" id="new-name-error">[^<]*' + re.escape(message), response.text)
    assert slugs() == []
    assert create(admin, "x" * 80).status_code == 303


def test_the_services_check_names_and_parents_too(app, tree):
    with pytest.raises(Invalid) as error:
        taxonomy.create_category("y" * 81)
    assert "80 characters" in error.value.fields["name"][0]
    with pytest.raises(Invalid) as error:
        taxonomy.create_category("Orphan", parent_id=999_999)
    assert "parent_id" in error.value.fields
    assert taxonomy.create_category(" Web ", tree["programming"].id).slug == "web"


def test_an_unknown_parent_is_refused_beside_the_field(admin):
    response = admin.post("/admin/categories", data={"new-name": "Orphan", "new-parent_id": "999999"})
    assert response.status_code == 422 and 'id="new-parent_id-error"' in response.text
    assert "does not exist" in response.text
    assert create(admin, "Odd").status_code == 303
    odd = admin.post("/admin/categories", data={"new-name": "Odd", "new-parent_id": "abc"})
    assert odd.status_code == 422 and slugs() == ["odd"]


def test_a_slug_taken_in_a_race_is_retried_not_a_500(app, tree, monkeypatch):
    real = taxonomy._free_slug
    calls = []

    def stale(name: str) -> str:  # as if another admin inserted "python" after our check
        calls.append(name)
        return "python" if len(calls) == 1 else real(name)

    monkeypatch.setattr(taxonomy, "_free_slug", stale)
    assert taxonomy.create_category("Python").slug == "python-2"
    assert len(calls) == 2
    monkeypatch.setattr(taxonomy, "_free_slug", lambda name: "python")
    with pytest.raises(Conflict):
        taxonomy.create_category("Python")


def test_choices_list_every_category_as_a_path_in_tree_order(app, tree):
    assert taxonomy.category_choices() == [
        (tree["notes"].id, "Notes"),
        (tree["programming"].id, "Programming"),
        (tree["python"].id, "Programming › Python"),
        (tree["flask"].id, "Programming › Python › Flask"),
    ]
    assert taxonomy.category_choices(exclude=tree["python"].id) == [
        (tree["notes"].id, "Notes"), (tree["programming"].id, "Programming")]


# --- the page -----------------------------------------------------------------------------

def test_the_page_shows_the_tree_with_published_and_total_counts(admin, tree):
    make_post(category=tree["python"])
    make_post(category=tree["python"], status="draft")
    make_post(category=tree["flask"], status="pending")
    page = admin.get("/admin/categories").text
    python = re.search(r'<li id="category-%d">.*?</details>' % tree["python"].id, page, re.S).group(0)
    assert "1 published &middot; 2 posts in all" in python
    assert "0 published &middot; 1 post in all" in page
    # Nested lists: Flask sits inside Python's item.
    assert page.index(f'id="category-{tree["python"].id}"') < page.index(f'id="category-{tree["flask"].id}"')
    # A row's parent choices leave out the category itself and what is under it.
    select_ = re.search(r'<select id="category-%d-parent_id".*?</select>' % tree["python"].id, page, re.S).group(0)
    assert "Programming</option>" in select_ and "Flask" not in select_ and "› Python<" not in select_
    assert f'hx-confirm="Delete the category “Python”?"' in page
    assert re.search(r'<label for="category-%d-name">Name</label>' % tree["python"].id, page)


def test_the_page_costs_the_same_queries_however_many_categories(admin, tree, count_queries):
    admin.get("/admin/categories")  # warm the header's cached page links
    with count_queries() as few:
        admin.get("/admin/categories")
    for n in range(10):
        taxonomy.create_category(f"Topic {n}", tree["flask"].id)
        make_post(category=category_named(f"Topic {n}"))
    admin.get("/admin/categories")  # the menu is cached under the taxonomy's generation: warm it again
    with count_queries() as many:
        admin.get("/admin/categories")
    assert few.count == many.count == 4  # the user, the nav's pending count, the categories, the post counts


def test_admin_pages_pass_the_strict_csp(admin, tree):
    for url in ("/admin/", "/admin/categories"):
        html = admin.get(url).text
        assert not re.search(r"<script\b(?![^>]*type=\"application/ld\+json\")[^>]*>\s*[^<\s]", html), "inline script body"
        assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
        assert not re.search(r"\sstyle\s*=", html), "inline style attribute"
        assert "<style" not in html and "hx-on" not in html


# --- renaming and moving ------------------------------------------------------------------

def test_rename_keeps_the_slug_and_the_category_page_shows_the_new_name(admin, tree):
    make_post(title="Snakes", category=tree["python"])
    response = edit(admin, tree["python"], name="Python 3", description="All about Python.")
    assert response.status_code == 303
    assert "Saved the category “Python 3”." in admin.get("/admin/categories").text
    assert category_named("Python 3").slug == "python"
    page = admin.get("/category/python").text
    assert '<h1 class="page-title">Python 3</h1>' in page and "All about Python." in page
    assert titles(page) == ["Snakes"]


def test_move_changes_breadcrumbs_and_listing_rollups(admin, tree):
    make_post(title="Deep", category=tree["flask"])
    assert titles(admin.get("/category/programming").text) == ["Deep"]
    assert edit(admin, tree["python"], parent_id=tree["notes"].id).status_code == 303
    assert titles(admin.get("/category/programming").text) == []
    assert titles(admin.get("/category/notes").text) == ["Deep"]
    trail = crumbs(admin.get("/category/flask").text)
    assert 'href="/category/notes">Notes</a>' in trail and "Programming" not in trail
    # ... and to the top level.
    assert edit(admin, tree["python"], parent_id="").status_code == 303
    assert category_named("Python").parent_id is None
    assert titles(admin.get("/category/notes").text) == []


@pytest.mark.parametrize("target", ["python", "flask"])
def test_moving_under_itself_or_a_descendant_is_refused(admin, tree, target):
    response = edit(admin, tree["python"], name="Renamed", parent_id=tree[target].id)
    assert response.status_code == 422
    error = re.search(r'<p class="error" id="category-%d-parent_id-error">([^<]+)' % tree["python"].id,
                      response.text)
    assert "cannot move under itself or one of its own sub-categories" in error.group(1)
    # The row stays open with what was typed, and nothing changed.
    assert re.search(r'<details class="admin-edit" open>\s*<summary>Edit<span class="visually-hidden"> Python<',
                     response.text)
    python = category_named("Python")
    assert python.parent_id == tree["programming"].id and category_named("Renamed") is None


def test_two_admins_moving_categories_under_each_other_cannot_make_a_cycle(app):
    """Each move passes its check alone; together they would loop A under B under A (the lock prevents it)."""
    if db.engine.dialect.name == "sqlite":
        pytest.skip("in-memory SQLite has a single connection; the race needs two (PostgreSQL run)")
    a, b = taxonomy.create_category("A"), taxonomy.create_category("B")
    results = []

    def move(child: int, parent: int, delay: float) -> None:
        time.sleep(delay)
        with app.app_context():  # a session (and connection) of its own, like a second request
            category = taxonomy.get_category_by_id(child)
            try:
                taxonomy.update_category(category, name=category.name, parent_id=parent, description="")
                results.append("moved")
            except Invalid:
                results.append("refused")

    def pause_after_the_cycle_check(conn, cursor, statement, *args) -> None:
        if "subtree" in statement:
            time.sleep(0.5)

    event.listen(db.engine, "after_cursor_execute", pause_after_the_cycle_check)
    try:
        threads = [threading.Thread(target=move, args=(a.id, b.id, 0)),
                   threading.Thread(target=move, args=(b.id, a.id, 0.1))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
    finally:
        event.remove(db.engine, "after_cursor_execute", pause_after_the_cycle_check)
    assert sorted(results) == ["moved", "refused"]
    assert [category_named("A").parent_id, category_named("B").parent_id].count(None) == 1


def test_edit_errors_show_beside_that_row_only(admin, tree):
    response = edit(admin, tree["notes"], name="")
    assert response.status_code == 422
    assert f'id="category-{tree["notes"].id}-name-error"' in response.text
    assert response.text.count('class="error"') == 1
    assert category_named("Notes") is not None


def test_unknown_categories_are_404(admin):
    assert admin.post("/admin/categories/999999", data={"category-999999-name": "X"}).status_code == 404
    assert admin.post("/admin/categories/999999/delete").status_code == 404
    assert admin.post("/admin/categories/999999/delete", headers=HX).status_code == 404
    # Past 64 bits SQLite would raise OverflowError instead of finding nothing.
    assert admin.post("/admin/categories/99999999999999999999/delete").status_code == 404
    huge_parent = admin.post("/admin/categories", data={"new-name": "X", "new-parent_id": "99999999999999999999"})
    assert huge_parent.status_code == 422 and 'id="new-parent_id-error"' in huge_parent.text


# --- deleting -----------------------------------------------------------------------------

def test_an_empty_category_is_deleted(admin, tree):
    response = delete(admin, tree["notes"])
    assert response.status_code == 303 and response.headers["Location"] == "/admin/categories"
    assert category_named("Notes") is None
    assert "Deleted the category “Notes”." in admin.get("/admin/categories").text
    assert admin.get("/category/notes").status_code == 404


@pytest.mark.parametrize("fill, message", [
    (lambda tree: make_post(category=tree["notes"], status="draft"), "“Notes” still has 1 post: move or delete"),
    (lambda tree: [make_post(category=tree["notes"], status=s) for s in ("published", "archived")], "2 posts"),
    (lambda tree: Category(name="Sub", slug="sub", parent=tree["notes"]), "“Notes” still has 1 sub-category:"),
])
def test_a_category_with_posts_or_sub_categories_is_not_deleted(admin, tree, fill, message):
    filled = fill(tree)
    if isinstance(filled, Category):
        db.session.add(filled)
        db.session.commit()
    response = delete(admin, tree["notes"])
    assert response.status_code == 422
    problem = re.search(r'<p class="error" id="category-%d-problem" role="alert">([^<]+)' % tree["notes"].id,
                        response.text).group(1)
    assert message in problem
    assert category_named("Notes") is not None


def test_the_message_names_both_sub_categories_and_posts(app, tree):
    make_post(category=tree["python"], status="scheduled", published_at=None)
    with pytest.raises(Invalid, match="“Python” still has 1 sub-category and 1 post: move or delete them first."):
        taxonomy.delete_category(tree["python"])


# --- htmx ---------------------------------------------------------------------------------

def block_only(response) -> str:
    assert "<html" not in response.text and "HX-Request" in response.headers["Vary"]
    assert response.text.lstrip().startswith('<div id="category-admin"')
    return response.text


def test_the_page_and_its_tree_block_vary_on_hx_request(admin, tree):
    page = admin.get("/admin/categories")
    assert "<html" in page.text and "HX-Request" in page.headers["Vary"]
    block_only(admin.get("/admin/categories", headers=HX))


def test_htmx_create_edit_and_delete_swap_the_tree_in_place(admin, tree):
    created = create(admin, "Rust", headers=HX)
    assert created.status_code == 200
    html = block_only(created)
    assert 'href="/category/rust">Rust</a>' in html
    assert 'hx-swap-oob="true"' in html and "Added the category “Rust”." in html
    assert 'name="new-name" required type="text" value=""' in html  # a fresh form

    rust = category_named("Rust")
    moved = edit(admin, rust, headers=HX, parent_id=tree["programming"].id)
    assert moved.status_code == 200
    assert f'<select id="category-{rust.id}-parent_id"' in block_only(moved)
    assert category_named("Rust").parent_id == tree["programming"].id

    deleted = delete(admin, rust, headers=HX)
    assert deleted.status_code == 200 and 'href="/category/rust"' not in block_only(deleted)
    assert "Deleted the category “Rust”." in deleted.text


def test_htmx_errors_come_back_as_the_block_with_422(admin, tree):
    invalid = create(admin, "", headers=HX)
    assert invalid.status_code == 422 and 'id="new-name-error"' in block_only(invalid)
    loop = edit(admin, tree["programming"], headers=HX, parent_id=tree["flask"].id)
    assert loop.status_code == 422
    assert f'id="category-{tree["programming"].id}-parent_id-error"' in block_only(loop)
    full = delete(admin, tree["programming"], headers=HX)
    assert full.status_code == 422 and "still has 1 sub-category" in block_only(full)


def test_boosted_posts_get_a_full_page_redirect(admin):
    response = create(admin, "Boosted", headers={**HX, "HX-Boosted": "true"})
    assert response.headers["HX-Redirect"] == "/admin/categories"


# --- CSRF and the sidebar ---------------------------------------------------------------------

def test_csrf_is_enforced_when_enabled(app, admin, tree):
    app.config["WTF_CSRF_ENABLED"] = True
    assert create(admin, "Forged").status_code == 400
    assert delete(admin, tree["notes"]).status_code == 400
    assert edit(admin, tree["notes"], name="Forged").status_code == 400
    page = admin.get("/admin/categories").text
    token = re.search(r'name="new-csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = admin.post("/admin/categories", data={"new-csrf_token": token, "new-name": "Real", "new-parent_id": ""})
    assert response.status_code == 303
    row_token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert admin.post(f"/admin/categories/{tree['notes'].id}/delete", data={"csrf_token": row_token}).status_code == 303
    header = re.search(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', page).group(1)
    assert create(admin, "Via htmx", headers={**HX, "X-CSRFToken": header}).status_code == 200
    assert category_named("Forged") is None and category_named("Notes") is None
    assert category_named("Real") and category_named("Via htmx")


def test_the_sidebar_shows_changes_at_once(admin, tree):
    make_post(category=tree["python"])
    assert re.search(r'href="/category/python"[^>]*>Python</a>', admin.get("/").text)  # the widget is cached now
    edit(admin, tree["python"], name="Snakes")
    create(admin, "Fresh", parent=tree["programming"])
    html = admin.get("/").text
    assert re.search(r'href="/category/python"[^>]*>Snakes</a> <span class="count">1</span>', html)
    assert 'href="/category/fresh"' in html
    delete(admin, category_named("Fresh"))
    assert 'href="/category/fresh"' not in admin.get("/").text
