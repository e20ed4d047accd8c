"""Time zones: the one place that turns stored UTC into a reader's local time and back.

Storage is naive UTC everywhere (models.base.utcnow). What people see and type is local: the
user's own zone (``users.timezone``, an IANA name) or, for guests and users who chose none, the
site's (``TIMEZONE``). Guests always get the site zone, never one guessed from the browser:
their pages are cached and shared (services.pagecache).

Daylight saving: a local time that does not exist (the spring gap, e.g. 02:30 on 28 Mar 2027 in
Europe/Berlin) is refused with ``NonexistentTime``; an ambiguous one (the autumn hour that
happens twice, e.g. 02:30 on 31 Oct 2027 in Berlin) means its *first* occurrence (``fold=0``:
summer time, the earlier instant).
"""
from __future__ import annotations

import functools
from datetime import UTC
from datetime import datetime
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError
from zoneinfo import available_timezones


from blog import current
from blog.services.errors import Invalid

#: The default for text with a time: "2 Dec 2026, 09:00 CET".
DEFAULT_FORMAT = "%d %b %Y, %H:%M"
#: A date alone: "02 Dec 2026" (post bylines, listings).
DATE_FORMAT = "%d %b %Y"
#: ``%b`` as strftime writes it in the C locale, the only one the app runs in (it never calls setlocale).
_MONTH_ABBR = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MAX_ZONE = 64


class NonexistentTime(Invalid):
    """A local wall-clock time skipped by a daylight-saving change."""


@functools.cache
def zone_names() -> tuple[str, ...]:
    """Every IANA zone name this machine knows, sorted (for the profile's datalist)."""
    return tuple(sorted(name for name in available_timezones() if "/" in name or name == "UTC"))


def clean_zone(name: str | None) -> str | None:
    """``name`` trimmed if it is a known IANA zone, None when empty. Raises Invalid for an unknown name."""
    name = (name or "").strip()
    if not name:
        return None
    if len(name) > MAX_ZONE or name not in _known():
        message = f"“{name[:MAX_ZONE]}” is not a time zone we know; choose one from the list, e.g. Europe/Berlin."
        raise Invalid(message, {"timezone": [message]})
    return name


@functools.cache
def _known() -> frozenset[str]:
    return frozenset(available_timezones())


@functools.cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def site_zone() -> ZoneInfo:
    """The site's time zone (``TIMEZONE``; ``SITE_TIMEZONE`` is read as an alias); UTC if unknown."""
    try:
        return _zone(current.config().get("TIMEZONE") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return _zone("UTC")


def zone_for(user) -> ZoneInfo:
    """The zone ``user`` reads and writes times in: their own, else the site's (guests: always the site's)."""
    name = getattr(user, "timezone", None) if getattr(user, "is_authenticated", False) else None
    if name:
        try:
            return _zone(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return site_zone()


def viewer_zone() -> ZoneInfo:
    """The zone of whoever this request renders for (the site's outside a request, e.g. mail)."""
    environ = current.environ()
    if environ is None:
        return site_zone()
    cached = environ.get("blog.viewer_zone")
    if cached is None:
        from flask_login import current_user

        cached = environ["blog.viewer_zone"] = zone_for(current_user)
    return cached


def to_local(value: datetime, zone: ZoneInfo) -> datetime:
    """A naive-UTC (or aware) datetime as an aware datetime in ``zone``."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(zone)


def to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """A naive wall-clock time in ``zone`` as naive UTC (how it is stored).

    An ambiguous time (it happens twice when the clocks go back) is its first occurrence.

    Raises:
        NonexistentTime: the clocks skipped that time (spring forward).
    """
    if local.tzinfo is not None:
        return local.astimezone(UTC).replace(tzinfo=None)
    first = local.replace(tzinfo=zone, fold=0)
    as_utc = first.astimezone(UTC)
    # A time in the gap does not survive the round trip: UTC -> local lands on another wall time.
    if as_utc.astimezone(zone).replace(tzinfo=None) != local:
        message = (f"{local:%d %b %Y, %H:%M} does not exist in {zone.key}: the clocks skip that hour "
                   f"(daylight saving). Choose a time outside it.")
        raise NonexistentTime(message, {"publish_at": [message]})
    return as_utc.replace(tzinfo=None)


def boundary_to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """A naive wall-clock time in ``zone`` as naive UTC, never refused (for period boundaries):
    a time the clocks skip is read with the offset before the change, an ambiguous one as its
    first occurrence, the same for both periods it separates."""
    return local.replace(tzinfo=zone, fold=0).astimezone(UTC).replace(tzinfo=None)


def zone_label(value: datetime) -> str:
    """The zone of an aware datetime named for people: "CET", "UTC", else its IANA name (not "+03")."""
    abbreviation = value.tzname() or ""
    if abbreviation.isalpha():
        return abbreviation
    return getattr(value.tzinfo, "key", None) or abbreviation


def zone_name(zone: ZoneInfo) -> str:
    """The IANA name of ``zone`` (for labels: "Publish at (Europe/Berlin)")."""
    return getattr(zone, "key", None) or str(zone)


def format_local(value: datetime | None, fmt: str = DEFAULT_FORMAT, zone: ZoneInfo | None = None, *,
                 with_zone: bool | None = None) -> str:
    """``value`` (naive UTC) as text in ``zone`` (the viewer's by default); formats with a time of day
    end with the zone's name ("2 Dec 2026, 09:00 CET")."""
    if value is None:
        return ""
    return format_in_zone(to_local(value, zone or viewer_zone()), fmt, with_zone=with_zone)


def format_in_zone(local: datetime, fmt: str = DEFAULT_FORMAT, *, with_zone: bool | None = None) -> str:
    """An aware datetime as ``format_local`` writes it, in its own zone."""
    text = _strftime(local, fmt)
    if with_zone is None:
        with_zone = "%H" in fmt or "%I" in fmt
    return f"{text} {zone_label(local)}" if with_zone else text


def _strftime(value: datetime, fmt: str) -> str:
    """``value.strftime(fmt)``; the two formats on nearly every page are put together directly, in a
    third of strftime's time (a post page shows one per comment)."""
    if fmt == DEFAULT_FORMAT:
        return f"{value.day:02d} {_MONTH_ABBR[value.month]} {value.year}, {value.hour:02d}:{value.minute:02d}"
    if fmt == DATE_FORMAT:
        return f"{value.day:02d} {_MONTH_ABBR[value.month]} {value.year}"
    return value.strftime(fmt)


def iso_utc(value: datetime) -> str:
    """Machine-readable UTC for ``<time datetime>``: ``2026-12-02T08:00:00Z``."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="seconds") + "Z"
