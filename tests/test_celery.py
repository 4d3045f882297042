"""The Celery app loads from Django's settings and reaches the configured Redis."""

from django.conf import settings

from lambent.celery import app


def test_celery_app_is_configured_from_settings():
    assert app.conf.broker_url == settings.CELERY_BROKER_URL
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.broker_transport_options["socket_timeout"] == 2


def test_celery_reaches_the_broker():
    app.loader.import_default_modules()
    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=2)
        assert connection.connected
        with connection.SimpleQueue("lambent-test-broker-check") as queue:
            queue.put({"ping": 1})
            message = queue.get(timeout=5)
            assert message.payload == {"ping": 1}
            message.ack()
