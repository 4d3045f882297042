"""The Celery tasks: thin, idempotent, named, each taking one id and calling a service.

Messages are only hints (``lambent.invocations.outbox``): every task reads the database
and decides, so a duplicated, redelivered or late message does no harm. ``acks_late``
with ``task_reject_on_worker_lost`` (settings) puts a message back when its worker dies.
"""

from __future__ import annotations

from typing import Any

from celery import signals
from django.db import close_old_connections

from lambent.celery import app
from lambent.invocations import destinations, outbox, processing


@signals.task_prerun.connect
def _usable_connections(**_: Any) -> None:
    close_old_connections()


@app.task(name=outbox.RUN_INVOCATION, acks_late=True)
def run_invocation(request_id: str) -> None:
    processing.process(request_id=request_id)


@app.task(name=outbox.DELIVER_WEBHOOK, acks_late=True)
def deliver_webhook(delivery_id: str) -> None:
    destinations.webhook_deliver(delivery_id=delivery_id)


@app.task(name=outbox.SWEEP)
def sweep() -> dict[str, int]:
    return processing.sweep()
