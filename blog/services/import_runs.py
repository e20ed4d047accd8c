"""Imports started from /admin/import: store the upload, dry-run it in the worker, then import it there.

The flow: ``accept_upload`` checks and stores the file under a random name in IMPORT_FOLDER
and queues its dry run; the admin reads the dry run's report and asks for the import
(``start_import``); both phases run in the worker (``execute``, the ``run_import`` task) with the
same importer the CLI uses, and report their progress as they go. The row says where things
stand; live progress (items done, a heartbeat) lives in the shared cache, so the importer's own
transactions (a dry run holds one for its whole length) never wait on a progress write.

A worker killed mid-run leaves no task behind (Huey has no acknowledgement): a run whose heartbeat
is older than IMPORT_STALE_SECONDS is marked failed (``fail_stale``, from the page and every few
minutes), and a queued run whose task was lost is queued again; running twice is harmless, as a
run is claimed with one conditional UPDATE and only one claim wins.
"""
from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from werkzeug.datastructures import FileStorage

from blog.extensions import cache
from blog.extensions import db
from blog.models import ImportRun
from blog.models import User
from blog.models import utcnow
from blog.models.base import is_row_id
from blog.services import paging
from blog.services.errors import Invalid
from blog.services.errors import NotFound
from blog.services.errors import ServiceError

log = logging.getLogger(__name__)

#: What the screen accepts (the CLI also reads Markdown folders, which a single upload cannot be).
SUFFIXES = {"json": ".json", "wxr": ".xml"}
#: Progress is written at most this often (seconds).
BEAT = 1.0


def folder() -> Path:
    path = Path(current_app.config["IMPORT_FOLDER"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def stored_path(run: ImportRun) -> Path | None:
    return folder() / run.stored_name if run.stored_name else None


def _sniff(head: bytes) -> str | None:
    """``json`` or ``wxr`` from a file's first bytes (a UTF-8 BOM and white space allowed)."""
    head = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{"):
        return "json"
    if head.startswith(b"<") and (b"<rss" in head or b"<?xml" in head[:100]):
        return "wxr"
    return None


def accept_upload(upload: FileStorage | None, *, by: User) -> ImportRun:
    """Store an uploaded WXR or JSON export and queue its dry run.

    Raises:
        Invalid: no file, an empty one, one larger than IMPORT_MAX_BYTES, or neither JSON nor XML.
            Nothing is stored then.
    """
    if upload is None or not upload.filename:
        raise Invalid("Choose a file to import.", {"file": ["Choose a WordPress export (.xml) or our JSON export."]})
    limit = current_app.config["IMPORT_MAX_BYTES"]
    name = "".join(ch for ch in Path(upload.filename).name if ch.isprintable())[:255] or "upload"
    fmt = _sniff(upload.stream.read(4096))
    upload.stream.seek(0)
    if fmt is None:
        raise Invalid("That file cannot be imported.", {"file": [
            "This is neither a WordPress export (WXR, XML) nor our JSON export."]})
    stored = secrets.token_hex(16) + SUFFIXES[fmt]
    target = folder() / stored
    size = 0
    try:
        with open(target, "xb") as out:  # a random name, never the admin's: no path from the request
            while chunk := upload.stream.read(1024 * 1024):
                size += len(chunk)
                if size > limit:
                    raise Invalid("That file is too large.", {"file": [
                        f"Files up to {limit / (1024 * 1024):.0f} MB can be imported here; use `flask import-posts` for larger ones."]})
                out.write(chunk)
        if size == 0:
            raise Invalid("That file is empty.", {"file": ["The file is empty."]})
        run = ImportRun(user_id=by.id, file_name=name, stored_name=stored, file_bytes=size, format=fmt,
                        phase="dry_run", status="queued")
        db.session.add(run)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        target.unlink(missing_ok=True)  # no orphaned file
        raise
    enqueue(run)
    return run


def start_import(run: ImportRun) -> ImportRun:
    """Queue the real import of a run whose dry run is done.

    Raises:
        Invalid: the dry run has not finished (or failed), or the import already started.
    """
    if run.phase != "dry_run" or run.status != "done":
        raise Invalid("This file's dry run has not finished, or its import already started.")
    if stored_path(run) is None or not stored_path(run).is_file():
        raise Invalid("The uploaded file is gone; upload it again.")
    claimed = db.session.execute(
        update(ImportRun).where(ImportRun.id == run.id, ImportRun.phase == "dry_run", ImportRun.status == "done")
        .values(phase="import", status="queued", total=0, done=0, started_at=None, finished_at=None,
                heartbeat_at=None, error=None)).rowcount
    db.session.commit()
    if not claimed:  # two clicks: only one starts it
        raise Invalid("This import has already started.")
    db.session.refresh(run)
    enqueue(run)
    return run


def enqueue(run: ImportRun) -> None:
    """Hand the run to the worker; if the queue is down the run stays queued and is queued again later."""
    from blog.tasks import run_import

    try:
        run_import(run.id)
    except Exception:  # noqa: BLE001 - the row is the durable record; fail_stale re-queues it
        log.warning("could not queue import run %s; it will be queued again", run.id, exc_info=True)


def _progress_key(run_id: int) -> str:
    return f"import-run-progress:{run_id}"


def progress(run: ImportRun) -> tuple[int, int, float | None]:
    """(items done, items in all, heartbeat as a Unix time) for a run: live while it runs."""
    if run.status != "running":
        return run.done, run.total, None
    live = cache.get(_progress_key(run.id)) or {}
    return live.get("done", run.done), live.get("total", run.total), live.get("beat")


def execute(run_id: int) -> str | None:
    """Run the queued phase of a run (the worker's task); returns its final status, None if not claimed."""
    from blog.services import importers

    now = utcnow()
    claimed = db.session.execute(
        update(ImportRun).where(ImportRun.id == run_id, ImportRun.status == "queued")
        .values(status="running", started_at=now, heartbeat_at=now)).rowcount
    db.session.commit()
    if not claimed:
        return None  # done, failed or taken by another worker (a re-queued task)
    run = db.session.get(ImportRun, run_id)
    phase, path, run_name = run.phase, stored_path(run), run.file_name
    author = db.session.get(User, run.user_id) if run.user_id else None
    state = {"done": 0, "total": 0, "beat": time.time(), "written": 0.0}

    def beat(force: bool = False) -> None:
        state["beat"] = time.time()
        if force or state["beat"] - state["written"] >= BEAT:
            state["written"] = state["beat"]
            cache.set(_progress_key(run_id), {k: state[k] for k in ("done", "total", "beat")},
                      timeout=max(current_app.config["IMPORT_STALE_SECONDS"] * 4, 600))

    def start(total: int) -> None:
        state["total"] = total
        beat(force=True)

    def advance(n: int) -> None:
        state["done"] += n
        beat()

    beat(force=True)
    status, report, error = "failed", None, None
    try:
        if path is None or not path.is_file():
            raise Invalid("The uploaded file is gone; upload it again.")
        result = importers.run(path, dry_run=phase == "dry_run", author=author, start=start, progress=advance)
        status, report = "done", json.dumps(result.as_dict())
    except ServiceError as exc:  # not readable at all (not well-formed, an XML bomb): nothing was written
        db.session.rollback()
        error = exc.message.replace(str(path), run_name)  # the admin's file name, not a path on the server
    except Exception:  # noqa: BLE001 - the admin sees a failed run instead of one "running" forever
        db.session.rollback()
        log.exception("import run %s failed", run_id)
        error = "The import stopped on an unexpected error (logged). Items imported before it are kept."
    run = db.session.get(ImportRun, run_id)
    run.status, run.error, run.finished_at, run.heartbeat_at = status, error, utcnow(), utcnow()
    run.total, run.done = state["total"], state["done"]
    if phase == "dry_run":
        run.dry_run_report = report
    else:
        run.report = report
    finished = phase == "import" or status == "failed"
    if finished:
        _forget_file(run)
    db.session.commit()
    cache.delete(_progress_key(run_id))
    return status


def _forget_file(run: ImportRun) -> None:
    path = stored_path(run)
    if path is not None:
        path.unlink(missing_ok=True)
    run.stored_name = None


def fail_stale(*, requeue: bool = True) -> int:
    """Mark failed the running runs whose worker stopped beating; queue again the queued ones whose task
    was lost. Returns how many were marked failed. Called from the run page and every few minutes."""
    stale = current_app.config["IMPORT_STALE_SECONDS"]
    cutoff = utcnow() - timedelta(seconds=stale)
    marked = 0
    for run in db.session.scalars(select(ImportRun).where(ImportRun.status == "running")):
        _, _, beat = progress(run)
        if beat is not None:
            alive = time.time() - beat < stale
        else:  # no live progress at all (the cache was emptied): the row's own times decide
            alive = (run.heartbeat_at or run.started_at or run.created_at) > cutoff
        if alive:
            continue
        done = db.session.execute(
            update(ImportRun).where(ImportRun.id == run.id, ImportRun.status == "running")
            .values(status="failed", finished_at=utcnow(),
                    error=(f"The worker stopped (killed or restarted) during the {'dry run' if run.phase == 'dry_run' else 'import'}; "
                           f"no sign of life for {stale} s. Items it stored are kept: upload the file again "
                           "and import it once more (a re-run updates them, never duplicates)."))).rowcount
        marked += done
    db.session.commit()
    for run in db.session.scalars(select(ImportRun).where(ImportRun.status == "failed", ImportRun.stored_name.is_not(None))):
        _forget_file(run)
    db.session.commit()
    if requeue:  # the periodic task only: a page polled every 2 s must not pile up duplicate tasks
        for run in db.session.scalars(select(ImportRun).where(ImportRun.status == "queued", ImportRun.created_at < cutoff)):
            enqueue(run)
    return marked


def get(run_id: int) -> ImportRun:
    run = db.session.get(ImportRun, run_id) if is_row_id(run_id) else None
    if run is None:
        raise NotFound("There is no such import.")
    return run


def recent(page: int = 1, per_page: int = 20):
    """Imports, newest first, a page at a time."""
    return paging.paginate(ids=select(ImportRun.id).order_by(ImportRun.id.desc()),
                           count=select(func.count()).select_from(ImportRun),
                           load=lambda ids: paging.in_order(select(ImportRun), ImportRun.id, ids),
                           page=page, per_page=per_page)


@dataclass
class RunView:
    """What the status fragment shows."""

    run: ImportRun
    done: int
    total: int
    dry_report: dict | None
    report: dict | None
    uploader: str | None

    @property
    def active(self) -> bool:
        return self.run.status in ("queued", "running")

    @property
    def percent(self) -> int:
        return min(100, int(100 * self.done / self.total)) if self.total else 0


def view(run: ImportRun) -> RunView:
    if run.status == "running":
        fail_stale(requeue=False)
        db.session.refresh(run)
    done, total, _ = progress(run)
    uploader = db.session.scalar(select(User.username).where(User.id == run.user_id)) if run.user_id else None
    return RunView(run, done, total, json.loads(run.dry_run_report) if run.dry_run_report else None,
                   json.loads(run.report) if run.report else None, uploader)
