"""Fixtures of the schedule tests: a clock moved by hand (the seam of ``lambent.events.clock``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lambent.events import clock as events_clock


class FakeClock:
    """Stands still until ``advance`` or ``set`` moves it."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)

    def set(self, moment: datetime) -> None:
        self.current = moment


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Starts at 2030-01-07 09:00:30 UTC, a Monday, half a minute past the minute."""
    fake = FakeClock(datetime(2030, 1, 7, 9, 0, 30, tzinfo=UTC))
    monkeypatch.setattr(events_clock, "now", fake.now)
    return fake
