"""``lambent api``: serve the ASGI application on ``LAMBENT_BIND`` with uvicorn."""

from __future__ import annotations

from typing import Any

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand

from lambent.env import parse_bind


class Command(BaseCommand):
    help = "Serve the API (REST, admin, docs) on LAMBENT_BIND."

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = parse_bind(settings.BIND)
        uvicorn.run("lambent.asgi:application", host=host, port=port, lifespan="on", log_level="info",
                    access_log=False)
