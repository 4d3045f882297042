"""``lambent beat``: the scheduler that sends the sweeper every ``LAMBENT_SWEEP_INTERVAL_SECONDS``
and the schedules' tick every ``LAMBENT_SCHEDULE_TICK_SECONDS``.

One per installation is enough. Two at once are safe: the sweeper may run twice, and each
instant of a schedule is claimed once in the database (``lambent.events.firing``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from lambent.celery import app


class Command(BaseCommand):
    help = "Run the scheduler of periodic tasks (the sweeper of asynchronous invocations, the schedules' tick)."

    def handle(self, *args: Any, **options: Any) -> None:
        app.start(["beat", f"--loglevel={settings.LOG_LEVEL}"])
