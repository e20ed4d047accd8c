"""Administration pages: the dashboard and the category tree."""
from __future__ import annotations

from flask import Response
from flask import flash
from flask import url_for

from blog.admin import bp
from blog.admin.forms import CategoryForm
from blog.auth.forms import apply_errors
from blog.permissions import role_required
from blog.rendering import redirect_to
from blog.rendering import render
from blog.rendering import wants_fragment
from blog.services import stats
from blog.services import taxonomy
from blog.services.errors import Invalid


@bp.get("/")
@role_required("admin")
def dashboard() -> Response:
    """Counts at a glance, and the way to each admin page."""
    return render("admin/dashboard.html", counts=stats.site_counts())


@bp.get("/categories")
@role_required("admin")
def categories() -> Response:
    """The category tree with post counts; add, rename, move and delete categories."""
    return _categories_page()


@bp.post("/categories")
@role_required("admin")
def create_category() -> Response:
    """Add a category."""
    form = CategoryForm(prefix="new", choices=taxonomy.category_choices())
    if form.validate_on_submit():
        try:
            category = taxonomy.create_category(form.name.data, form.parent_id.data, form.description.data)
        except Invalid as error:
            apply_errors(form, error.fields or {"name": [error.message]})
        else:
            return _saved(f"Added the category “{category.name}”.")
    return _categories_page(status=422, create_form=form)


@bp.post("/categories/<int:category_id>")
@role_required("admin")
def update_category(category_id: int) -> Response:
    """Rename, re-describe or move a category (its address stays the same)."""
    category = taxonomy.get_category_by_id(category_id)
    form = CategoryForm(prefix=_prefix(category_id), choices=taxonomy.category_choices(exclude=category_id))
    if form.validate_on_submit():
        try:
            taxonomy.update_category(category, name=form.name.data, parent_id=form.parent_id.data,
                                     description=form.description.data)
        except Invalid as error:
            apply_errors(form, error.fields or {"name": [error.message]})
        else:
            return _saved(f"Saved the category “{category.name}”.")
    return _categories_page(status=422, edit_form=(category_id, form))


@bp.post("/categories/<int:category_id>/delete")
@role_required("admin")
def delete_category(category_id: int) -> Response:
    """Delete an empty category."""
    category = taxonomy.get_category_by_id(category_id)
    name = category.name  # read now: the row is gone after the delete
    try:
        taxonomy.delete_category(category)
    except Invalid as error:
        return _categories_page(status=422, row_errors={category_id: [error.message]})
    return _saved(f"Deleted the category “{name}”.")


def _saved(message: str) -> Response:
    """After a change: htmx swaps the updated tree in place; a plain form post is redirected (PRG)."""
    flash(message)
    if wants_fragment():
        return _categories_page()
    return redirect_to(url_for("admin.categories"))


def _prefix(category_id: int) -> str:
    """Each row's form has its own field names and ids (``category-7-name``), so labels stay unique."""
    return f"category-{category_id}"


def _categories_page(status: int = 200, create_form: CategoryForm | None = None,
                     edit_form: tuple[int, CategoryForm] | None = None,
                     row_errors: dict[int, list[str]] | None = None) -> Response:
    """The page, or its ``tree`` block for htmx: fresh forms everywhere but the one that failed."""
    tree = taxonomy.category_overview()
    choices = [(node.id, node.label) for node in taxonomy.iter_tree(tree)]
    edit_forms = {}
    for node in taxonomy.iter_tree(tree):
        own = node.subtree_ids()  # a category cannot move under itself: not offered
        edit_forms[node.id] = CategoryForm(formdata=None, obj=node, prefix=_prefix(node.id),
                                           choices=[choice for choice in choices if choice[0] not in own])
    if edit_form is not None:
        edit_forms[edit_form[0]] = edit_form[1]
    return render("admin/categories.html", block="tree", status=status, tree=tree, edit_forms=edit_forms,
                  create_form=create_form or CategoryForm(formdata=None, prefix="new", choices=choices),
                  row_errors=row_errors or {})
