"""Importing a blog: our JSON export, a folder of Markdown files with front matter, or a WordPress WXR file.

Each reader (``ours_json``, ``markdown``, ``wxr``) turns its format into the plain items of
``items.py``; :class:`~blog.services.importers.writer.Writer` stores them, one transaction per
item, so one bad item is reported and skipped while the rest go in. Running an import again
updates what it made before (matched on the source's ids, kept in ``imported_items``).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from blog.models import User
from blog.services.errors import Invalid
from blog.services.importers.report import Report

__all__ = ["Report", "detect", "run"]

#: Files larger than this are refused before parsing (a WXR of a big blog is far smaller).
MAX_FILE_BYTES = 512 * 1024 * 1024


def detect(path: Path) -> str:
    """``json``, ``markdown`` or ``wxr`` for what is at ``path``.

    Raises:
        Invalid: nothing there, or not one of the formats we read.
    """
    if path.is_dir():
        if (path / "export.json").is_file():
            return "json"
        if any(path.glob("*.md")) or any(path.glob("*.markdown")):
            return "markdown"
        raise Invalid(f"{path} holds neither export.json nor Markdown files.")
    if not path.is_file():
        raise Invalid(f"There is no file or folder at {path}.")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise Invalid(f"{path} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.")
    if path.suffix.lower() in (".md", ".markdown"):
        return "markdown"
    with open(path, "rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{"):
        return "json"
    if head.startswith(b"<"):
        return "wxr"  # some XML: the WXR reader says exactly what is wrong with it
    raise Invalid(f"{path} is not our JSON export, Markdown, or a WordPress export (WXR).")


def run(path: Path, *, dry_run: bool = False, media_dir: Path | None = None, author: User | None = None,
        progress: Callable[[int], None] | None = None, start: Callable[[int], None] | None = None) -> Report:
    """Import what is at ``path`` and return the report.

    ``start(total)`` is called once the number of items is known, ``progress(n)`` as they are
    stored. ``author`` takes the posts whose author the source does not name (or names no one
    we can create). With ``dry_run`` everything is checked and reported, and nothing is kept.

    Raises:
        Invalid: the file cannot be read at all (not well-formed, an XML bomb, an unknown
            format); nothing was written then.
    """
    from blog.services.importers import markdown
    from blog.services.importers import ours_json
    from blog.services.importers import wxr
    from blog.services.importers.writer import Writer

    fmt = detect(path)
    reader = {"json": ours_json, "markdown": markdown, "wxr": wxr}[fmt]
    started = time.perf_counter()
    source = reader.open_source(path, media_dir=media_dir)  # reads the whole file once: bad input fails here
    report = Report(format=fmt, source=source.name, dry_run=dry_run)
    writer = Writer(source.name, report=report, dry_run=dry_run, fallback_author=author,
                    progress=progress or (lambda n: None))
    if start:
        start(source.total)
    try:
        source.load(writer)
    finally:
        writer.finish()
    report.seconds = time.perf_counter() - started
    return report
