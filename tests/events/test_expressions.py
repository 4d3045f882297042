"""The expression grammar: the instants at(), rate() and cron() name, in a time zone, across DST
changes, within start and end dates; and what is refused, in Scheduler's words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from lambent.events import expressions
from lambent.events.expressions import ScheduleInvalid
from lambent.events.models import Schedule, ScheduleState
from lambent.events.services import next_fire

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
UTC_ZONE = ZoneInfo("UTC")
ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)


def instants(text: str, start: datetime, count: int, *, tz: ZoneInfo = UTC_ZONE,
             anchor: datetime = ANCHOR) -> list[datetime]:
    expression = expressions.parse(text)
    found, moment = [], start
    for _ in range(count):
        instant = expression.first_at_or_after(moment, tz=tz, anchor=anchor)
        if instant is None:
            break
        found.append(instant)
        moment = instant + timedelta(seconds=1)
    return found


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_cron_in_berlin_keeps_wall_clock_time_across_the_spring_change():
    # 2026-03-29: Berlin goes from 02:00 CET (+1) to 03:00 CEST (+2).
    found = instants("cron(30 9 * * ? *)", utc(2026, 3, 27), 4, tz=BERLIN)
    assert [instant.astimezone(UTC) for instant in found] == [
        utc(2026, 3, 27, 8, 30), utc(2026, 3, 28, 8, 30), utc(2026, 3, 29, 7, 30), utc(2026, 3, 30, 7, 30)]
    assert all(instant.astimezone(BERLIN).hour == 9 for instant in found)


def test_a_time_skipped_by_the_spring_change_fires_once_just_after_the_gap():
    found = instants("cron(30 2 * * ? *)", utc(2026, 3, 28), 3, tz=BERLIN)
    assert [instant.astimezone(UTC) for instant in found] == [
        utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)]


def test_a_time_repeated_by_the_autumn_change_fires_once():
    # 2026-11-01: New York goes from 02:00 EDT (-4) back to 01:00 EST (-5); 01:30 happens twice.
    found = instants("cron(30 1 * * ? *)", utc(2026, 10, 31), 3, tz=NEW_YORK)
    assert [instant.astimezone(UTC) for instant in found] == [
        utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]


def test_hourly_cron_follows_real_time_through_the_repeated_hour():
    found = instants("cron(0 * * * ? *)", utc(2026, 11, 1, 4, 0), 4, tz=NEW_YORK)
    assert [instant.astimezone(UTC) for instant in found] == [
        utc(2026, 11, 1, 4), utc(2026, 11, 1, 5), utc(2026, 11, 1, 6), utc(2026, 11, 1, 7)]


@pytest.mark.parametrize(("text", "expected"), [
    # AWS numbers days of the week from Sunday = 1: 2-6 is Monday to Friday.
    ("cron(0 8 ? * 2-6 *)", [utc(2030, 1, 4, 8), utc(2030, 1, 7, 8), utc(2030, 1, 8, 8)]),
    ("cron(0 8 ? * MON,FRI *)", [utc(2030, 1, 4, 8), utc(2030, 1, 7, 8), utc(2030, 1, 11, 8)]),
    ("cron(0 12 ? * 6#3 *)", [utc(2030, 1, 18, 12), utc(2030, 2, 15, 12), utc(2030, 3, 15, 12)]),  # 3rd Friday
    ("cron(0 12 ? * 2L *)", [utc(2030, 1, 28, 12), utc(2030, 2, 25, 12), utc(2030, 3, 25, 12)]),  # last Monday
    ("cron(0 0 L * ? *)", [utc(2030, 1, 31), utc(2030, 2, 28), utc(2030, 3, 31)]),
    ("cron(0 0 LW * ? *)", [utc(2030, 1, 31), utc(2030, 2, 28), utc(2030, 3, 29)]),  # 2030-03-31 is a Sunday
    ("cron(0/20 10 1 1 ? *)", [utc(2031, 1, 1, 10), utc(2031, 1, 1, 10, 20), utc(2031, 1, 1, 10, 40)]),
    ("cron(0 0 1 1 ? 2032-2040/4)", [utc(2032, 1, 1), utc(2036, 1, 1), utc(2040, 1, 1)]),
])
def test_cron_fields(text, expected):
    assert instants(text, utc(2030, 1, 3, 9), 3) == expected


def test_a_year_field_with_no_year_left_names_nothing():
    assert instants("cron(0 0 * * ? 2020)", utc(2030, 1, 1), 1) == []


def test_rate_counts_from_its_anchor():
    anchor = utc(2030, 1, 1, 0, 0, 10)
    assert instants("rate(1 minute)", utc(2029, 12, 31), 3, anchor=anchor) == [
        anchor, anchor + timedelta(minutes=1), anchor + timedelta(minutes=2)]
    assert instants("rate(2 hours)", utc(2030, 1, 1, 3), 2, anchor=anchor) == [
        utc(2030, 1, 1, 4, 0, 10), utc(2030, 1, 1, 6, 0, 10)]
    assert instants("rate(3 days)", utc(2030, 1, 1, 0, 0, 10), 1, anchor=anchor) == [anchor]


def test_at_is_once_in_its_time_zone():
    assert instants("at(2030-06-01T09:00:00)", utc(2030, 1, 1), 5, tz=BERLIN) == [utc(2030, 6, 1, 7)]
    assert instants("at(2030-06-01T09:00:00)", utc(2030, 6, 1, 7, 0, 1), 1, tz=BERLIN) == []


def schedule(expression: str, **fields: object) -> Schedule:
    return Schedule(**{"expression": expression, "timezone": "UTC", "state": ScheduleState.ENABLED,
                       "rate_anchor": ANCHOR, **fields})


def test_start_and_end_dates_bound_the_instants():
    bounded = schedule("rate(1 day)", start_date=utc(2026, 1, 10, 12), end_date=utc(2026, 1, 12))
    assert next_fire(bounded, at_or_after=utc(2026, 1, 1)) == utc(2026, 1, 11)
    assert next_fire(bounded, at_or_after=utc(2026, 1, 11, 0, 0, 1)) == utc(2026, 1, 12)
    assert next_fire(bounded, at_or_after=utc(2026, 1, 12, 0, 0, 1)) is None
    assert next_fire(schedule("rate(1 day)", state=ScheduleState.DISABLED), at_or_after=utc(2026, 1, 1)) is None


@pytest.mark.parametrize(("text", "reason"), [
    ("cron(0 12 * * * *)", "one of day-of-month and day-of-week must be '?'"),
    ("cron(0 12 ? * ? *)", "one of day-of-month and day-of-week must be '?'"),
    ("cron(0 12 * * ?)", "six fields"),
    ("cron(60 12 * * ? *)", "bad minute"),
    ("cron(0 25 * * ? *)", "bad hour"),
    ("cron(0 12 ? * 6#6 *)", "bad day-of-week"),
    ("cron(0 0 15W * ? *)", "W is supported only as LW"),
    ("cron(0 0 * * ? 1969)", "years are 1970 to 2199"),
    ("cron(0 0 * * ? 2030-2020)", "ranges ascending"),
    ("cron(0 ? * * ? *)", "'?' is allowed only"),
    ("rate(1 minutes)", "singular for 1"),
    ("rate(5 minute)", "singular for 1"),
    ("rate(0 hours)", "positive"),
    ("rate(5 weeks)", "an expression is at("),
    ("at(2030-02-30T00:00:00)", "does not exist"),
    ("at(2030-01-01 00:00:00)", "an expression is at("),
    ("every day", "an expression is at("),
])
def test_bad_expressions_are_refused_with_a_reason(text, reason):
    with pytest.raises(ScheduleInvalid) as refused:
        expressions.parse(text)
    assert refused.value.error_type == "ValidationException"
    assert refused.value.message.startswith(f"Invalid Schedule Expression {text}: ")
    assert reason in refused.value.message


def test_time_zones_are_iana_names():
    assert expressions.zone("Asia/Kolkata").key == "Asia/Kolkata"
    for bad in ("Mars/Olympus", "../etc/passwd", ""):
        with pytest.raises(ScheduleInvalid, match="not an IANA time zone"):
            expressions.zone(bad)
