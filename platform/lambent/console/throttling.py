"""The failed-sign-in limit: ``CONSOLE_SIGN_IN_FAILURES`` failures of one username from one address
within ``CONSOLE_SIGN_IN_WINDOW_SECONDS`` lock that pair out until the oldest of them leaves the
window. A success clears the pair's failures. Another address, or another username from the same
address, is not held back: one guesser cannot lock a user out everywhere."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from lambent.console.models import SignInFailure


def _window_start(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.CONSOLE_SIGN_IN_WINDOW_SECONDS)


def locked_for(*, username: str, address: str) -> int:
    """Seconds until ``username`` may try again from ``address``; 0 when it may now."""
    now = timezone.now()
    failures = SignInFailure.objects.filter(username=username.lower(), address=address, at__gte=_window_start(now))
    times = list(failures.order_by("-at").values_list("at", flat=True)[:settings.CONSOLE_SIGN_IN_FAILURES])
    if len(times) < settings.CONSOLE_SIGN_IN_FAILURES:
        return 0
    oldest = times[-1]
    remaining = (oldest + timedelta(seconds=settings.CONSOLE_SIGN_IN_WINDOW_SECONDS) - now).total_seconds()
    return max(1, int(remaining + 0.999))


def record_failure(*, username: str, address: str) -> None:
    now = timezone.now()
    SignInFailure.objects.create(username=username.lower(), address=address, at=now)
    SignInFailure.objects.filter(at__lt=_window_start(now)).delete()  # what no longer counts


def clear(*, username: str, address: str) -> None:
    SignInFailure.objects.filter(username=username.lower(), address=address).delete()
