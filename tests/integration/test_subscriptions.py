"""Email subscriptions: double opt-in, the weekly digest, new-post mail and one-click unsubscribe."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func
from sqlalchemy import select

from blog.extensions import db
from blog.models import Category
from blog.models import MailMessage
from blog.models import PostAnnouncement
from blog.models import Subscriber
from blog.models import SubscriptionDelivery
from blog.models import utcnow
from blog.services import digest
from blog.services import posts
from blog.services import subscriptions
from tests.conftest import read_outbox
from tests.factories import link_in
from tests.factories import login_as
from tests.factories import make_post
from tests.factories import make_user


@pytest.fixture
def databases(app):
    category = Category(name="Databases", slug="databases")
    db.session.add(category)
    db.session.commit()
    return category


def outbox(app):
    return read_outbox(app.config["MAIL_OUTBOX"])


def subscribe(client, email="ann@example.com", scope="all", frequency="digest", **headers):
    return client.post("/subscribe", data={"email": email, "scope": scope, "frequency": frequency}, headers=headers)


def confirm_from_mail(client, message):
    path = link_in(message, "/subscribe/confirm/")
    page = client.get(path)
    assert page.status_code == 200 and "Yes, subscribe me" in page.text  # GET only asks: scanners open links
    return client.post(path)


def test_guest_weekly_digest_of_a_category_sent_once_and_one_click_unsubscribe(app, client, runner, databases):
    response = subscribe(client, scope="category:databases")
    assert response.status_code == 303
    [confirmation] = outbox(app)
    assert confirmation["Subject"] == "Confirm your subscription to Inkwell"
    assert "List-Unsubscribe" not in confirmation  # not bulk mail
    assert db.session.scalar(select(Subscriber)).confirmed_at is None
    assert "You are subscribed" in confirm_from_mail(client, confirmation).text

    make_post(title="Indexes that help", category=databases, age_hours=2)
    make_post(title="Unrelated", age_hours=2)
    first = runner.invoke(args=["send-digest"])
    assert first.exit_code == 0, first.output
    assert "Queued 1 digest mails" in first.output
    again = runner.invoke(args=["send-digest"])
    assert "Queued 0 digest mails" in again.output

    [_, mail] = outbox(app)
    assert mail["To"] == "ann@example.com" and mail["From"].startswith("Inkwell <")
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "Indexes that help" in text and "Indexes that help" in html
    assert "Unrelated" not in text
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = mail["List-Unsubscribe"].strip("<>")
    assert url.startswith("http://localhost/unsubscribe/")
    assert url in text  # the plain link in the body is the same

    # RFC 8058: the mail client POSTs this body, with no cookie and no CSRF token.
    app.config["WTF_CSRF_ENABLED"] = True
    answer = app.test_client().post(urlsplit(url).path, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200 and "You are unsubscribed" in answer.text
    assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 0
    assert "Already unsubscribed" in client.get(urlsplit(url).path).text


def test_plain_unsubscribe_link_asks_before_ending(app, client):
    subscriber = Subscriber(email="bo@example.com", scope="all", frequency="post", confirmed_at=utcnow())
    db.session.add(subscriber)
    db.session.commit()
    path = "/unsubscribe/" + subscriptions.unsubscribe_token("bo@example.com", [subscriber.id])
    page = client.get(path)
    assert page.status_code == 200 and "Stop these mails?" in page.text and "all posts" in page.text
    assert db.session.get(Subscriber, subscriber.id) is not None  # GET changed nothing
    client.post(path)
    assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 0


def test_subscribing_twice_gives_one_pending_row_and_one_mail(app, client):
    first, second = subscribe(client), subscribe(client, email=" ANN@example.com ")
    assert first.status_code == second.status_code == 303
    assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 1
    assert len(outbox(app)) == 1
    page = client.get("/subscribe")
    assert "we sent a confirmation link" in page.text


@pytest.mark.parametrize("email, message", [
    ("", "Enter your email address."),
    ("not-an-address", "does not look like an email address"),
    ("a@b", "does not look like an email address"),
    ("x" * 250 + "@example.com", "At most 254 characters."),
    ("ann@example.com\r\nBcc: eve@example.com", "does not look like an email address"),
])
def test_bad_addresses_get_a_form_error_and_no_row(app, client, email, message):
    response = subscribe(client, email=email)
    assert response.status_code == 422 and message in response.text
    assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 0
    assert outbox(app) == []


def test_unknown_scope_or_frequency_is_a_form_error(app, client):
    assert "There is no such category or tag." in subscribe(client, scope="category:nope").text
    response = subscribe(client, frequency="hourly")
    assert response.status_code == 422 and "Choose each new post or the weekly digest." in response.text
    assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 0


def test_htmx_subscribe_swaps_the_form_with_the_answer(app, client):
    response = client.post("/subscribe", data={"email": "ann@example.com", "form_id": "footer-subscribe"},
                           headers={"HX-Request": "true"})
    assert response.status_code == 200 and "<html" not in response.text
    assert "we sent a confirmation link to ann@example.com" in response.text and "autofocus" in response.text
    assert 'id="footer-subscribe-form"' in response.text
    bad = client.post("/subscribe", data={"email": "nope", "form_id": "subscribe-after"}, headers={"HX-Request": "true"})
    assert bad.status_code == 422 and "<html" not in bad.text
    assert 'id="subscribe-after-form"' in bad.text and 'aria-invalid="true"' in bad.text
    odd = client.post("/subscribe", data={"email": "nope", "form_id": '"><script>'}, headers={"HX-Request": "true"})
    assert 'id="subscribe-page-form"' in odd.text and "<script>" not in odd.text


def test_fifty_subscribes_a_minute_from_one_address_are_rate_limited(app, client):
    answers = [subscribe(client, email=f"n{i}@example.com").status_code for i in range(8)]
    assert answers[:5] == [303] * 5 and set(answers[5:]) == {429}
    assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 5


def test_expired_or_tampered_confirmation_is_a_clear_page(app, client, monkeypatch):
    import time

    subscribe(client)
    path = link_in(outbox(app)[0], "/subscribe/confirm/")
    tampered = client.post(path[:-3] + "abc")
    assert tampered.status_code == 400 and "This link is not valid" in tampered.text
    subscriber = db.session.scalar(select(Subscriber))
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - 8 * 86400)  # a link made eight days ago
    old = subscriptions.confirmation_token(subscriber)
    monkeypatch.setattr(time, "time", real)
    expired = client.post(f"/subscribe/confirm/{old}")
    assert expired.status_code == 400 and "This link has expired" in expired.text
    assert client.get(f"/subscribe/confirm/{old}").status_code == 400
    assert db.session.scalar(select(Subscriber)).confirmed_at is None
    assert client.get("/unsubscribe/garbage").status_code == 400


def test_unconfirmed_get_nothing_and_are_purged_after_a_week(app, client):
    subscribe(client)
    make_post(title="Fresh", age_hours=1)
    assert digest.send_digest().sent == 0
    subscriber = db.session.scalar(select(Subscriber))
    assert subscriptions.purge_unconfirmed() == 0
    subscriber.created_at = utcnow() - timedelta(days=8)
    db.session.commit()
    assert subscriptions.purge_unconfirmed() == 1


def test_no_digest_when_the_week_had_no_posts(app):
    db.session.add(Subscriber(email="c@example.com", scope="all", frequency="digest", confirmed_at=utcnow()))
    db.session.commit()
    make_post(title="Old", age_hours=24 * 10)
    report = digest.send_digest()
    assert report.posts == 0 and report.sent == 0
    assert outbox(app) == []


def test_dry_run_sends_and_records_nothing(app, runner):
    db.session.add(Subscriber(email="c@example.com", scope="all", frequency="digest", confirmed_at=utcnow()))
    db.session.commit()
    make_post(title="Fresh", age_hours=1)
    result = runner.invoke(args=["send-digest", "--dry-run"])
    assert "Would send 1 digest mails" in result.output
    assert outbox(app) == [] and db.session.scalar(select(func.count()).select_from(SubscriptionDelivery)) == 0
    assert "Queued 1 digest mails" in runner.invoke(args=["send-digest"]).output


def test_since_option_widens_the_window(app, runner):
    db.session.add(Subscriber(email="c@example.com", scope="all", frequency="digest", confirmed_at=utcnow()))
    db.session.commit()
    make_post(title="Three weeks old", age_hours=24 * 21)
    since = (utcnow() - timedelta(days=30)).strftime("%Y-%m-%d")
    result = runner.invoke(args=["send-digest", "--since", since])
    assert "Queued 1 digest mails" in result.output
    assert "Three weeks old" in outbox(app)[0].get_body(("plain",)).get_content()
    assert runner.invoke(args=["send-digest", "--since", "not-a-date"]).exit_code == 2


def test_one_digest_per_address_whatever_it_follows_and_a_run_taken_over_skips_done_addresses(app, databases):
    post = make_post(title="Joins", category=databases, tags=["sql"], age_hours=1)
    tag_id = post.tags[0].id
    for scope, extra in (("all", {}), ("category:%d" % databases.id, {"category_id": databases.id}),
                         ("tag:%d" % tag_id, {"tag_id": tag_id})):
        db.session.add(Subscriber(email="d@example.com", scope=scope, frequency="digest", confirmed_at=utcnow(), **extra))
    db.session.add(Subscriber(email="e@example.com", scope="all", frequency="digest", confirmed_at=utcnow()))
    # Another consumer already mailed e@ this week (its row is there): this run must not mail it again.
    db.session.add(SubscriptionDelivery(email="e@example.com", key=f"digest:{digest.week_key()}"))
    db.session.commit()
    report = digest.send_digest()
    assert report.sent == 1
    assert [m["To"] for m in outbox(app)] == ["d@example.com"]
    # Its unsubscribe link ends all three of d@'s subscriptions that brought the post.
    path = urlsplit(outbox(app)[0]["List-Unsubscribe"].strip("<>")).path
    assert len(subscriptions.for_unsubscribe(path.rsplit("/", 1)[1])) == 3


def test_digest_is_due_monday_from_eight_in_the_site_time_zone(app):
    from datetime import datetime

    app.config["TIMEZONE"] = "Europe/Berlin"
    # Monday 2026-11-30 07:30 UTC is 08:30 in Berlin (UTC+1): due; 06:30 UTC is 07:30 there: not yet.
    assert digest.digest_due(datetime(2026, 11, 30, 7, 30))
    assert not digest.digest_due(datetime(2026, 11, 30, 6, 30))
    assert not digest.digest_due(datetime(2026, 12, 1, 9, 0))  # Tuesday: only an unfinished run resumes
    assert digest.week_key(datetime(2026, 11, 30, 7, 30)) == "2026-W49"
    assert digest.week_key(datetime(2026, 11, 30, 6, 30)) == "2026-W48"


def test_new_post_mail_once_per_address_when_first_published(app):
    author = make_user(role="author")
    db.session.add_all([Subscriber(email="f@example.com", scope="all", frequency="post", confirmed_at=utcnow()),
                        Subscriber(email="g@example.com", scope="all", frequency="digest", confirmed_at=utcnow()),
                        Subscriber(email="h@example.com", scope="all", frequency="post")])  # unconfirmed
    db.session.commit()
    post = posts.save(posts.PostInput(title="Launch day", body="We *launched*.", status="published"), by=author)
    assert db.session.get(PostAnnouncement, post.id) is not None
    [report] = digest.send_announcements()
    assert report.sent == 1
    assert digest.send_announcements() == []  # done: nothing pending
    # Unpublished and published again: not announced twice.
    posts.save(posts.PostInput(title="Launch day", body="We *launched*.", status="draft"), by=author, post=post)
    posts.save(posts.PostInput(title="Launch day", body="We *launched*.", status="published"), by=author, post=post)
    assert digest.send_announcements() == []
    [mail] = outbox(app)
    assert mail["To"] == "f@example.com" and mail["Subject"] == "New on Inkwell: Launch day"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_scheduled_post_is_announced_when_it_goes_live(app):
    author = make_user(role="author")
    db.session.add(Subscriber(email="f@example.com", scope="all", frequency="post", confirmed_at=utcnow()))
    db.session.commit()
    post = make_post(author=author, title="Later", status="scheduled", published_at=utcnow() - timedelta(minutes=1))
    posts.publish_due()
    [report] = digest.send_announcements()
    assert report.sent == 1 and report.key == f"post:{post.id}"


@pytest.fixture
def refusing_smtp(app):
    """An SMTP server that refuses every recipient (550), as for an address that does not exist."""
    from aiosmtpd.controller import Controller

    from tests.conftest import free_port

    class Refuse:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
            return "550 5.1.1 No such user"

    port = free_port()
    controller = Controller(Refuse(), hostname="127.0.0.1", port=port, server_hostname="localhost", ready_timeout=5)
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_MAX_ATTEMPTS=1)
    yield
    controller.stop()


def test_bounced_addresses_are_marked_and_skipped(app, refusing_smtp):
    db.session.add(Subscriber(email="bad@example.com", scope="all", frequency="digest", confirmed_at=utcnow()))
    db.session.commit()
    make_post(title="Fresh", age_hours=1)
    digest.send_digest()
    message = db.session.scalar(select(MailMessage))
    assert message.sent_at is None and message.last_error.startswith("SMTPRecipientsRefused")
    assert subscriptions.mark_bounced() == 1
    assert db.session.scalar(select(Subscriber)).bounced_at is not None
    assert digest.subscriber_count("digest") == 0
    make_post(title="Next", age_hours=0)
    assert digest.send_announcements() == []  # nothing pending for a digest subscriber either way


def test_a_server_that_was_down_marks_nobody_bounced(app):
    from tests.conftest import free_port

    db.session.add(Subscriber(email="ok@example.com", scope="all", frequency="digest", confirmed_at=utcnow()))
    db.session.commit()
    make_post(title="Fresh", age_hours=1)
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_MAX_ATTEMPTS=1)  # nothing listens
    digest.send_digest()
    assert db.session.scalar(select(MailMessage)).sent_at is None
    assert subscriptions.mark_bounced() == 0


def test_signed_in_user_manages_their_subscriptions_on_their_profile(app, client, databases):
    user = make_user(role="reader", email="reader@example.com")
    login_as(client, user)
    subscribe(client, email="reader@example.com", scope="category:databases", frequency="post")
    assert outbox(app) == []  # their own confirmed address: no confirmation mail needed
    page = client.get("/subscriptions")
    assert "posts in Databases" in page.text
    subscriber = db.session.scalar(select(Subscriber))
    assert subscriber.confirmed_at is not None
    client.post(f"/subscriptions/{subscriber.id}", data={"frequency": "digest"})
    assert db.session.get(Subscriber, subscriber.id).frequency == "digest"
    other = make_user(role="reader")
    login_as(client, other)
    assert client.post(f"/subscriptions/{subscriber.id}/cancel").status_code == 404  # not theirs
    login_as(client, user)
    client.post(f"/subscriptions/{subscriber.id}/cancel")
    assert db.session.get(Subscriber, subscriber.id) is None


def test_subscribe_form_is_in_every_footer_and_after_a_post(app, client, databases):
    import re
    post = make_post(title="With form", category=databases, tags=["sql"])
    for path in ("/", "/tags", "/archive", f"/blog/{post.slug}", "/search?q=form", "/category/databases"):
        response = client.get(path)
        page = response.text
        footer = page.split('<footer class="site-footer">', 1)[1]
        assert 'id="footer-subscribe-form"' in footer and 'action="/subscribe"' in footer, path
        assert '<label for="footer-subscribe-email">Email address</label>' in footer, path
        assert "Set-Cookie" not in response.headers, path  # guests stay cookieless
        ids = re.findall(r'\bid="([^"]+)"', page)
        assert len(ids) == len(set(ids)), (path, [i for i in ids if ids.count(i) > 1])
    for path in ("/auth/login", "/auth/register", "/auth/reset", "/subscribe"):  # their own forms ask for an email
        assert 'id="footer-subscribe-form"' not in client.get(path).text, path
    home = client.get("/").text
    assert home.count('class="subscribe-form"') == 1  # the sidebar no longer repeats it
    assert 'href="/feed.atom"' in home.split('aria-label="Main"', 1)[1].split("</nav>", 1)[0]  # beside RSS
    category = client.get("/category/databases").text
    footer = category.split('<footer class="site-footer">', 1)[1]
    assert 'value="category:databases"' in footer
    sidebar = category.split('<aside class="sidebar"', 1)[1].split("</aside>", 1)[0]
    assert 'href="/category/databases/feed.atom"' in sidebar and 'href="/category/databases/feed.xml"' in sidebar
    tag = client.get("/tag/sql").text.split('<aside class="sidebar"', 1)[1]
    assert 'href="/tag/sql/feed.atom"' in tag
    author = client.get(f"/user/{post.author.username}").text
    assert f'href="/user/{post.author.username}/feed.atom"' in author
    assert f'rel="alternate" type="application/atom+xml"' in author
    detail = client.get(f"/blog/{post.slug}").text
    assert 'id="subscribe-after-form"' in detail and 'value="tag:sql"' in detail
    assert 'for="subscribe-after-email"' in detail  # labelled


def test_comment_notifications_carry_one_click_unsubscribe(app):
    from blog.models import User
    from blog.services import comments

    author = make_user(role="author", email="ada@example.com")
    post = make_post(author=author)
    outcome = comments.add(post, by=make_user(role="moderator"), body="Fine engine.", token=comments.form_token())
    assert outcome.published
    [sent] = outbox(app)
    url = sent["List-Unsubscribe"].strip("<>")
    assert url.startswith("http://localhost/auth/unsubscribe/") and url in sent.get_body(("plain",)).get_content()
    assert sent["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # The one-click POST from the mail client: no session, no CSRF token, no confirmation page.
    app.config["WTF_CSRF_ENABLED"] = True
    app.test_client().post(urlsplit(url).path, data={"List-Unsubscribe": "One-Click"})
    assert db.session.get(User, author.id).notify_comments is False


def test_two_consumers_sending_the_same_digest_at_once_mail_each_address_once(app, monkeypatch):
    import threading

    if db.engine.dialect.name == "sqlite":
        pytest.skip("in-memory SQLite has a single connection; two writers need PostgreSQL")
    from sqlalchemy import insert

    monkeypatch.setattr(digest, "BATCH", 40)
    make_post(title="Fresh", age_hours=1)
    now = utcnow()
    db.session.execute(insert(Subscriber), [{"email": f"r{i:04d}@example.com", "scope": "all", "frequency": "digest",
                                             "created_at": now, "confirmed_at": now} for i in range(300)])
    db.session.commit()
    reports, errors = [], []

    def consumer() -> None:
        try:
            with app.app_context():
                reports.append(digest.send_digest())
        except Exception as exc:  # pragma: no cover - shown by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=consumer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sum(report.sent for report in reports) == 300
    assert db.session.scalar(select(func.count()).select_from(MailMessage)) == 300
    assert db.session.scalar(select(func.count(func.distinct(SubscriptionDelivery.email)))) == 300


def test_each_copy_of_a_digest_carries_its_own_unsubscribe_link(app):
    for name in ("a", "b", "c"):
        db.session.add(Subscriber(email=f"{name}@example.com", scope="all", frequency="digest", confirmed_at=utcnow()))
    db.session.commit()
    make_post(title="Shared", age_hours=1)
    assert digest.send_digest().sent == 3
    mails = outbox(app)
    urls = [m["List-Unsubscribe"].strip("<>") for m in mails]
    assert len(set(urls)) == 3
    for message, url in zip(mails, urls):
        text, html = message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()
        assert url in text and url in html and "Shared" in text
        assert not any(other in text or other in html for other in urls if other != url)
    [b_url] = [url for message, url in zip(mails, urls) if message["To"] == "b@example.com"]
    app.test_client().post(urlsplit(b_url).path)
    assert sorted(s.email for s in db.session.scalars(select(Subscriber))) == ["a@example.com", "c@example.com"]
