"""``lambent beat``: the scheduler that sends the sweeper every ``LAMBENT_SWEEP_INTERVAL_SECONDS``.

Run exactly one per installation: the sweeper is safe to run twice at once, but there is no
point in it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from lambent.celery import app


class Command(BaseCommand):
    help = "Run the scheduler of periodic tasks (the sweeper of asynchronous invocations)."

    def handle(self, *args: Any, **options: Any) -> None:
        app.start(["beat", f"--loglevel={settings.LOG_LEVEL}"])
