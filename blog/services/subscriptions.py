"""Email subscriptions with double opt-in: subscribe, confirm, unsubscribe, and the housekeeping.

An address follows all posts, one category (with its sub-categories) or one tag, by a mail per
new post or the Monday digest. Nothing but the confirmation mail goes to an address until it
confirms; unconfirmed rows go after a week. The links in mail carry signed tokens (no login).
What is sent to subscribers lives in ``services/digest.py``.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature
from itsdangerous import SignatureExpired
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import delete
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from blog.extensions import db
from blog.models import Category
from blog.models import MailMessage
from blog.models import Subscriber
from blog.models import SubscriptionDelivery
from blog.models import Tag
from blog.models import User
from blog.models import utcnow
from blog.models.subscription import FREQUENCIES
from blog.services.errors import Invalid
from blog.services.errors import NotFound

#: How long a confirmation link works, and how long an unconfirmed address is kept.
CONFIRM_DAYS = 7
#: A second subscribe of a pending address re-sends the confirmation only after this long.
RESEND_CONFIRMATION_AFTER = timedelta(minutes=10)
EMAIL_MAX = 254
# Deliberately loose (one @, a dot in the domain, no spaces): the confirmation mail is the real test.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Scope:
    """What a subscription follows: everything, a category or a tag."""

    key: str
    label: str
    category: Category | None = None
    tag: Tag | None = None


#: The subscribe forms' first choice.
ALL_POSTS = ("all", "All posts")


def category_choice(category, indent: int = 0) -> tuple[str, str]:
    """A subscribe form's (value, label) for following ``category`` (``indent``: its depth in a tree)."""
    return f"category:{category.slug}", "\u2003" * indent + f"Category: {category.name}"


def tag_choice(tag) -> tuple[str, str]:
    """A subscribe form's (value, label) for following ``tag``."""
    return f"tag:{tag.slug}", f"Tag: #{tag.name}"


def post_choices(post) -> list[tuple[str, str]]:
    """What the form after a post offers to follow: all posts, its category, its tags."""
    chosen = [ALL_POSTS]
    if post.category is not None:
        chosen.append(category_choice(post.category))
    chosen += [tag_choice(tag) for tag in post.tags]
    return chosen


def normalise_email(value: str) -> str:
    """The address, trimmed and lower-cased. Raises Invalid when it is empty, too long or malformed."""
    email = (value or "").strip().lower()
    if not email:
        raise Invalid("Enter your email address.", fields={"email": ["Enter your email address."]})
    if len(email) > EMAIL_MAX:
        raise Invalid("That address is too long.", fields={"email": [f"At most {EMAIL_MAX} characters."]})
    if not _EMAIL.match(email) or any(ord(ch) < 32 for ch in email):
        raise Invalid("That does not look like an email address.",
                      fields={"email": ["That does not look like an email address."]})
    return email


def scope_for(value: str | None) -> Scope:
    """The scope a form field names (``all``, ``category:<slug>``, ``tag:<slug>``). Raises Invalid."""
    kind, _, slug = (value or "all").partition(":")
    if kind == "all" and not slug:
        return Scope("all", "all posts")
    if kind == "category" and slug:
        category = db.session.scalar(select(Category).where(Category.slug == slug))
        if category is not None:
            return Scope(f"category:{category.id}", f"posts in {category.name}", category=category)
    if kind == "tag" and slug:
        tag = db.session.scalar(select(Tag).where(Tag.slug == slug))
        if tag is not None:
            return Scope(f"tag:{tag.id}", f"posts tagged #{tag.name}", tag=tag)
    raise Invalid("Choose what to follow.", fields={"scope": ["There is no such category or tag."]})


def describe(subscriber: Subscriber) -> str:
    """What a subscription follows, in words."""
    if subscriber.category is not None:
        return f"posts in {subscriber.category.name}"
    if subscriber.tag is not None:
        return f"posts tagged #{subscriber.tag.name}"
    return "all posts"


def subscribe(email: str, *, scope: Scope, frequency: str, user: User | None = None) -> Subscriber:
    """Subscribe ``email`` (pending until confirmed); subscribing again finds the same row.

    A signed-in user subscribing their own confirmed address needs no confirmation mail. Otherwise
    a new or still-pending row gets a confirmation mail (a repeat only after a few minutes, so the
    form cannot be used to flood an inbox). The answer is the same whatever the address's state, so
    the form does not tell strangers who subscribes.

    Raises:
        Invalid: a malformed address or an unknown frequency.
    """
    email = normalise_email(email)
    if frequency not in FREQUENCIES:
        raise Invalid("Choose how often.", fields={"frequency": ["Choose each new post or the weekly digest."]})
    own = (user is not None and getattr(user, "is_authenticated", False) and user.email_confirmed
           and user.email.lower() == email)
    now = utcnow()
    subscriber = _find(email, scope.key)
    if subscriber is None:
        subscriber = Subscriber(email=email, scope=scope.key, category_id=scope.category.id if scope.category else None,
                                tag_id=scope.tag.id if scope.tag else None, frequency=frequency,
                                user_id=user.id if own else None)
        db.session.add(subscriber)
        try:
            db.session.flush()
        except IntegrityError:  # the same address and scope subscribed at the same moment: keep theirs
            db.session.rollback()
            subscriber = _find(email, scope.key)
            if subscriber is None:
                raise
    if subscriber.confirmed_at is None:
        subscriber.frequency = frequency  # still pending: the latest choice counts
        if own:
            subscriber.confirmed_at, subscriber.user_id = now, user.id
        elif subscriber.confirm_sent_at is None or subscriber.confirm_sent_at <= now - RESEND_CONFIRMATION_AFTER:
            _send_confirmation(subscriber, scope.label)
            subscriber.confirm_sent_at = now
    elif own:
        subscriber.frequency, subscriber.user_id = frequency, user.id  # the owner may change it here
    db.session.commit()
    return subscriber


def _find(email: str, scope_key: str) -> Subscriber | None:
    return db.session.scalar(select(Subscriber).where(Subscriber.email == email, Subscriber.scope == scope_key))


def _send_confirmation(subscriber: Subscriber, label: str) -> None:
    from blog.services import mail

    db.session.flush()  # the token needs the id
    mail.compose("subscribe_confirm", subscriber.email, "subscribe_confirm",
                 f"Confirm your subscription to {current_app.config['SITE_NAME']}",
                 label=label, frequency=subscriber.frequency, days=CONFIRM_DAYS,
                 confirm_url=mail.absolute_url("subscriptions.confirm", token=confirmation_token(subscriber)))


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"blog.subscriptions.{purpose}")


def _fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:20]


def _load(purpose: str, token: str, max_age: timedelta | None) -> dict:
    try:
        data = _serializer(purpose).loads(token, max_age=int(max_age.total_seconds()) if max_age else None)
    except SignatureExpired:
        raise Invalid("This link has expired. Subscribe again to get a new one.") from None
    except BadSignature:
        raise Invalid("This link is not valid. Check that you copied all of it.") from None
    if not isinstance(data, dict) or not isinstance(data.get("email"), str):
        raise Invalid("This link is not valid. Check that you copied all of it.")
    return data


def confirmation_token(subscriber: Subscriber) -> str:
    """A signed token confirming one pending subscription (valid CONFIRM_DAYS days)."""
    return _serializer("confirm").dumps({"id": subscriber.id, "email": _fingerprint(subscriber.email)})


def for_confirmation(token: str) -> Subscriber:
    """The subscription a confirmation link is for. Raises Invalid when expired, tampered or gone."""
    data = _load("confirm", token, timedelta(days=CONFIRM_DAYS))
    subscriber = db.session.get(Subscriber, data.get("id")) if isinstance(data.get("id"), int) else None
    if subscriber is None or _fingerprint(subscriber.email) != data["email"]:
        raise Invalid("This link is not valid any more. Subscribe again to get a new one.")
    return subscriber


def confirm(token: str) -> Subscriber:
    """Confirm the subscription a link is for (confirming twice is fine). Raises Invalid."""
    subscriber = for_confirmation(token)
    if subscriber.confirmed_at is None:
        subscriber.confirmed_at = utcnow()
        db.session.commit()
    return subscriber


def unsubscribe_token(email: str, ids: list[int]) -> str:
    """A signed, never-expiring token that ends the subscriptions ``ids`` of ``email`` (for links in mail)."""
    return _serializer("unsubscribe").dumps({"email": email, "ids": sorted(set(ids))})


def for_unsubscribe(token: str) -> list[Subscriber]:
    """The subscriptions an unsubscribe link still ends (empty once done). Raises Invalid when tampered."""
    data = _load("unsubscribe", token, None)
    ids = data.get("ids")
    if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
        raise Invalid("This link is not valid. Check that you copied all of it.")
    if not ids:
        return []
    return list(db.session.scalars(
        select(Subscriber).where(Subscriber.id.in_(ids), Subscriber.email == data["email"]).order_by(Subscriber.id)))


def unsubscribe(subscribers: list[Subscriber]) -> int:
    """End these subscriptions; how many there were."""
    for subscriber in subscribers:
        db.session.delete(subscriber)
    db.session.commit()
    return len(subscribers)


def for_user(user: User) -> list[Subscriber]:
    """The subscriptions of a signed-in user: made while signed in, or confirmed for their address."""
    return list(db.session.scalars(
        select(Subscriber).where(or_(Subscriber.user_id == user.id,
                                     (Subscriber.email == user.email.lower()) & Subscriber.confirmed_at.is_not(None)))
        .order_by(Subscriber.id)))


def _owned(user: User, subscriber_id: int) -> Subscriber:
    subscriber = next((s for s in for_user(user) if s.id == subscriber_id), None)
    if subscriber is None:
        raise NotFound("You have no such subscription.")
    return subscriber


def change_frequency(user: User, subscriber_id: int, frequency: str) -> Subscriber:
    """Switch one of ``user``'s subscriptions between each new post and the digest. Raises NotFound, Invalid."""
    subscriber = _owned(user, subscriber_id)
    if frequency not in FREQUENCIES:
        raise Invalid("Choose how often.", fields={"frequency": ["Choose each new post or the weekly digest."]})
    subscriber.frequency = frequency
    db.session.commit()
    return subscriber


def cancel(user: User, subscriber_id: int) -> None:
    """End one of ``user``'s subscriptions from the profile page. Raises NotFound."""
    unsubscribe([_owned(user, subscriber_id)])


def purge_unconfirmed(now: datetime | None = None) -> int:
    """Delete subscriptions left unconfirmed for more than CONFIRM_DAYS days; how many."""
    cutoff = (now or utcnow()) - timedelta(days=CONFIRM_DAYS)
    result = db.session.execute(
        delete(Subscriber).where(Subscriber.confirmed_at.is_(None), Subscriber.created_at < cutoff))
    db.session.commit()
    return result.rowcount or 0


def mark_bounced(now: datetime | None = None) -> int:
    """Mark addresses whose subscription mail the outbox gave up on (SMTP refused it every time); how many.

    The outbox retries each mail with back-off up to MAIL_MAX_ATTEMPTS; when the server refused the
    recipient every time, the address is skipped by every later run (``bounced_at``).
    """
    # Only refusals of the recipient: a server that was down for hours gives up on mail too,
    # and must not unsubscribe everyone.
    given_up = (select(SubscriptionDelivery.email)
                .join(MailMessage, MailMessage.id == SubscriptionDelivery.mail_id)
                .where(MailMessage.sent_at.is_(None), MailMessage.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"],
                       MailMessage.last_error.like("SMTPRecipientsRefused%")))
    result = db.session.execute(
        update(Subscriber).where(Subscriber.bounced_at.is_(None), Subscriber.email.in_(given_up))
        .values(bounced_at=now or utcnow()))
    db.session.commit()
    return result.rowcount or 0
