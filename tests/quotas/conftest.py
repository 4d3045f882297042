"""Fixtures of the quota tests: reservations made through the API, slots held by hand."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from lambent.functions.models import Function
from lambent.invocations import hot_cache
from lambent.quotas import admission, slots


def reserve(api: APIClient, function: str, count: Any) -> Any:
    return api.put(f"/api/v1/functions/{function}/concurrency", {"reserved_concurrent_executions": count},
                   format="json")


@pytest.fixture
def hold() -> Iterator[Callable[..., admission.Slot]]:
    """Take a slot of a function's pool as an execution of another process would, once this process
    gave back the slots it kept after its invocations; every slot is given back afterwards."""
    held: list[admission.Slot] = []

    def take(function: str, *, lease_seconds: float = 60) -> admission.Slot:
        asyncio.run(slots.keeper.give_back_idle())
        pool = hot_cache.pool(function=Function.objects.select_related("tenant").get(name=function))
        slot = admission.acquire(pool=pool, lease_seconds=lease_seconds)
        held.append(slot)
        return slot

    yield take
    for slot in held:
        admission.release(slot)
