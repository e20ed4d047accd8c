"""An import started from /admin/import: the uploaded file, its dry run, the real run, their reports."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from blog.extensions import db
from blog.models.base import utcnow

#: ``queued`` (waiting for the worker), ``running``, ``done`` or ``failed``.
IMPORT_STATUSES = ("queued", "running", "done", "failed")
#: The dry run (check and report, keep nothing) comes first; then, when the admin asks, the import.
IMPORT_PHASES = ("dry_run", "import")


class ImportRun(db.Model):
    """One uploaded file going through its dry run and then (maybe) the import, in the worker.

    Progress (items done of ``total``) is written as the worker goes; a run whose worker was
    killed is marked failed once its heartbeat (``heartbeat_at``) is older than IMPORT_STALE_SECONDS.
    """

    __tablename__ = "import_runs"
    __table_args__ = (Index("ix_import_runs_status", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    #: The name the admin's file had (shown); the stored copy is ``stored_name`` in IMPORT_FOLDER.
    file_name: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str | None] = mapped_column(String(80))
    file_bytes: Mapped[int] = mapped_column(default=0)
    format: Mapped[str] = mapped_column(String(10))
    phase: Mapped[str] = mapped_column(String(10), default="dry_run")
    status: Mapped[str] = mapped_column(String(10), default="queued")
    total: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)
    #: The last finished phase's report (``Report.as_dict()``), JSON text; the dry run's is kept apart.
    dry_run_report: Mapped[str | None] = mapped_column(Text)
    report: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
