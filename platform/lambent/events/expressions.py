"""Schedule expressions as EventBridge Scheduler writes them, and the instants they name.

- ``at(yyyy-mm-ddThh:mm:ss)``: once, at that wall-clock time in the schedule's time zone.
- ``rate(N minute|minutes|hour|hours|day|days)``: every N units from the schedule's start (its
  ``StartDate``, else the moment it was created or its expression last changed); singular for 1,
  plural otherwise, as AWS requires.
- ``cron(minutes hours day-of-month month day-of-week year)``: AWS's six fields, in the time zone.

The cron grammar is cronsim's (PyPI ``cronsim``): it is maintained (healthchecks.io runs on it),
has no dependencies, and is the one of the candidates built around time zones: it computes in
wall-clock time and follows Debian cron through daylight-saving changes (a time skipped by the
spring change runs at the first minute after the gap, a time repeated by the autumn change runs
once; expressions that fire every minute or every hour follow real time, so the repeated hour's
minutes run twice). croniter was considered and set aside for its history of DST errors;
pyawscron/aws-croniter speak AWS's dialect but are little used and not as well maintained. What
cronsim lacks of AWS's grammar is done here: the year field (parsed here and applied as a
filter), day-of-week numbered 1-7 from Sunday (cronsim counts 0-6; numbers are shifted), ``?``
(cronsim's ``*``: AWS requires one day field to be ``?``, which makes the other one alone decide,
exactly as a ``*`` does in cron), and ``L`` alone in day-of-week (Saturday). Not supported: ``W``
with a day number (``15W``, the weekday nearest the 15th): cronsim has only ``LW``; such an
expression is refused with a message saying so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from lambent.errors import InvalidParameter

YEAR_RANGE = (1970, 2199)
#: The shape of an expression, for a schema to state: ``parse`` checks the values within it too.
PATTERN = (r"^(?:at\([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\)"
           r"|rate\([0-9]+ (?:minute|minutes|hour|hours|day|days)\)|cron\((?:[^\s()]+ ){5}[^\s()]+\))$")
_RATE = re.compile(r"^rate\(([0-9]+) (minute|minutes|hour|hours|day|days)\)$")
_AT = re.compile(r"^at\(([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})\)$")
_CRON = re.compile(r"^cron\((.*)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_YEAR_TERM = re.compile(r"^(\*|[0-9]{4})(?:-([0-9]{4}))?(?:/([0-9]+))?$")
_DOW_NUMBER = re.compile(r"(?<![#/0-9])([1-7])(?![0-9])")


class ScheduleInvalid(InvalidParameter):
    """A schedule that Scheduler would refuse (its expression, time zone or any other member): a 400
    ``ValidationException`` in both APIs, naming the native API's field."""

    error_type = "ValidationException"

    def __init__(self, message: str | None = None, *, field: str = "schedule_expression",
                 fields: dict[str, list[str]] | None = None) -> None:
        if fields is None:
            assert message is not None
            fields = {field: [message]}
        super().__init__(message, fields=fields)


@dataclass(frozen=True)
class Expression:
    """A parsed expression: ``kind`` is ``at``, ``rate`` or ``cron``."""

    text: str
    kind: str
    at: datetime | None = None  # naive wall-clock time of an ``at()``
    period: timedelta | None = None  # of a ``rate()``
    cron: str | None = None  # the five fields in cronsim's dialect
    years: frozenset[int] | None = None  # of a ``cron()``; None: every year

    def first_at_or_after(self, moment: datetime, *, tz: ZoneInfo, anchor: datetime) -> datetime | None:
        """The first instant (in UTC) this expression names at or after ``moment`` (aware), or None
        when there is none; ``anchor`` is where a rate counts from."""
        if self.at is not None:
            instant = self.at.replace(tzinfo=tz).astimezone(UTC)
            return instant if instant >= moment else None
        if self.period is not None:
            if moment <= anchor:
                return anchor
            steps = -((anchor - moment) // self.period)  # ceiling division
            return anchor + steps * self.period
        return self._next_cron(moment, tz=tz)

    def _next_cron(self, moment: datetime, *, tz: ZoneInfo) -> datetime | None:
        assert self.cron is not None
        # Arithmetic in UTC: on a local time it is wall-clock arithmetic, which loses the fold (which
        # of a repeated hour's two 01:30s is meant) and would find the first one again.
        utc = moment.astimezone(UTC).replace(microsecond=0)
        start = (utc - timedelta(seconds=0 if moment.microsecond else 1)).astimezone(tz)
        while True:
            if self.years is not None:
                later = sorted(year for year in self.years if year >= start.year)
                if not later:
                    return None
                if later[0] > start.year:  # jump to the next year that matches instead of walking to it
                    start = _just_before_year(later[0], tz)
            try:
                found: datetime = next(CronSim(self.cron, start))
            except StopIteration:  # cronsim's end of its search range
                return None
            if self.years is None or found.year in self.years:
                return found.astimezone(UTC)
            start = _just_before_year(found.year + 1, tz)


def _just_before_year(year: int, tz: ZoneInfo) -> datetime:
    return (datetime(year, 1, 1, tzinfo=tz).astimezone(UTC) - timedelta(seconds=1)).astimezone(tz)


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; the schedule's time zone must be one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleInvalid(f"Invalid time zone: {name!r} is not an IANA time zone name.",
                              field="timezone") from None


def parse(text: str) -> Expression:
    """The expression ``text`` names; ``ScheduleInvalid`` with Scheduler's message if none."""
    if not isinstance(text, str) or not 1 <= len(text) <= 256:
        raise ScheduleInvalid("ScheduleExpression must be 1 to 256 characters.")
    if match := _AT.match(text):
        try:
            return Expression(text=text, kind="at", at=datetime.fromisoformat(match[1]))
        except ValueError:
            raise _invalid(text, "that date and time does not exist") from None
    if match := _RATE.match(text):
        return Expression(text=text, kind="rate", period=_rate_period(text, int(match[1]), match[2]))
    if match := _CRON.match(text):
        cron, years = _cron(text, match[1].split())
        return Expression(text=text, kind="cron", cron=cron, years=years)
    raise _invalid(text, "an expression is at(yyyy-mm-ddThh:mm:ss), rate(value unit) or "
                         "cron(minutes hours day-of-month month day-of-week year)")


def _invalid(text: str, reason: str) -> ScheduleInvalid:
    return ScheduleInvalid(f"Invalid Schedule Expression {text}: {reason}.")


def _rate_period(text: str, value: int, unit: str) -> timedelta:
    if value < 1:
        raise _invalid(text, "the value must be a positive whole number")
    if (value == 1) != (not unit.endswith("s")):
        raise _invalid(text, "the unit is singular for 1 (minute, hour, day) and plural otherwise")
    return timedelta(seconds=value * _UNIT_SECONDS[unit.rstrip("s")])


def _cron(text: str, fields: list[str]) -> tuple[str, frozenset[int] | None]:
    if len(fields) != 6:
        raise _invalid(text, "cron() takes six fields: minutes hours day-of-month month day-of-week year")
    minutes, hours, day, month, weekday, year = (field.upper() for field in fields)
    if (day == "?") == (weekday == "?"):
        raise _invalid(text, "one of day-of-month and day-of-week must be '?', and only one")
    if any("?" in field for field in (minutes, hours, month, year)) or any(
            "?" in field and field != "?" for field in (day, weekday)):
        raise _invalid(text, "'?' is allowed only as the whole day-of-month or day-of-week field")
    if re.search(r"[0-9]W", day):
        raise _invalid(text, "W is supported only as LW (the last weekday of the month), not after a day number")
    converted = " ".join([minutes, hours, "*" if day == "?" else day, month, _weekday(weekday)])
    try:
        CronSim(converted, datetime(2000, 1, 1))
    except (CronSimError, ValueError, IndexError) as exc:
        raise _invalid(text, str(exc).lower() or "a field is not valid") from None
    return converted, _years(text, year)


def _weekday(field: str) -> str:
    """AWS's day-of-week (1-7 from Sunday, ``L`` alone for Saturday) in cronsim's (0-6 from Sunday)."""
    if field == "?":
        return "*"
    if field == "L":
        return "SAT"
    return _DOW_NUMBER.sub(lambda number: str(int(number[1]) - 1), field)


def _years(text: str, field: str) -> frozenset[int] | None:
    if field == "*":
        return None
    low, high = YEAR_RANGE
    years: set[int] = set()
    for term in field.split(","):
        match = _YEAR_TERM.match(term)
        if match is None:
            raise _invalid(text, f"the year field's {term!r} is not a year, range or step")
        first = low if match[1] == "*" else int(match[1])
        last = int(match[2]) if match[2] else (high if match[1] == "*" or match[3] else first)
        step = int(match[3]) if match[3] else 1
        if not (low <= first <= last <= high) or step < 1:
            raise _invalid(text, f"years are {low} to {high}, ranges ascending, steps positive")
        years.update(range(first, last + 1, step))
    return frozenset(years)
