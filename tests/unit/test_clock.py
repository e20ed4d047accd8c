"""services.clock: naive UTC in storage, wall-clock time in a zone for people, daylight saving handled."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from blog.services import clock
from blog.services.errors import Invalid

BERLIN = ZoneInfo("Europe/Berlin")


def test_winter_and_summer_local_times_become_the_right_utc_instants():
    assert clock.to_utc(datetime(2026, 12, 2, 9, 0), BERLIN) == datetime(2026, 12, 2, 8, 0)  # CET, UTC+1
    assert clock.to_utc(datetime(2027, 7, 1, 9, 0), BERLIN) == datetime(2027, 7, 1, 7, 0)  # CEST, UTC+2


def test_a_time_in_the_spring_gap_is_refused_with_a_message_for_the_field():
    with pytest.raises(clock.NonexistentTime) as raised:
        clock.to_utc(datetime(2027, 3, 28, 2, 30), BERLIN)
    assert isinstance(raised.value, Invalid)
    assert "does not exist in Europe/Berlin" in raised.value.fields["publish_at"][0]
    # Either side of the gap is fine.
    assert clock.to_utc(datetime(2027, 3, 28, 1, 59), BERLIN) == datetime(2027, 3, 28, 0, 59)
    assert clock.to_utc(datetime(2027, 3, 28, 3, 0), BERLIN) == datetime(2027, 3, 28, 1, 0)


def test_an_ambiguous_autumn_time_means_its_first_occurrence():
    # 02:30 happens twice on 31 Oct 2027 in Berlin: first in summer time (00:30 UTC), then in winter time.
    assert clock.to_utc(datetime(2027, 10, 31, 2, 30), BERLIN) == datetime(2027, 10, 31, 0, 30)


def test_round_trip_and_zone_names():
    local = clock.to_local(datetime(2026, 12, 2, 8, 0), BERLIN)
    assert (local.hour, clock.zone_label(local)) == (9, "CET")
    assert clock.zone_label(clock.to_local(datetime(2027, 7, 1, 7, 0), BERLIN)) == "CEST"
    # Zones whose abbreviation is only an offset are named by their IANA name.
    assert clock.zone_label(clock.to_local(datetime(2026, 12, 2, 8), ZoneInfo("Asia/Dubai"))) == "Asia/Dubai"
    assert clock.format_local(datetime(2026, 12, 2, 8, 0), zone=BERLIN) == "02 Dec 2026, 09:00 CET"
    assert clock.format_local(datetime(2026, 12, 2, 23, 30), "%d %b %Y", zone=BERLIN) == "03 Dec 2026"
    assert clock.iso_utc(datetime(2026, 12, 2, 8, 0, 5, 123)) == "2026-12-02T08:00:05Z"


def test_zone_names_are_checked():
    assert clock.clean_zone("  Europe/Berlin ") == "Europe/Berlin"
    assert clock.clean_zone("") is None and clock.clean_zone(None) is None
    for bad in ("Mars/Olympus", "europe/berlin", "x" * 300, "../etc/passwd"):
        with pytest.raises(Invalid) as raised:
            clock.clean_zone(bad)
        assert "timezone" in raised.value.fields
    assert "Europe/Berlin" in clock.zone_names() and "UTC" in clock.zone_names()


@pytest.mark.parametrize("fmt", [clock.DEFAULT_FORMAT, clock.DATE_FORMAT, "%B %Y", "%H:%M"])
def test_the_common_formats_written_directly_match_strftime(fmt):
    # Every month, single- and double-digit days and hours, midnight, both ends of the day, in a zone.
    moments = [datetime(year, month, day, hour, minute) for year in (1999, 2026) for month in range(1, 13)
               for day, hour, minute in ((1, 0, 0), (9, 9, 5), (28, 23, 59))]
    for moment in moments:
        local = clock.to_local(moment, BERLIN)
        assert clock.format_in_zone(local, fmt, with_zone=False) == local.strftime(fmt)


def test_iso_utc_drops_microseconds_and_converts_aware_times():
    assert clock.iso_utc(datetime(2026, 12, 2, 8, 0, 0, 999_999)) == "2026-12-02T08:00:00Z"
    assert clock.iso_utc(datetime(2026, 12, 2, 9, 0, tzinfo=BERLIN)) == "2026-12-02T08:00:00Z"
