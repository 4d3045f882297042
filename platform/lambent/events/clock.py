"""The time schedules run on: one seam, so tests move it instead of waiting for real minutes.

Due times, missed windows and the ``next_fire_at`` of a change are all computed from ``now()``;
``tests/events`` replaces it with a clock it advances by hand.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()
