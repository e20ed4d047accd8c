"""/healthz reports database, cache and queue."""
from __future__ import annotations

from sqlalchemy import text

from blog.services import health


def test_healthz_reports_every_piece_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok", "queue": "ok"}}
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_is_503_when_the_database_is_down(client, monkeypatch):
    def broken() -> None:
        from blog.extensions import db
        db.session.execute(text("SELECT * FROM no_such_table"))

    monkeypatch.setattr(health, "_database", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"] == "error"
    assert response.get_json()["status"] == "degraded"
