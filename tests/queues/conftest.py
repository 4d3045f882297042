"""Fixtures of the queue tests: a clock moved by hand, queues made through the API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from lambent.queues import clock as queue_clock


class FakeClock:
    """Stands still until ``advance`` moves it."""

    def __init__(self) -> None:
        self.current = timezone.now()

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(queue_clock, "now", fake.now)
    return fake


@pytest.fixture
def create_queue(api: APIClient) -> Callable[..., dict[str, Any]]:
    def create(name: str = "jobs", **settings: Any) -> dict[str, Any]:
        response = api.post("/api/v1/queues", {"name": name, **settings}, format="json")
        assert response.status_code == 201, response.content
        return response.json()

    return create


def send(api: APIClient, body: str = "hello", queue: str = "jobs", **extra: Any) -> str:
    response = api.post(f"/api/v1/queues/{queue}/messages", {"body": body, **extra}, format="json")
    assert response.status_code == 201, response.content
    message_id: str = response.json()["message_id"]
    return message_id


def receive(api: APIClient, queue: str = "jobs", **options: Any) -> list[dict[str, Any]]:
    response = api.post(f"/api/v1/queues/{queue}/messages/receive", options, format="json")
    assert response.status_code == 200, response.content
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages
