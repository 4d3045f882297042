"""The broker: messages pushed in one command that a stock Celery worker takes as its own, a send
that gives up in time, and a transport whose failed acknowledgements never stop a worker."""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import time
from collections.abc import Iterator

import kombu
import pytest
import redis

from lambent import broker, redis_clients
from lambent.celery import app
from tests.processes import RedisServer


@pytest.fixture
def private_redis(settings) -> Iterator[RedisServer]:
    server = RedisServer().start()
    settings.REDIS_URL = server.url
    settings.REDIS_SOCKET_TIMEOUT = 1
    yield server
    server.stop()


def queued(server: RedisServer) -> list[dict]:
    client = redis.Redis.from_url(server.url)
    try:
        return [json.loads(raw) for raw in client.lrange(broker.QUEUE, 0, -1)]
    finally:
        client.close()


def test_an_envelope_is_what_celery_itself_queues(private_redis):
    with app.connection_for_write(f"redis://127.0.0.1:{private_redis.port}/0") as connection:
        app.send_task("lambent.invocations.run", args=["by-celery"], connection=connection, retry=False)
    broker.publish(task="lambent.invocations.run", args=["by-lambent"])

    by_lambent, by_celery = queued(private_redis)  # LPUSH: the newest first
    assert by_lambent.keys() == by_celery.keys()
    assert by_lambent["headers"].keys() == by_celery["headers"].keys()
    assert set(by_lambent["properties"]) == set(by_celery["properties"]) - {"reply_to"}
    for name in ("content-type", "content-encoding"):
        assert by_lambent[name] == by_celery[name]
    assert by_lambent["properties"]["delivery_info"] == by_celery["properties"]["delivery_info"]
    assert by_lambent["headers"]["task"] == by_celery["headers"]["task"] == "lambent.invocations.run"
    args, kwargs, embed = json.loads(base64.b64decode(by_lambent["body"]))
    assert (args, kwargs) == (["by-lambent"], {})
    assert embed == json.loads(base64.b64decode(by_celery["body"]))[2]


def test_a_paused_broker_fails_a_send_in_its_socket_timeout(private_redis):
    broker.publish(task="lambent.invocations.run", args=["before"])  # connects while it answers
    private_redis.signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(broker.BrokerUnavailable):
            asyncio.run(broker.publish_async(task="lambent.invocations.run", args=["paused"]))
        assert time.monotonic() - started < 1.5
        started = time.monotonic()
        with pytest.raises(broker.BrokerUnavailable):
            broker.publish(task="lambent.invocations.run", args=["paused"])
        assert time.monotonic() - started < 2.5  # one quick retry of a broken connection
    finally:
        private_redis.signal(signal.SIGCONT)
    redis_clients.sync_client().close()


def test_a_failed_acknowledgement_frees_its_place_in_the_prefetch_window(private_redis, caplog):
    queue = kombu.Queue("acks", routing_key="acks")
    with kombu.Connection(f"lambent-redis://127.0.0.1:{private_redis.port}/0",
                          transport_options={"socket_timeout": 0.5}) as connection:
        channel = connection.channel()
        channel.basic_qos(0, 1, False)
        kombu.Producer(channel).publish({"n": 1}, routing_key="acks", declare=[queue])
        message = queue(channel).get(no_ack=False)
        assert message is not None and not channel.qos.can_consume()

        private_redis.signal(signal.SIGSTOP)
        try:
            message.ack()  # logged, not raised: Redis delivers it again after the visibility timeout
        finally:
            private_redis.signal(signal.SIGCONT)
        assert channel.qos.can_consume()  # kombu alone keeps it in the window for ever
        assert "not acknowledged" in caplog.text


def test_a_connection_lost_with_a_message_in_hand_is_closed_and_acknowledged_without_failing(private_redis):
    """What Celery's consumer does when Redis dies under a running task: it collects the connection,
    closes it, and acknowledges the task's message when the task ends. kombu alone raises on both."""
    with kombu.Connection(f"lambent-redis://127.0.0.1:{private_redis.port}/0") as connection:
        channel = connection.default_channel
        queue = kombu.Queue("collected", routing_key="collected")
        kombu.Producer(channel).publish({"n": 1}, routing_key="collected", declare=[queue])
        message = queue(channel).get(no_ack=False)
        assert message is not None
        private_redis.signal(signal.SIGKILL)
        connection.collect()
        connection.close()
        message.ack()
