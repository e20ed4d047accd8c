"""Helpers shared by the models."""
from __future__ import annotations

from datetime import UTC
from datetime import datetime


def utcnow() -> datetime:
    """Now in UTC, naive: every timestamp is stored as naive UTC on SQLite and PostgreSQL alike."""
    return datetime.now(UTC).replace(tzinfo=None)


#: The largest primary key the databases can bind (PostgreSQL ``integer``); a bigger id in a URL or a
#: form names no row, and passing it to a query would fail instead of finding nothing.
MAX_ID = 2**31 - 1


def is_row_id(value: int | None) -> bool:
    """Whether ``value`` could be a row's id (1 to MAX_ID)."""
    return value is not None and 0 < value <= MAX_ID
