"""Comment notifications: who is mailed when a comment goes live, over real SMTP, and the one-click way out."""
from __future__ import annotations

import re

import pytest

from blog import signals
from blog.extensions import db
from blog.models import MailMessage
from blog.services import accounts
from blog.services import comments
from blog.services.errors import Invalid
from tests.factories import link_in
from tests.factories import login_as
from tests.factories import make_comment
from tests.factories import make_post
from tests.factories import make_user


@pytest.fixture
def inbox(app, smtp_server):
    """Mail goes over SMTP to the in-process server; its ``messages`` are what people received."""
    app.config.update(MAIL_SERVER=smtp_server.host, MAIL_PORT=smtp_server.port)
    return smtp_server


@pytest.fixture
def ada(app):
    """The author of the post everyone comments on."""
    return make_user(role="author", username="ada", email="ada@example.com")


@pytest.fixture
def post(ada):
    return make_post(author=ada, title="Notes on the Engine", slug="notes-on-the-engine")


@pytest.fixture
def moderator(app):
    return make_user(role="moderator", username="mo", email="mo@example.com")


def reader(name: str):
    return make_user(role="reader", username=name, email=f"{name}@example.com")


def comment(post, by, body="What a fine engine.", parent=None) -> comments.Outcome:
    """Comment the way the site does (a real form token: an empty one is taken for a bot's)."""
    return comments.add(post, by=by, body=body, parent_id=parent.id if parent else None,
                        token=comments.form_token())


def received(inbox) -> dict[str, str]:
    """Recipient → subject of every mail sent so far."""
    return {message["To"]: message["Subject"] for message in inbox.messages}


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")


def html_of(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


# --- who is mailed ------------------------------------------------------------------------

def test_the_post_author_hears_of_a_comment_once_it_is_approved(inbox, post, moderator):
    outcome = comment(post, reader("bob"), body="What a fine engine.\nDoes it compute Bernoulli numbers?")
    assert not outcome.published  # a new reader's comment waits for review
    assert inbox.messages == []
    comments.moderate(outcome.comment, "approve", by=moderator)
    [message] = inbox.messages
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "bob commented on “Notes on the Engine”"
    text = text_of(message)
    assert "bob commented on your post \"Notes on the Engine\"" in text
    assert "What a fine engine.\nDoes it compute Bernoulli numbers?" in text
    # The comment's permalink: it redirects to whichever thread page shows it (threads are paginated).
    assert f"http://localhost/comments/{outcome.comment.id}" in text
    assert "http://localhost/auth/unsubscribe/" in text
    html = html_of(message)
    assert f'href="http://localhost/comments/{outcome.comment.id}"' in html
    assert 'href="http://localhost/auth/unsubscribe/' in html
    comments.moderate(outcome.comment, "approve", by=moderator)  # approving again announces nothing
    assert len(inbox.messages) == 1


@pytest.mark.parametrize("action", ["reject", "spam"])
def test_a_rejected_comment_mails_nobody(inbox, post, moderator, action):
    outcome = comment(post, reader("bob"))
    comments.moderate(outcome.comment, action, by=moderator)
    assert inbox.messages == []


def test_a_comment_shown_at_once_mails_at_once(inbox, app, post):
    app.config["COMMENTS_REQUIRE_APPROVAL"] = False
    outcome = comment(post, reader("bob"))
    assert outcome.published
    assert received(inbox) == {"ada@example.com": "bob commented on “Notes on the Engine”"}


def test_approving_in_bulk_mails_each_post_author(inbox, post, moderator):
    grace = make_user(username="grace", email="grace@example.com")
    other = make_post(author=grace, title="Compilers")
    first, second = comment(post, reader("bob")).comment, comment(other, reader("cy")).comment
    comments.moderate_many([first.id, second.id], "approve", by=moderator)
    assert received(inbox) == {"ada@example.com": "bob commented on “Notes on the Engine”",
                               "grace@example.com": "cy commented on “Compilers”"}


def test_nobody_is_mailed_about_their_own_comment(inbox, post, ada):
    outcome = comment(post, ada, body="Thanks for reading, all.")
    assert outcome.published  # authors' comments on their own posts skip the queue
    assert inbox.messages == []


def test_a_reply_mails_the_parent_author_and_the_post_author(inbox, post, moderator):
    bob, cy = reader("bob"), reader("cy")
    parent = make_comment(post, author=bob, body="First!")
    reply = comment(post, cy, body="Second.", parent=parent).comment
    comments.moderate(reply, "approve", by=moderator)
    assert received(inbox) == {
        "bob@example.com": "cy replied to your comment on “Notes on the Engine”",
        "ada@example.com": "cy commented on “Notes on the Engine”",
    }
    to_bob = next(m for m in inbox.messages if m["To"] == "bob@example.com")
    assert "cy replied to your comment on \"Notes on the Engine\"" in text_of(to_bob)
    assert f"/comments/{reply.id}" in text_of(to_bob)  # the permalink: it finds the reply's thread page


def test_a_post_author_replied_to_gets_one_mail_about_the_reply(inbox, post, ada, moderator):
    parent = make_comment(post, author=ada, body="Questions welcome.")
    comments.moderate(comment(post, reader("cy"), parent=parent).comment, "approve", by=moderator)
    assert received(inbox) == {"ada@example.com": "cy replied to your comment on “Notes on the Engine”"}
    assert len(inbox.messages) == 1


def test_replying_to_yourself_mails_only_the_post_author(inbox, post, moderator):
    bob = reader("bob")
    parent = make_comment(post, author=bob, body="One more thing.")
    comments.moderate(comment(post, bob, parent=parent).comment, "approve", by=moderator)
    assert received(inbox) == {"ada@example.com": "bob commented on “Notes on the Engine”"}


def test_the_post_author_replying_mails_the_parent_author_only(inbox, post, ada):
    bob = reader("bob")
    parent = make_comment(post, author=bob, body="How fast is it?")
    assert comment(post, ada, body="Slow but sure.", parent=parent).published
    assert received(inbox) == {"bob@example.com": "ada replied to your comment on “Notes on the Engine”"}


@pytest.mark.parametrize("change", [{"notify_comments": False}, {"is_active": False},
                                    {"email_confirmed": False}])
def test_people_who_opted_out_or_cannot_be_mailed_get_nothing(inbox, post, ada, moderator, change):
    bob = reader("bob")
    parent = make_comment(post, author=bob, body="First!")
    for user in (ada, bob):
        for name, value in change.items():
            setattr(user, name, value)
    db.session.commit()
    comments.moderate(comment(post, reader("cy"), parent=parent).comment, "approve", by=moderator)
    assert inbox.messages == []


def test_a_reply_to_a_deleted_users_comment_mails_only_the_post_author(inbox, post, moderator):
    gone = reader("gone")
    parent = make_comment(post, author=gone, body="I was here.")
    db.session.delete(gone)
    db.session.commit()
    db.session.refresh(parent)
    assert parent.author_id is None
    comments.moderate(comment(post, reader("cy"), parent=parent).comment, "approve", by=moderator)
    assert received(inbox) == {"ada@example.com": "cy commented on “Notes on the Engine”"}


def test_a_comment_whose_writer_was_deleted_before_approval_still_reaches_the_author(inbox, post, moderator):
    gone = reader("gone")
    pending = comment(post, gone, body="Left before you read this.").comment
    db.session.delete(gone)
    db.session.commit()
    db.session.refresh(pending)
    comments.moderate(pending, "approve", by=moderator)
    [message] = inbox.messages
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Someone commented on “Notes on the Engine”"


def test_comment_text_is_escaped_in_the_html_part(inbox, post, moderator):
    body = '<script>alert("hi")</script> & <a href="https://evil.example">click</a>'
    comments.moderate(comment(post, reader("bob"), body=body).comment, "approve", by=moderator)
    [message] = inbox.messages
    html = html_of(message)
    assert "<script>" not in html and "evil.example\">" not in html
    assert "&lt;script&gt;alert(&#34;hi&#34;)&lt;/script&gt; &amp; &lt;a href=" in html
    assert body in text_of(message)  # plain text shows it as typed


def test_a_long_comment_is_cut_to_an_excerpt(inbox, post, moderator):
    body = "word " * 300 + "THE-END"
    comments.moderate(comment(post, reader("bob"), body=body).comment, "approve", by=moderator)
    text = text_of(inbox.messages[0])
    assert "word word …" in text and "THE-END" not in text


def test_mail_is_composed_with_the_approval_and_rolls_back_with_it(app, post, moderator):
    pending = comment(post, reader("bob")).comment
    signals.comment_approved.send(app, comment=pending)
    assert [m.kind for m in db.session.new if isinstance(m, MailMessage)] == ["comment_on_post"]
    db.session.rollback()
    assert db.session.query(MailMessage).count() == 0


# --- unsubscribing ------------------------------------------------------------------------

def unsubscribe_path(inbox) -> str:
    return link_in(inbox.messages[-1], "/auth/unsubscribe/")


def test_the_unsubscribe_link_asks_first_then_turns_mail_off_without_a_login(inbox, app, post, ada, moderator):
    comments.moderate(comment(post, reader("bob")).comment, "approve", by=moderator)
    path = unsubscribe_path(inbox)
    app.config["WTF_CSRF_ENABLED"] = True  # as in production: the POST must work without a CSRF token
    guest = app.test_client()  # logged out, no session

    page = guest.get(path)
    assert page.status_code == 200
    assert "Stop comment notifications for ada?" in page.text
    assert re.search(rf'<form method="post" action="{re.escape(path)}">\s*<button type="submit"', page.text)
    db.session.refresh(ada)
    assert ada.notify_comments  # a GET (a mail scanner following the link) changes nothing

    done = guest.post(path)
    assert done.status_code == 303 and done.headers["Location"] == path
    db.session.refresh(ada)
    assert not ada.notify_comments
    page = guest.get(path)
    assert "Comment notifications are off" in page.text and 'href="/auth/profile"' in page.text

    comments.moderate(comment(post, reader("cy")).comment, "approve", by=moderator)
    assert len(inbox.messages) == 1  # nothing more


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_tampered_unsubscribe_link_is_refused(client, ada, method):
    token = accounts.unsubscribe_token(ada)
    response = getattr(client, method)(f"/auth/unsubscribe/{token[:-4]}abcd")
    assert response.status_code == 400 and "Link not valid" in response.text and "not valid" in response.text
    db.session.refresh(ada)
    assert ada.notify_comments


def test_other_signed_links_are_no_unsubscribe_links(client, ada):
    # The same secret signs verification links; the salt keeps one from passing as the other.
    assert client.post(f"/auth/unsubscribe/{accounts.verification_token(ada)}").status_code == 400
    db.session.refresh(ada)
    assert ada.notify_comments


def test_an_unsubscribe_link_dies_when_the_address_changes(app, ada):
    token = accounts.unsubscribe_token(ada)
    assert accounts.user_for_unsubscribe(token) == ada
    ada.email = "ada@new.example"
    db.session.commit()
    with pytest.raises(Invalid):
        accounts.user_for_unsubscribe(token)


# --- the profile setting ------------------------------------------------------------------

def test_the_profile_checkbox_turns_notifications_off_and_on(client, ada):
    login_as(client, ada)
    checkbox = re.compile(r'<input (checked )?id="notify_comments" name="notify_comments" type="checkbox"')
    page = client.get("/auth/profile").text
    assert "Mail me about comments on my posts and replies to my comments" in page
    assert checkbox.search(page).group(1)  # on by default

    assert client.post("/auth/profile", data={"bio": "Engines."}).status_code == 303  # unticked
    db.session.refresh(ada)
    assert not ada.notify_comments and ada.bio == "Engines."
    assert not checkbox.search(client.get("/auth/profile").text).group(1)

    assert client.post("/auth/profile", data={"bio": "Engines.", "notify_comments": "y"}).status_code == 303
    db.session.refresh(ada)
    assert ada.notify_comments
    assert checkbox.search(client.get("/auth/profile").text).group(1)
