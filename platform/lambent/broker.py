"""The message broker (Redis, through Celery's kombu): how messages are sent, and the worker's
transport.

Sending: a Celery message for Redis is one JSON envelope pushed onto the queue's list, which is
what kombu's producer does after building it in several layers (about 0.5 ms of Python per
message here, and a blocking call on the api's event loop). ``publish`` and ``publish_async``
push the same envelope, built once by ``envelope``, with one ``LPUSH`` and a timeout of
``REDIS_SOCKET_TIMEOUT``: a stock Celery worker consumes it as its own. A broker that does not
answer in time is ``BrokerUnavailable``.

Receiving: ``Transport`` is kombu's Redis transport with one fault mended. kombu counts a
delivered message against the worker's prefetch window until it is acknowledged; when the
acknowledgement itself fails (Redis paused, partitioned, restarting), kombu logs it and keeps
counting the message, so after a few such failures the window is full for ever and the worker
never fetches another message, while it looks healthy. Here a failed acknowledgement still frees
its place in the window; the message stays in Redis's unacknowledged set and is delivered again
after the visibility timeout, where its task finds the work done (tasks read the database before
acting) and does nothing. The transport is registered with kombu as ``lambent-redis`` (and
``lambent-rediss``), the scheme of ``CELERY_BROKER_URL``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import socket
import uuid
from datetime import datetime

import kombu.transport
import redis
from django.conf import settings
from kombu.transport import redis as kombu_redis
from kombu.transport import virtual

from lambent import redis_clients

logger = logging.getLogger(__name__)

#: Celery's default queue, the list key its workers pop from (priority 0 has no suffix).
QUEUE = "celery"
_ORIGIN = f"{os.getpid()}@{socket.gethostname()}"


class BrokerUnavailable(Exception):
    """The broker did not take the message within ``REDIS_SOCKET_TIMEOUT``."""


def envelope(*, task: str, args: list[str], eta: datetime | None = None) -> bytes:
    """A Celery protocol-2 message of ``task(*args)`` as kombu's Redis transport stores it."""
    task_id = str(uuid.uuid4())
    body = json.dumps([args, {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}])
    return json.dumps({
        "body": base64.b64encode(body.encode()).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {
            "lang": "py", "task": task, "id": task_id, "shadow": None,
            "eta": eta.isoformat() if eta is not None else None, "expires": None, "group": None,
            "group_index": None, "retries": 0, "timelimit": [None, None], "root_id": task_id, "parent_id": None,
            "argsrepr": repr(args), "kwargsrepr": "{}", "origin": _ORIGIN, "ignore_result": True,
            "replaced_task_nesting": 0, "stamped_headers": None, "stamps": {},
        },
        "properties": {
            "correlation_id": task_id, "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": QUEUE}, "priority": 0, "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        },
    }).encode()


def publish(*, task: str, args: list[str], eta: datetime | None = None) -> None:
    """Send ``task(*args)``, due at ``eta`` (now when None)."""
    try:
        redis_clients.sync_client().lpush(QUEUE, envelope(task=task, args=args, eta=eta))
    except redis.RedisError as exc:
        raise BrokerUnavailable(str(exc) or type(exc).__name__) from exc


async def publish_async(*, task: str, args: list[str], eta: datetime | None = None) -> None:
    """``publish`` on the running event loop, given up after ``REDIS_SOCKET_TIMEOUT``."""
    message = envelope(task=task, args=args, eta=eta)
    try:
        async with asyncio.timeout(settings.REDIS_SOCKET_TIMEOUT):
            await redis_clients.async_client().lpush(QUEUE, message)
    except TimeoutError as exc:
        raise BrokerUnavailable(f"no answer within {settings.REDIS_SOCKET_TIMEOUT} s") from exc
    except redis.RedisError as exc:
        raise BrokerUnavailable(str(exc) or type(exc).__name__) from exc


class QoS(kombu_redis.QoS):
    """kombu's Redis QoS, whose failed acknowledgements no longer hold the prefetch window."""

    def ack(self, delivery_tag: str) -> None:
        try:
            self._usable()
            super().ack(delivery_tag)
        except redis.RedisError as exc:
            self._given_up(delivery_tag, exc)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        try:
            self._usable()
            super().reject(delivery_tag, requeue=requeue)
        except redis.RedisError as exc:
            self._given_up(delivery_tag, exc)

    def _usable(self) -> None:
        """Raise unless the channel is open: a task that ran across a reconnection ends on the channel
        that was closed meanwhile, whose acknowledgement kombu fails on for good."""
        if self.channel.closed:
            raise redis.ConnectionError("its channel was closed when the connection to Redis was lost")
        self._connected()

    def _connected(self) -> None:
        connection = self.channel.connection
        if connection is None or connection.client is None:
            raise redis.ConnectionError("the connection to Redis was closed")

    def restore_unacked(self, client: object = None) -> None:
        """Put the messages this channel holds back on the queue, as kombu does when a channel closes;
        when the connection is gone (Celery's consumer collects a broken connection before it closes
        it, and kombu then fails on the collected transport, which stops the worker for good) they
        stay in Redis's unacknowledged set and come back after the visibility timeout."""
        try:
            self._connected()
            super().restore_unacked(client)
        except redis.RedisError as exc:
            logger.warning("%d messages not put back on the queue (%s): they are delivered again after the "
                           "visibility timeout", len(self._delivered), exc)
            self._delivered.clear()

    def _given_up(self, delivery_tag: str, exc: Exception) -> None:
        virtual.QoS.ack(self, delivery_tag)  # out of the prefetch window
        logger.warning("message %s not acknowledged, Redis did not answer (%s): it is delivered again after the "
                       "visibility timeout and finds its work done", delivery_tag, exc)


class Channel(kombu_redis.Channel):
    QoS = QoS


class Transport(kombu_redis.Transport):
    Channel = Channel


kombu.transport.TRANSPORT_ALIASES["lambent-redis"] = f"{__name__}:Transport"
kombu.transport.TRANSPORT_ALIASES["lambent-rediss"] = f"{__name__}:Transport"
