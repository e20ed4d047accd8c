"""Receivers of domain signals: mail that follows account and comment events, and the search index
that follows posts. Views never send mail (or touch the index) themselves."""
from __future__ import annotations

from blog import signals
from blog.extensions import db
from blog.models import Comment
from blog.models import Post
from blog.models import User
from blog.services import accounts
from blog.services import digest
from blog.services import fulltext


def send_verification_mail(sender, user: User, **extra) -> None:
    """A new account gets a link to confirm its address (admins created as verified do not)."""
    if not user.email_confirmed:
        from blog.services import mail

        mail.compose("verify_email", user.email, "verify_email", "Confirm your email address",
                     user=user, token=accounts.verification_token(user))


def send_password_notice(sender, user: User, **extra) -> None:
    """Tell the owner their password changed, in case it was not them."""
    from blog.services import mail

    mail.compose("password_changed", user.email, "password_changed", "Your password was changed", user=user)


def notify_about_comment(sender, comment: Comment, **extra) -> None:
    """Mail the post's author about a new comment, and the parent comment's author about a reply.

    Nobody hears about their own comment, and each person gets one mail: a post's author who
    also wrote the comment replied to gets the reply. Only people who want these mails get them
    (``notify_comments``), on active accounts with a confirmed address.
    """
    from blog.services import mail

    post = comment.post
    recipients: dict[int, tuple[User, str]] = {}
    if comment.parent_id is not None:
        parent = db.session.get(Comment, comment.parent_id)
        # A reply to a comment its writer has since removed does not call them back.
        if parent is not None and parent.author is not None and not parent.is_removed:
            recipients[parent.author.id] = (parent.author, "comment_reply")
    if post.author is not None:
        recipients.setdefault(post.author.id, (post.author, "comment_on_post"))
    commenter = comment.author.username if comment.author is not None else "Someone"
    comment_url = mail.absolute_url("comments.permalink", comment_id=comment.id)  # the thread page that shows it
    for user_id, (user, kind) in recipients.items():
        if user_id == comment.author_id or not (user.notify_comments and user.is_active and user.email_confirmed):
            continue
        subject = (f"{commenter} replied to your comment on “{post.title}”" if kind == "comment_reply"
                   else f"{commenter} commented on “{post.title}”")
        unsubscribe_url = mail.absolute_url("auth.unsubscribe", token=accounts.unsubscribe_token(user))
        mail.compose(kind, user.email, kind, subject, user=user, post=post, comment=comment,
                     commenter=commenter, excerpt=_excerpt(comment.body), comment_url=comment_url,
                     unsubscribe_url=unsubscribe_url, headers=mail.unsubscribe_headers(unsubscribe_url))


def _excerpt(text: str, length: int = 400) -> str:
    # Plain text, lines kept (they are the writer's paragraphs), cut at a word near ``length``.
    text = "\n".join(line.rstrip() for line in text.strip().splitlines())
    return text if len(text) <= length else text[:length].rsplit(maxsplit=1)[0] + " …"


def index_post(sender, post: Post, **extra) -> None:
    """Keep the search index in step with a saved post: (re)indexed while published, out otherwise.

    ``post_updated`` is sent before the commit, so the index row is written in the same
    transaction as the post: both land, or neither does.
    """
    fulltext.index(post)


def unindex_post(sender, post_id: int, **extra) -> None:
    """Drop a deleted post from the search index.

    The database already does (ON DELETE CASCADE on PostgreSQL, a trigger on SQLite), also for
    posts deleted with their author's account; this keeps the rule visible here, and costs one
    DELETE that usually finds nothing.
    """
    fulltext.unindex(post_id)
    db.session.commit()


def connect() -> None:
    """Subscribe the receivers (idempotent: blinker keeps one connection per receiver)."""
    signals.user_registered.connect(send_verification_mail)
    signals.password_changed.connect(send_password_notice)
    signals.comment_approved.connect(notify_about_comment)
    signals.post_updated.connect(index_post)
    signals.post_deleted.connect(unindex_post)
    signals.post_published.connect(digest.announce)
