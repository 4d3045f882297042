"""What the asynchronous tests share: functions that succeed, fail or sleep, queues to catch
records, and waiting for an invocation to end."""

from __future__ import annotations

import json
from typing import Any

from rest_framework.test import APIClient

from tests.conftest import b64, make_zip
from tests.processes import wait_until

ECHO = "import time\n\ndef handler(event, context):\n    time.sleep(event.get('sleep', 0))\n    return event\n"
FAIL = "def handler(event, context):\n    raise ValueError('boom: ' + repr(event))\n"
ENDED = ("succeeded", "failed", "expired", "cancelled")


def create(api: APIClient, name: str, source: str = ECHO, **overrides: Any) -> dict[str, Any]:
    body = {"name": name, "runtime": "python3.11", "handler": "app.handler",
            "zip_file": b64(make_zip({"app.py": source})), **overrides}
    response = api.post("/api/v1/functions", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def queue_arn(api: APIClient, name: str) -> str:
    response = api.post("/api/v1/queues", {"name": name}, format="json")
    assert response.status_code == 201, response.content
    return str(response.json()["arn"])


def receive_all(api: APIClient, queue: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while True:
        response = api.post(f"/api/v1/queues/{queue}/messages/receive", {"max_messages": 10, "visibility_timeout": 600},
                            format="json")
        assert response.status_code == 200, response.content
        batch = response.json()["messages"]
        if not batch:
            return messages
        messages.extend(batch)


def records(api: APIClient, queue: str) -> list[dict[str, Any]]:
    return [json.loads(message["body"]) for message in receive_all(api, queue)]


def configure(api: APIClient, function: str, *, qualifier: str | None = None, **config: Any) -> dict[str, Any]:
    path = f"/api/v1/functions/{function}/event-invoke-config" + (f"?qualifier={qualifier}" if qualifier else "")
    response = api.put(path, config, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def invoke_event(api: APIClient, function: str, event: Any, *, qualifier: str | None = None) -> str:
    path = f"/api/v1/functions/{function}/invoke?type=event" + (f"&qualifier={qualifier}" if qualifier else "")
    response = api.post(path, event, format="json")
    assert response.status_code == 202, response.content
    return str(response.json()["request_id"])


def invocation(api: APIClient, request_id: str) -> dict[str, Any]:
    response = api.get(f"/api/v1/invocations/{request_id}")
    assert response.status_code == 200, response.content
    return dict(response.json())


def wait_status(api: APIClient, request_id: str, *statuses: str, timeout: float = 60) -> dict[str, Any]:
    wanted = statuses or ENDED

    def reached() -> dict[str, Any] | None:
        found = invocation(api, request_id)
        return found if found["status"] in wanted else None
    return dict(wait_until(reached, timeout=timeout, interval=0.1, what=f"{request_id} to be {wanted}"))
