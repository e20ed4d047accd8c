"""One-file backups of the whole site: the database and the uploads, and restoring them.

An archive is a gzipped tar holding ``manifest.json`` (format, database dialect, Alembic
revision, when it was made, what it holds), the database (``database.sqlite3``: a copy made
with SQLite's online backup API, consistent while the site keeps writing; or
``database.pgdump``: ``pg_dump --format=custom``, which reads one snapshot) and every file
under ``UPLOAD_FOLDER`` as ``uploads/...``.

The database is copied first, the uploads after it, so every file a backed-up row names is
in the archive (files are written once, through a rename, and never edited in place).
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from pathlib import Path
from pathlib import PurePosixPath

from flask import current_app
from sqlalchemy import func
from sqlalchemy import inspect
from sqlalchemy import select
from sqlalchemy import table
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.engine import make_url

from blog.extensions import db
from blog.services import pagecache

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database.sqlite3"
PG_MEMBER = "database.pgdump"
UPLOADS = "uploads"
#: pg_dump / pg_restore time limit: a hung server must not hang the command forever.
PG_TIMEOUT = 3600
#: Tables that say nothing about content (a freshly migrated database has a revision row).
_BOOKKEEPING = {"alembic_version"}


class BackupError(Exception):
    """A backup or restore that cannot be done; ``message`` says why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Report:
    """What a backup holds or a restore put back."""

    path: Path
    dialect: str
    revision: str | None
    files: int = 0
    bytes: int = 0
    created_at: str = ""
    tables: dict[str, int] = field(default_factory=dict)


# --- backup -------------------------------------------------------------------------------------

def create(out: str | os.PathLike, *, progress: Callable[[int], None] | None = None) -> Report:
    """Write a backup archive of the database and the uploads to ``out`` (replaced whole, never half written).

    ``progress`` is called with 1 for each upload file added.

    Raises:
        BackupError: the database cannot be copied (pg_dump missing or failing).
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    dialect = db.engine.dialect.name
    created = datetime.now(UTC).isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory(prefix="blog-backup-") as work:
        work_dir = Path(work)
        if dialect == "sqlite":
            member, dump = SQLITE_MEMBER, work_dir / SQLITE_MEMBER
            _sqlite_copy(dump)
        elif dialect == "postgresql":
            member, dump = PG_MEMBER, work_dir / PG_MEMBER
            _pg_dump(dump)
        else:
            raise BackupError(f"Backups support SQLite and PostgreSQL, not {dialect}.")
        revision = _revision()
        uploads = upload_files()
        manifest = {"format": FORMAT, "dialect": dialect, "revision": revision, "created_at": created,
                    "database": member, "uploads": len(uploads)}
        (work_dir / MANIFEST).write_text(json.dumps(manifest, indent=2))
        partial = out.with_name(f".{out.name}.partial")
        try:
            with tarfile.open(partial, "w:gz") as archive:
                archive.add(work_dir / MANIFEST, arcname=MANIFEST)
                archive.add(dump, arcname=member)
                root = Path(current_app.config["UPLOAD_FOLDER"])
                for path in uploads:
                    try:
                        archive.add(path, arcname=f"{UPLOADS}/{path.relative_to(root).as_posix()}")
                    except FileNotFoundError:  # deleted since the listing: it was not part of the snapshot
                        pass
                    if progress:
                        progress(1)
            os.replace(partial, out)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    return Report(path=out, dialect=dialect, revision=revision, files=len(uploads), bytes=out.stat().st_size,
                  created_at=created)


def _sqlite_copy(dest: Path) -> None:
    # The online backup API copies every page in one step under a read transaction: a snapshot of
    # committed data, taken without blocking the site's writers (WAL mode).
    with db.engine.connect() as connection:
        source = connection.connection.driver_connection
        target = sqlite3.connect(dest)
        try:
            source.backup(target)
        finally:
            target.close()


def _pg_dump(dest: Path) -> None:
    url, env = _libpq(db.engine.url)
    _run([_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", "--file", str(dest),
          "--dbname", url], env, "pg_dump")


def upload_files() -> list[Path]:
    """Every file under UPLOAD_FOLDER a backup takes (temporary dot files of a write in progress left out)."""
    root = Path(current_app.config["UPLOAD_FOLDER"])
    if not root.is_dir():
        return []
    return sorted(path for path in root.rglob("*")
                  if path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts))


# --- restore ------------------------------------------------------------------------------------

def read_manifest(archive_path: str | os.PathLike) -> dict:
    """The manifest of a backup archive.

    Raises:
        BackupError: not a backup archive made by this program.
    """
    try:
        with tarfile.open(archive_path, "r:*") as archive:
            return _manifest(archive)
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"{archive_path} is not a readable backup archive ({exc}).") from None


def _manifest(archive: tarfile.TarFile) -> dict:
    try:
        member = archive.extractfile(MANIFEST)
        manifest = json.loads(member.read()) if member else None
    except (KeyError, ValueError):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError("This file is not a backup made by `flask backup` (no manifest of a known format).")
    return manifest


def content_tables() -> dict[str, int]:
    """Row counts of every table in the current database that holds any row (bookkeeping aside)."""
    engine = db.engine
    counts = {}
    with engine.connect() as connection:
        for name in inspect(connection).get_table_names():
            if name in _BOOKKEEPING or name.startswith("sqlite_") or name.startswith("post_search_"):
                continue
            rows = connection.scalar(select(func.count()).select_from(table(name)))
            if rows:
                counts[name] = rows
    return counts


def restore(archive_path: str | os.PathLike, *, force: bool = False,
            progress: Callable[[int], None] | None = None) -> Report:
    """Put the database and the uploads of a backup archive back; the web and worker processes should be stopped.

    Raises:
        BackupError: not a backup, made on another kind of database, or (without ``force``)
            the database already holds content.
    """
    archive_path = Path(archive_path)
    dialect = db.engine.dialect.name
    try:
        archive = tarfile.open(archive_path, "r:*")
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"{archive_path} is not a readable backup archive ({exc}).") from None
    with archive, tempfile.TemporaryDirectory(prefix="blog-restore-") as work:
        manifest = _manifest(archive)
        if manifest.get("dialect") != dialect:
            raise BackupError(f"This backup holds a {manifest.get('dialect')} database and this site runs on "
                              f"{dialect}: restore it onto the same kind of database.")
        if not force:
            existing = content_tables()
            if existing:
                listed = ", ".join(f"{name} ({rows})" for name, rows in sorted(existing.items()))
                raise BackupError(f"The database is not empty: {listed}. Restoring replaces all of it; "
                                  "run again with --force to do that.")
        member = manifest.get("database")
        if member not in (SQLITE_MEMBER, PG_MEMBER):
            raise BackupError("The backup names no database file.")
        try:
            archive.extract(member, work, filter="data")
        except (KeyError, tarfile.TarError) as exc:
            raise BackupError(f"The backup's database file is missing or damaged ({exc}).") from None
        dump = Path(work) / member
        db.session.remove()
        if dialect == "sqlite":
            _sqlite_restore(dump)
        else:
            _pg_restore(dump)
        db.engine.dispose()  # no pooled connection keeps a view of the database from before
        files, size = _restore_uploads(archive, progress)
    try:
        pagecache.clear()  # cached pages and widgets describe the database that was replaced
    except Exception:  # noqa: BLE001 - a cache that is down holds nothing stale either
        current_app.logger.warning("could not clear the cache after a restore", exc_info=True)
    return Report(path=archive_path, dialect=dialect, revision=manifest.get("revision"), files=files, bytes=size,
                  created_at=manifest.get("created_at", ""), tables=content_tables())


def _sqlite_restore(dump: Path) -> None:
    source = sqlite3.connect(dump)
    try:
        if source.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError("The backup's SQLite database fails its integrity check.")
        # The backup API again, the other way: the live database gets every page in one transaction.
        with db.engine.connect() as connection:
            source.backup(connection.connection.driver_connection)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"The backup's SQLite database cannot be read ({exc}).") from None
    finally:
        source.close()


def _pg_restore(dump: Path) -> None:
    url, env = _libpq(db.engine.url)
    # --clean --if-exists drops what the dump recreates (a migrated but empty database has the tables);
    # one transaction, so a failed restore leaves the database as it was.
    _run([_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
          "--single-transaction", "--exit-on-error", "--dbname", url, str(dump)], env, "pg_restore")


def _restore_uploads(archive: tarfile.TarFile, progress: Callable[[int], None] | None) -> tuple[int, int]:
    root = Path(current_app.config["UPLOAD_FOLDER"])
    files = size = 0
    for member in archive:
        name = PurePosixPath(member.name)
        if not member.isfile() or name.parts[:1] != (UPLOADS,) or len(name.parts) < 2:
            continue
        relative = PurePosixPath(*name.parts[1:])
        if relative.is_absolute() or ".." in relative.parts:
            raise BackupError(f"The backup holds an unsafe path: {member.name}")
        target = root.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        source = archive.extractfile(member)
        if source is None:
            continue
        temporary = target.with_name(f".{target.name}.restore.tmp")
        with source, open(temporary, "wb") as fh:
            shutil.copyfileobj(source, fh)
        os.replace(temporary, target)
        files += 1
        size += member.size
        if progress:
            progress(1)
    return files, size


# --- helpers ------------------------------------------------------------------------------------

def _revision() -> str | None:
    try:
        with db.engine.connect() as connection:
            return connection.scalar(text("SELECT version_num FROM alembic_version"))
    except Exception:  # noqa: BLE001 - a database made by create_all has no revision table
        return None


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection URL for ``url`` without its password, and an environment carrying it."""
    url = make_url(url) if not isinstance(url, URL) else url
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)  # not on the command line, where `ps` shows it
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
                      key=lambda path: int(path.parts[-3]) if path.parts[-3].isdigit() else 0)
    if versions:
        return str(versions[-1])
    raise BackupError(f"{name} was not found on PATH or in /usr/lib/postgresql/*/bin: install the PostgreSQL "
                      "client (the same major version as the server, or newer).")


def _run(command: list[str], env: dict[str, str], name: str) -> None:
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=PG_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise BackupError(f"{name} did not finish within {PG_TIMEOUT} s.") from None
    if done.returncode:
        raise BackupError(f"{name} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
