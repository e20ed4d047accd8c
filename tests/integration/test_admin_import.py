"""/admin/import: upload, dry run in the worker, the report, "Run import", progress polling, stale runs."""
from __future__ import annotations

import json
import re
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlalchemy import select

from blog.extensions import cache
from blog.extensions import db
from blog.models import ImportRun
from blog.models import Post
from blog.models import Redirect
from blog.models import utcnow
from blog.services import import_runs
from tests.conftest import HX
from tests.factories import login_as
from tests.factories import make_user
from tests.integration.test_import_wxr import THEME_DATA
from tests.integration.test_import_wxr import item
from tests.integration.test_import_wxr import needs_theme_data
from tests.integration.test_import_wxr import wxr


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def admin(app, client):
    user = make_user(role="admin", username="boss")
    login_as(client, user)
    return user


def upload(client, data: bytes | str, name: str = "export.xml"):
    body = data.encode() if isinstance(data, str) else data
    return client.post("/admin/import", data={"file": (BytesIO(body), name)}, content_type="multipart/form-data")


def stored_files(app) -> list[Path]:
    folder = Path(app.config["IMPORT_FOLDER"])
    return sorted(folder.iterdir()) if folder.is_dir() else []


SMALL = wxr(item(10, "First post", "<p>Hello <b>there</b>.</p>") + item(11, "Second post", "<p>Again.</p>"))


def test_upload_dry_run_then_run_import(app, client, admin):
    response = upload(client, SMALL)
    assert response.status_code == 303
    run = db.session.scalar(select(ImportRun))
    assert response.headers["Location"].endswith(f"/admin/import/{run.id}")
    # Tests run the worker's tasks inline: the dry run is done, and nothing was kept.
    assert run.phase == "dry_run" and run.status == "done" and run.user_id == admin.id
    assert run.total >= 2 and run.done == run.total
    assert count(Post) == 0 and count(Redirect) == 0
    report = json.loads(run.dry_run_report)
    assert report["dry_run"] is True and report["counts"]["post"]["created"] == 2
    [stored] = stored_files(app)
    assert re.fullmatch(r"[0-9a-f]{32}\.xml", stored.name)  # a random name, not the admin's
    page = client.get(f"/admin/import/{run.id}").text
    assert "Dry-run report" in page and "Run import" in page and 'hx-trigger="every 2s"' not in page
    started = client.post(f"/admin/import/{run.id}/run")
    assert started.status_code == 303
    db.session.refresh(run)
    assert run.phase == "import" and run.status == "done" and run.finished_at is not None
    assert count(Post) == 2
    assert json.loads(run.report)["counts"]["post"]["created"] == 2
    assert stored_files(app) == []  # the upload is deleted once imported
    done = client.get(f"/admin/import/{run.id}").text
    assert "The import is done" in done and "Import report" in done and "Dry-run report" in done
    # Twice is refused: the import already ran.
    again = client.post(f"/admin/import/{run.id}/run", follow_redirects=True)
    assert "already started" in again.text and count(Post) == 2
    listing = client.get("/admin/import").text
    assert "export.xml" in listing and "1 import" in listing


def test_our_json_export_is_accepted_and_a_wrong_json_fails_naming_the_upload_not_the_server_path(app, client, admin):
    from blog.services import export
    from tests.factories import make_post

    make_post(title="Exported one")
    out = Path(app.config["IMPORT_FOLDER"]).parent / "export"
    export.export("json", out)
    db.session.execute(Post.__table__.delete())
    db.session.commit()
    response = upload(client, (out / "export.json").read_bytes(), "blog.json")
    assert response.status_code == 303
    run = db.session.scalar(select(ImportRun))
    assert run.format == "json" and run.status == "done", run.error
    upload(client, json.dumps({"hello": "world"}), "other.json")
    wrong = db.session.scalar(select(ImportRun).where(ImportRun.file_name == "other.json"))
    assert wrong.status == "failed" and "other.json" in wrong.error
    assert app.config["IMPORT_FOLDER"] not in wrong.error


@pytest.mark.parametrize("data, name, message", [
    (b"", "empty.xml", "neither a WordPress export"),
    (b"just some words", "notes.txt", "neither a WordPress export"),
    (b"\x89PNG\r\n\x1a\nxxxx", "picture.xml", "neither a WordPress export"),
])
def test_a_bad_upload_is_a_form_error_and_nothing_is_kept(app, client, admin, data, name, message):
    response = upload(client, data, name)
    assert response.status_code == 422 and message in response.text
    assert 'aria-invalid="true"' in response.text and 'id="import-file-error"' in response.text
    assert count(ImportRun) == 0 and stored_files(app) == []


def test_no_file_is_a_form_error(app, client, admin):
    response = client.post("/admin/import", data={}, content_type="multipart/form-data")
    assert response.status_code == 422 and "Choose" in response.text and count(ImportRun) == 0


def test_a_file_over_the_limit_is_refused_and_not_stored(app, client, admin):
    app.config["IMPORT_MAX_BYTES"] = 200_000
    big = SMALL.replace("Hello", "Hello " + "x" * 150_000)
    assert upload(client, big).status_code == 303  # under the limit: fine (above MAX_CONTENT_LENGTH's share)
    huge = SMALL.replace("Hello", "x" * 400_000)
    response = upload(client, huge)
    assert response.status_code in (413, 422)
    assert count(ImportRun) == 1 and len(stored_files(app)) == 1


def test_the_limit_is_the_import_s_own_not_max_content_length(app, client, admin):
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    response = upload(client, SMALL.replace("Hello", "y" * 50_000))
    assert response.status_code == 303 and count(ImportRun) == 1


def test_an_xml_bomb_fails_the_dry_run_with_a_clear_message(app, client, admin):
    bomb = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">'
            '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]><rss><channel><item><title>&lol3;</title></item></channel></rss>')
    response = upload(client, bomb, "bomb.xml")
    assert response.status_code == 303
    run = db.session.scalar(select(ImportRun))
    assert run.status == "failed" and "refused" in run.error
    page = client.get(f"/admin/import/{run.id}")
    assert page.status_code == 200 and "The dry run failed" in page.text and "Run import" not in page.text
    assert count(Post) == 0 and stored_files(app) == []
    assert client.post(f"/admin/import/{run.id}/run").status_code == 303 and count(Post) == 0


def test_a_truncated_file_fails_cleanly(app, client, admin):
    upload(client, SMALL[: len(SMALL) // 2], "cut.xml")
    run = db.session.scalar(select(ImportRun))
    assert run.status == "failed" and run.error and count(Post) == 0


def test_non_admins_are_refused(app, client):
    assert client.get("/admin/import").status_code in (302, 303)
    login_as(client, make_user(role="moderator"))
    assert client.get("/admin/import").status_code == 403
    assert upload(client, SMALL).status_code == 403
    assert count(ImportRun) == 0 and stored_files(app) == []


def test_the_upload_needs_the_csrf_token(app, client, admin):
    app.config["WTF_CSRF_ENABLED"] = True
    response = upload(client, SMALL)
    assert response.status_code == 400 and count(ImportRun) == 0 and stored_files(app) == []


def _queued_run(admin, phase="dry_run", status="queued", **fields) -> ImportRun:
    run = ImportRun(user_id=admin.id, file_name="x.xml", stored_name=None, file_bytes=10, format="wxr",
                    phase=phase, status=status, **fields)
    db.session.add(run)
    db.session.commit()
    return run


def test_the_status_fragment_polls_while_running_and_stops_when_done(app, client, admin):
    run = _queued_run(admin, status="running", started_at=utcnow(), total=40)
    cache.set(f"import-run-progress:{run.id}", {"done": 10, "total": 40, "beat": __import__("time").time()})
    fragment = client.get(f"/admin/import/{run.id}", headers=HX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert fragment.text.lstrip().startswith('<div id="import-status"')
    assert 'hx-trigger="every 2s"' in fragment.text and f'hx-get="/admin/import/{run.id}"' in fragment.text
    assert "10 of 40 items" in fragment.text and 'value="25"' in fragment.text
    assert "Refresh</a>" in fragment.text  # the no-JS way
    full = client.get(f"/admin/import/{run.id}").text
    assert "<html" in full and 'hx-trigger="every 2s"' in full
    run.status, run.done, run.total = "done", 40, 40
    run.dry_run_report = json.dumps({"format": "wxr", "source": "x", "dry_run": True, "seconds": 1.0,
                                     "counts": {"post": {"created": 40}}, "lines": []})
    db.session.commit()
    ended = client.get(f"/admin/import/{run.id}", headers=HX).text
    assert 'hx-trigger' not in ended and "Run import" in ended and "Dry-run report" in ended


def test_a_run_whose_worker_died_is_marked_failed_not_running_forever(app, client, admin):
    app.config["IMPORT_STALE_SECONDS"] = 60
    long_ago = utcnow() - timedelta(minutes=10)
    dead = _queued_run(admin, status="running", started_at=long_ago, heartbeat_at=long_ago)
    cache.set(f"import-run-progress:{dead.id}", {"done": 5, "total": 9, "beat": __import__("time").time() - 600})
    alive = _queued_run(admin, status="running", started_at=long_ago, heartbeat_at=long_ago)
    cache.set(f"import-run-progress:{alive.id}", {"done": 5, "total": 9, "beat": __import__("time").time()})
    page = client.get(f"/admin/import/{dead.id}").text
    assert "The dry run failed" in page and "worker stopped" in page
    db.session.refresh(dead)
    db.session.refresh(alive)
    assert dead.status == "failed" and alive.status == "running"
    # Without any live progress (the cache emptied), the row's times decide.
    cache.delete(f"import-run-progress:{alive.id}")
    assert import_runs.fail_stale() == 1
    db.session.refresh(alive)
    assert alive.status == "failed"


def test_a_lost_queued_run_is_queued_again_and_runs_once(app, client, admin, tmp_path):
    app.config["IMPORT_STALE_SECONDS"] = 60
    folder = Path(app.config["IMPORT_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lost.xml").write_text(SMALL)
    run = _queued_run(admin, created_at=utcnow() - timedelta(minutes=5))
    run.stored_name = "lost.xml"
    db.session.commit()
    import_runs.fail_stale()  # its task was lost: queued again (and run inline under test)
    db.session.refresh(run)
    assert run.status == "done" and run.phase == "dry_run"
    assert import_runs.execute(run.id) is None  # a duplicate task claims nothing


@needs_theme_data
def test_the_theme_test_data_through_the_screen(app, client, admin):
    upload(client, THEME_DATA.read_bytes(), "themeunittestdata.wordpress.xml")
    run = db.session.scalar(select(ImportRun))
    assert run.status == "done", run.error
    client.post(f"/admin/import/{run.id}/run")
    db.session.refresh(run)
    assert run.status == "done", run.error
    report = json.loads(run.report)
    assert report["counts"]["post"]["created"] >= 50 and report["counts"]["page"]["created"] >= 15


def test_the_list_of_imports_pages_in_place(app, client, admin):
    db.session.add_all([ImportRun(user_id=admin.id, file_name=f"file{n:02d}.xml", file_bytes=1, format="wxr",
                                  phase="import", status="done") for n in range(25)])
    db.session.commit()
    full = client.get("/admin/import").text
    assert "25 imports" in full and "file24.xml" in full and "file00.xml" not in full
    fragment = client.get("/admin/import?page=2", headers=HX).text
    assert fragment.lstrip().startswith('<section id="import-runs"') and "file00.xml" in fragment
