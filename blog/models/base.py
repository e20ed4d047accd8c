"""Helpers shared by the models."""
from __future__ import annotations

from datetime import UTC
from datetime import datetime


def utcnow() -> datetime:
    """Now in UTC, naive: every timestamp is stored as naive UTC on SQLite and PostgreSQL alike."""
    return datetime.now(UTC).replace(tzinfo=None)
