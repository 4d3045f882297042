"""The time queues run on: one seam, so tests move it instead of sleeping.

Visibility timeouts and retention are compared against ``now()`` and nothing else;
``tests/queues`` replaces it with a clock it advances by hand.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()
