"""Prometheus metrics: the api's /metrics (loopback or a token) and what invocations count."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import b64, make_zip


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [(sample.labels, sample.value) for family in text_string_to_metric_families(text)
            for sample in family.samples if sample.name == name]


def count(text: str, name: str, **labels: str) -> float:
    return sum(value for found, value in samples(text, name) if labels.items() <= found.items())


def test_invocations_are_counted_cold_then_warm(api, tenant, client, fake_executor):
    body = {"name": "counted", "runtime": "python3.11", "handler": "app.handler",
            "zip_file": b64(make_zip({"app.py": "def handler(e, c):\n    return e\n"}))}
    assert api.post("/api/v1/functions", body, format="json").status_code == 201
    labels = {"tenant": tenant.tenant.account_id, "function": "counted", "type": "RequestResponse"}
    before = client.get("/metrics").content.decode()

    for _ in range(3):
        assert api.post("/api/v1/functions/counted/invoke", {}, format="json").status_code == 200

    after = client.get("/metrics").content.decode()
    assert count(after, "lambent_invocations_total", start="cold", **labels) - count(
        before, "lambent_invocations_total", start="cold", **labels) == 1
    assert count(after, "lambent_invocations_total", start="warm", **labels) - count(
        before, "lambent_invocations_total", start="warm", **labels) == 2
    assert count(after, "lambent_init_duration_seconds_count", type="RequestResponse") >= 1


def test_metrics_need_loopback_or_the_token(client, settings):
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403
    assert client.get("/metrics").status_code == 200  # the test client is 127.0.0.1
    settings.METRICS_TOKEN = "scrape-me"
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer scrape-me").status_code == 200
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403


@pytest.mark.sandbox
@pytest.mark.django_db(transaction=True)
def test_the_worker_serves_the_sum_of_its_processes(async_platform, api, tenant):
    import urllib.request

    from tests.invocations.async_helpers import create, invoke_event, wait_status

    create(api, "metered")
    for n in range(4):
        wait_status(api, invoke_event(api, "metered", {"n": n}), "succeeded")

    with urllib.request.urlopen(async_platform["metrics"], timeout=5) as response:
        text = response.read().decode()
    labels = {"tenant": tenant.tenant.account_id, "function": "metered", "type": "Event"}
    assert count(text, "lambent_invocations_total", **labels) == 4
    assert count(text, "lambent_async_attempts_total", outcome="succeeded", function="metered") == 4
