"""The Celery tasks: thin, idempotent, named, each taking one id and calling a service.

Messages are only hints (``lambent.invocations.outbox``): every task reads the database
and decides, so a duplicated, redelivered or late message does no harm. A message to run
invocations may name several (those an api process accepted together). ``acks_late``
with ``task_reject_on_worker_lost`` (settings) puts a message back when its worker dies.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import signals
from django.conf import settings
from django.db import close_old_connections
from prometheus_client import multiprocess, start_http_server

from lambent import metrics
from lambent.celery import app
from lambent.env import parse_bind
from lambent.events import firing
from lambent.invocations import destinations, outbox, processing, provisioning

logger = logging.getLogger(__name__)


@signals.task_prerun.connect
def _usable_connections(**_: Any) -> None:
    close_old_connections()


@signals.worker_ready.connect
def _serve_metrics(**_: Any) -> None:
    if settings.WORKER_METRICS_BIND == "none":
        return
    host, port = parse_bind(settings.WORKER_METRICS_BIND)
    try:
        start_http_server(port, addr=host, registry=metrics.registry())
    except OSError as exc:
        logger.warning("worker metrics not served on %s: %s", settings.WORKER_METRICS_BIND, exc)


@signals.worker_process_shutdown.connect
def _forget_process(pid: int | None = None, **_: Any) -> None:
    if pid is not None and "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


@app.task(name=outbox.RUN_INVOCATION, acks_late=True)
def run_invocation(*request_ids: str) -> None:
    processing.process_batch(request_ids=request_ids)


@app.task(name=outbox.DELIVER_WEBHOOK, acks_late=True)
def deliver_webhook(delivery_id: str) -> None:
    destinations.webhook_deliver(delivery_id=delivery_id)


@app.task(name=outbox.SWEEP)
def sweep() -> dict[str, int]:
    return processing.sweep()


@app.task(name=provisioning.RECONCILE)
def reconcile_provisioned() -> dict[str, int]:
    return provisioning.reconcile()


@app.task(name=firing.TICK)
def fire_schedules() -> dict[str, int]:
    return firing.tick()
