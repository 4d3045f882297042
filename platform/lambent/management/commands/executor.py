"""``lambent executor``: the process that owns the sandboxes of this node.

It serves the api and worker processes on ``LAMBENT_EXECUTOR_SOCKET`` (and over TCP on
``LAMBENT_EXECUTOR_BIND``, for those on other hosts) and runs
``LAMBENT_EXECUTOR_BACKEND``, and its Prometheus metrics (``worker.executors.metrics``) on
``LAMBENT_EXECUTOR_METRICS_BIND``. A backend whose sandboxes run on this host (the local one)
needs bubblewrap and root: without, it refuses to start, unless the operator set
``LAMBENT_SANDBOX=none``, which runs functions without isolation.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
from typing import Any
from wsgiref.simple_server import WSGIServer

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import import_string

from lambent.env import parse_bind
from worker.executors import Executor, load_backend, metrics
from worker.executors.local.sandbox import isolate_mounts
from worker.executors.server import connection_key, serve

logger = logging.getLogger(__name__)

UNCONFINED_WARNING = """
!!! LAMBENT_SECCOMP=unconfined: sandboxes run without their seccomp filters. Every system call
!!! the kernel offers is open to functions, and they can signal their sandbox's agent.
"""
NO_ISOLATION_WARNING = """
!!! LAMBENT_SANDBOX=none: functions run as plain processes of this host, with its user,
!!! its network and its files. Tenants are NOT isolated from each other or from the
!!! platform. Use this only on a machine where every function's author is trusted.
"""


class Command(BaseCommand):
    help = "Run the executor: start, reuse and reap the sandboxes of this node."

    def handle(self, *args: Any, **options: Any) -> None:
        if import_string(str(settings.EXECUTOR_BACKEND)).sandboxes_on_this_host:
            self._prepare_host()
        asyncio.run(self._serve())

    def _prepare_host(self) -> None:
        """Check that this host can isolate sandboxes, and isolate the executor's mounts."""
        if settings.SANDBOX == "none":
            self.stderr.write(self.style.WARNING(NO_ISOLATION_WARNING))
        elif shutil.which("bwrap") is None:
            raise CommandError(
                "bubblewrap (bwrap) is not installed, so sandboxes cannot be isolated. Install it "
                "(apt-get install bubblewrap; `make dev` does when run as root), or set LAMBENT_SANDBOX=none "
                "to run functions without isolation."
            )
        elif os.geteuid() != 0:
            raise CommandError(
                "sandboxes need root (cgroups, mounts, a uid of their own each); run the executor as root, "
                "or set LAMBENT_SANDBOX=none to run functions without isolation."
            )
        else:
            if settings.SECCOMP == "unconfined":
                self.stderr.write(self.style.WARNING(UNCONFINED_WARNING))
            isolate_mounts()  # before asyncio starts threads

    async def _serve(self) -> None:
        try:
            backend = load_backend(str(settings.EXECUTOR_BACKEND))
        except ImproperlyConfigured as exc:  # a setting the backend refuses: said, not a traceback
            raise CommandError(str(exc)) from None
        metrics_server = _serve_metrics(backend)
        bind = None if settings.EXECUTOR_BIND == "none" else parse_bind(settings.EXECUTOR_BIND)
        task = asyncio.create_task(serve(backend, settings.EXECUTOR_SOCKET, bind=bind,
                                         key=connection_key(settings.SECRET_KEY)))
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, task.cancel)
        logger.info("executor listening on %s%s with %s", settings.EXECUTOR_SOCKET,
                    "" if bind is None else f" and {settings.EXECUTOR_BIND}", settings.EXECUTOR_BACKEND)
        try:
            await task
        except asyncio.CancelledError:
            logger.info("executor stopped; its sandboxes are destroyed")
        finally:
            if metrics_server is not None:
                metrics_server.shutdown()


def _serve_metrics(backend: Executor) -> WSGIServer | None:
    """Metrics on their own thread (started after ``isolate_mounts``, which needs a single thread)."""
    if settings.EXECUTOR_METRICS_BIND == "none":
        return None
    host, port = parse_bind(settings.EXECUTOR_METRICS_BIND)
    try:
        server, _ = metrics.serve(backend, host=host, port=port)
    except OSError as exc:  # the port is taken: sandboxes matter more than their metrics
        logger.warning("executor metrics not served on %s: %s", settings.EXECUTOR_METRICS_BIND, exc)
        return None
    logger.info("executor metrics on http://%s/metrics", settings.EXECUTOR_METRICS_BIND)
    return server
