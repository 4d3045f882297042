"""``lambent worker``: the Celery worker that runs asynchronous invocations and deliveries.

One process per ``LAMBENT_WORKER_CONCURRENCY`` slot (prefork), each running one task at a
time; tasks are acknowledged only when done, and a message whose process died goes back to
the queue. Gossip, mingle and heartbeats are off: workers share nothing but the broker and
the database, so they need not talk to each other.

The command replaces itself with Celery's own (same pid), with ``PROMETHEUS_MULTIPROC_DIR``
set before anything imports prometheus-client, so every pool process keeps its metrics
where the main process can sum them (``lambent.metrics``).
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Run a worker: asynchronous invocations, retries, destinations."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--concurrency", type=int, default=None,
                            help="Tasks run at once (default: LAMBENT_WORKER_CONCURRENCY).")

    def handle(self, *args: Any, **options: Any) -> None:
        concurrency = options["concurrency"] or settings.WORKER_CONCURRENCY
        metrics_dir = settings.DATA_DIR / "metrics" / f"worker-{os.getpid()}"
        shutil.rmtree(metrics_dir, ignore_errors=True)  # plain files this pid's worker wrote
        metrics_dir.mkdir(parents=True)
        argv = [
            sys.executable, "-m", "celery", "--app=lambent.celery", "worker", f"--loglevel={settings.LOG_LEVEL}",
            f"--concurrency={concurrency}", f"--hostname=lambent-{os.getpid()}@%h", "--without-gossip",
            "--without-mingle", "--without-heartbeat",
        ]
        sys.stdout.flush()
        os.execve(sys.executable, argv, {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)})
