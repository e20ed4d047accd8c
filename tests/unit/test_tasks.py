"""Background tasks: each runs a service inside an app context."""
from __future__ import annotations

from datetime import timedelta

from blog.extensions import db
from blog.models import utcnow
from blog.services import posts
from blog.tasks import huey
from blog.tasks import publish_scheduled_posts
from tests.factories import make_post


def test_due_scheduled_posts_are_published_and_future_ones_wait(app):
    due = make_post(status="scheduled", published_at=utcnow() - timedelta(minutes=1))
    later = make_post(status="scheduled", published_at=utcnow() + timedelta(days=1))
    draft = make_post(status="draft")
    assert [p.id for p in posts.publish_due()] == [due.id]
    db.session.refresh(due), db.session.refresh(later), db.session.refresh(draft)
    assert (due.status, later.status, draft.status) == ("published", "scheduled", "draft")
    assert posts.publish_due() == []  # nothing twice


def test_the_periodic_task_runs_the_service(app, client):
    make_post(status="scheduled", title="Goes live", published_at=utcnow() - timedelta(seconds=5))
    assert "Goes live" not in client.get("/").text
    assert publish_scheduled_posts.call_local() == 1
    assert "Goes live" in client.get("/").text


def test_tests_run_huey_in_immediate_mode(app):
    assert huey.immediate is True
