"""Subscribe by email (double opt-in), confirm, unsubscribe in one click, and manage your own."""
from __future__ import annotations

from flask import Response
from flask import flash
from flask import request
from flask import url_for
from flask_login import current_user
from flask_login import login_required

from blog.extensions import csrf
from blog.extensions import limiter
from blog.rendering import redirect_to
from blog.rendering import render
from blog.rendering import wants_fragment
from blog.services import subscriptions
from blog.services import taxonomy
from blog.services.errors import Invalid
from blog.subscriptions import bp

SENT = ("Almost done: we sent a confirmation link to {email}. Nothing else will arrive until you open it. "
        "(If you were already subscribed, nothing changes.)")


def _choices() -> list[tuple[str, str]]:
    """Everything one can follow: all posts, each category (indented by depth), each tag."""
    chosen = [subscriptions.ALL_POSTS]

    def walk(nodes, depth: int) -> None:
        for node in nodes:
            chosen.append(subscriptions.category_choice(node, depth))
            walk(node.children, depth + 1)

    walk(taxonomy.category_tree(), 0)
    chosen += [subscriptions.tag_choice(tag) for tag in taxonomy.tag_cloud(limit=200)]
    return chosen


#: The places a subscribe form sits (its id prefix comes back with it, so an htmx answer keeps it).
FORM_IDS = ("subscribe-page", "footer-subscribe", "subscribe-after", "mine")


def _form_values() -> dict[str, str]:
    form_id = request.values.get("form_id", "")
    return {"email": request.values.get("email", "")[:320], "scope": request.values.get("scope", "all")[:120],
            "frequency": request.values.get("frequency", "digest"),
            "form_id": form_id if form_id in FORM_IDS else "subscribe-page"}


@bp.get("/subscribe")
def subscribe_page() -> Response:
    """The subscribe form: what to follow and how often."""
    return render("subscriptions/subscribe.html", block="form", values=_form_values(), choices=_choices(),
                  errors={}, sent=None)


# No CSRF token: the form sits on every guest page, and a token would give every guest a session
# cookie and make no page shareable by a cache. A forged cross-site subscribe can do no harm: it
# only sends a confirmation mail (double opt-in), rate-limited per address.
@csrf.exempt
@bp.post("/subscribe")
@limiter.limit("5/minute;30/hour", methods=["POST"])
def subscribe() -> Response:
    """Subscribe an address; a confirmation mail follows (the same answer whatever the address's state)."""
    values = _form_values()
    try:
        scope = subscriptions.scope_for(values["scope"])
        subscriber = subscriptions.subscribe(values["email"], scope=scope, frequency=values["frequency"],
                                             user=current_user)
    except Invalid as error:
        return render("subscriptions/subscribe.html", block="form", status=422, values=values,
                      choices=_choices(), errors=error.fields, sent=None)
    if subscriber.confirmed_at is not None and subscriber.user_id == getattr(current_user, "id", None):
        message = f"You are subscribed to {subscriptions.describe(subscriber)}."
    else:
        message = SENT.format(email=subscriber.email)
    if wants_fragment():  # the form gives way to the answer, which takes the focus
        return render("subscriptions/subscribe.html", block="sent_note", values=values, sent=message)
    flash(message)
    return redirect_to(url_for("subscriptions.subscribe_page"))


# The signed token in the URL is the whole authentication of the next two views: they work from
# the mail, logged out, with no session and so no CSRF token. A forged cross-site POST would need
# the token, and the worst it could do is confirm or end that one subscription.
@csrf.exempt
@bp.route("/subscribe/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str) -> Response:
    """Confirm a subscription from the link in the mail (GET asks with one button: mail scanners open links)."""
    if request.method == "POST":
        try:
            subscriber = subscriptions.confirm(token)
        except Invalid as error:
            return render("subscriptions/confirm.html", status=400, error=error.message, token=token)
        return render("subscriptions/confirm.html", subscriber=subscriber, label=subscriptions.describe(subscriber),
                      done=True, token=token)
    try:
        subscriptions.for_confirmation(token)
    except Invalid as error:
        return render("subscriptions/confirm.html", status=400, error=error.message, token=token)
    return render("subscriptions/confirm.html", token=token, done=False)


@csrf.exempt
@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str) -> Response:
    """End subscriptions: POST does it at once (RFC 8058 one-click from the mail client); GET asks first."""
    try:
        found = subscriptions.for_unsubscribe(token)
    except Invalid as error:
        return render("subscriptions/unsubscribe.html", status=400, error=error.message)
    if request.method == "POST":
        ended = [subscriptions.describe(s) for s in found]
        subscriptions.unsubscribe(found)
        return render("subscriptions/unsubscribe.html", ended=ended, done=True)
    return render("subscriptions/unsubscribe.html", found=[subscriptions.describe(s) for s in found],
                  token=token, done=False)


@bp.get("/subscriptions")
@login_required
def mine() -> Response:
    """Your own email subscriptions: change how often, or end them."""
    return render("subscriptions/mine.html", subscribers=subscriptions.for_user(current_user),
                  describe=subscriptions.describe, choices=_choices(), values={"email": current_user.email,
                  "scope": "all", "frequency": "digest"}, errors={}, sent=None)


@bp.post("/subscriptions/<int:subscriber_id>")
@login_required
def change(subscriber_id: int) -> Response:
    """Switch one of your subscriptions between each new post and the weekly digest."""
    try:
        subscriptions.change_frequency(current_user, subscriber_id, request.form.get("frequency", ""))
    except Invalid as error:
        flash(error.message)
    else:
        flash("Subscription updated.")
    return redirect_to(url_for("subscriptions.mine"))


@bp.post("/subscriptions/<int:subscriber_id>/cancel")
@login_required
def cancel(subscriber_id: int) -> Response:
    """End one of your subscriptions."""
    subscriptions.cancel(current_user, subscriber_id)
    flash("Subscription ended.")
    return redirect_to(url_for("subscriptions.mine"))
