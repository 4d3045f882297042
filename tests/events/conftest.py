"""Fixtures of the schedule tests: a clock moved by hand (the seam of ``lambent.events.clock``), a
real ``lambent api`` and boto3's ``scheduler`` client signed with a tenant's key."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config

from lambent.events import clock as events_clock
from lambent.iam.services import NewTenant
from tests.processes import platform_env, start_api

# One botocore session for the run: it loads the Scheduler model once for every client.
_SESSION = boto3.session.Session()


class FakeClock:
    """Stands still until ``advance`` or ``set`` moves it."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)

    def set(self, moment: datetime) -> None:
        self.current = moment


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Starts at 2030-01-07 09:00:30 UTC, a Monday, half a minute past the minute."""
    fake = FakeClock(datetime(2030, 1, 7, 9, 0, 30, tzinfo=UTC))
    monkeypatch.setattr(events_clock, "now", fake.now)
    return fake


@pytest.fixture(scope="module")
def api_endpoint(django_db_setup: Any, django_db_blocker: Any) -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of one real ``lambent api`` for the module's tests."""
    with django_db_blocker.unblock():
        env = platform_env()
    process, base = start_api(env)
    yield base
    process.stop()


def scheduler_client(endpoint: str, new_tenant: NewTenant) -> Any:
    """boto3's own ``scheduler`` client, signed with the tenant's access key; no retries, so each
    call is one request."""
    credentials = new_tenant.credentials
    return _SESSION.client(
        "scheduler", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=10, read_timeout=60))


@pytest.fixture
def scheduler(api_endpoint: str, tenant: NewTenant) -> Any:
    return scheduler_client(api_endpoint, tenant)
