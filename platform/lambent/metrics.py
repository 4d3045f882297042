"""Prometheus metrics of the control plane: what the api and worker processes count.

The api serves them on its own ``/metrics`` (to loopback clients, or to any client that
sends ``LAMBENT_METRICS_TOKEN`` as a bearer token: the labels name tenants' functions).
The worker runs one process per concurrency slot, so it keeps them in prometheus-client's
multiprocess files and serves their sum on ``LAMBENT_WORKER_METRICS_BIND``; the executor
serves its own (``lambent_executor_*``). Labels: ``tenant`` is the account id,
``function`` the name, ``type`` the invocation type, ``start`` ``cold`` or ``warm``.
"""

from __future__ import annotations

import hmac
import ipaddress
import os

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

INVOCATIONS = Counter("lambent_invocations", "Invocations that ran, by outcome and start.",
                      ["tenant", "function", "type", "outcome", "start"])
INIT_DURATION = Histogram("lambent_init_duration_seconds", "Init duration of cold starts.", ["type"],
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
THROTTLES = Counter("lambent_throttles", "Invocations refused for concurrency, by reason.",
                    ["tenant", "function", "reason"])
ASYNC_OUTCOMES = Counter("lambent_async_attempts", "Attempts of asynchronous invocations, by outcome.",
                         ["tenant", "function", "outcome"])
SCHEDULE_FIRINGS = Counter("lambent_schedule_firings", "Scheduled times of schedules: fired, missed or failed.",
                           ["tenant", "group", "schedule", "status"])


def invocation_ran(*, tenant: str, function: str, invocation_type: str, failed: bool,
                   init_duration_ms: float | None) -> None:
    start = "warm" if init_duration_ms is None else "cold"
    INVOCATIONS.labels(tenant, function, invocation_type, "error" if failed else "success", start).inc()
    if init_duration_ms is not None:
        INIT_DURATION.labels(invocation_type).observe(init_duration_ms / 1000)


def registry() -> CollectorRegistry:
    """This process's metrics, or every worker process's when they keep multiprocess files."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return REGISTRY
    collected = CollectorRegistry()
    multiprocess.MultiProcessCollector(collected)  # type: ignore[no-untyped-call]
    return collected


def _allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        return scheme == "Bearer" and hmac.compare_digest(given.encode(), token.encode())
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        return HttpResponse("metrics are served to loopback clients or with LAMBENT_METRICS_TOKEN\n", status=403,
                            content_type="text/plain")
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
