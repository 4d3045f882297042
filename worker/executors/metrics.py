"""Prometheus metrics of the executor process (``lambent_executor_*``), in a registry of their own.

Counters and the histogram are counted by the backend as things happen; the gauges are read
from the backend's ``census()`` at each scrape, so they can never drift from what it holds.
``lambent executor`` serves them on ``LAMBENT_EXECUTOR_METRICS_BIND``.

    lambent_executor_sandboxes{kind,state,runtime}       kind generic, warm or provisioned;
                                                         state idle, busy or starting
    lambent_executor_provisioned_ready{runtime}          provisioned sandboxes initialized (idle or busy)
    lambent_executor_sandboxes_started_total{kind}       generic (into the pool), on_demand (a cold
                                                         start), provisioned (ahead of demand)
    lambent_executor_sandboxes_reaped_total{reason}      idle (past the keep-alive), dead (found
                                                         exited), failed (left in doubt by an
                                                         invocation), evicted
    lambent_executor_leases_total{start}                 sandboxes lent, by how they were had: cold
                                                         (started for the lease), warm, provisioned
    lambent_executor_leases_ended_total{reason}          given_back, expired (not renewed in time),
                                                         ended (the sandbox's runtime ended while lent)
    lambent_executor_invocations_total{start}            invocations the executor ran itself (tests,
                                                         tools), by the same starts
    lambent_executor_requests_total{op}                  requests served on the executor's socket:
                                                         borrow, give_back, renew, provision, ...
                                                         (a warm invocation makes none)
    lambent_executor_init_duration_seconds{kind}         on_demand or provisioned
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from worker.executors.base import Executor

REGISTRY = CollectorRegistry()

STARTED = Counter("lambent_executor_sandboxes_started", "Sandboxes started, by kind.", ["kind"], registry=REGISTRY)
REAPED = Counter("lambent_executor_sandboxes_reaped", "Sandboxes ended by the executor, by reason.", ["reason"],
                 registry=REGISTRY)
INVOCATIONS = Counter("lambent_executor_invocations", "Invocations the executor ran itself, by how their sandbox "
                      "was had: cold, warm or provisioned.", ["start"], registry=REGISTRY)
LEASES = Counter("lambent_executor_leases", "Sandboxes lent, by how they were had: cold, warm or provisioned.",
                 ["start"], registry=REGISTRY)
LEASES_ENDED = Counter("lambent_executor_leases_ended", "Leases ended: given_back, expired or ended (the sandbox "
                       "ended while lent).", ["reason"], registry=REGISTRY)
REQUESTS = Counter("lambent_executor_requests", "Requests served on the executor's socket, by operation.", ["op"],
                   registry=REGISTRY)
INIT_DURATION = Histogram("lambent_executor_init_duration_seconds", "Init duration of new sandboxes, by kind.",
                          ["kind"], registry=REGISTRY,
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


class Census(Collector):
    """The backend's sandboxes as gauges, counted at each scrape."""

    def __init__(self, backend: Executor) -> None:
        self._backend = backend

    def collect(self) -> Iterable[Metric]:
        sandboxes = GaugeMetricFamily("lambent_executor_sandboxes", "Sandboxes held, by kind, state and runtime.",
                                      labels=["kind", "state", "runtime"])
        ready = GaugeMetricFamily("lambent_executor_provisioned_ready",
                                  "Provisioned sandboxes initialized (idle or busy), by runtime.", labels=["runtime"])
        provisioned: dict[str, int] = defaultdict(int)
        for count in self._backend.census():
            sandboxes.add_metric([count.kind, count.state, count.runtime], count.count)
            if count.kind == "provisioned" and count.state in ("idle", "busy"):
                provisioned[count.runtime] += count.count
        for runtime, number in sorted(provisioned.items()):
            ready.add_metric([runtime], number)
        return [sandboxes, ready]


def serve(backend: Executor, *, host: str, port: int) -> tuple[WSGIServer, threading.Thread]:
    """Serve the metrics, with ``backend``'s census, on a thread of their own."""
    REGISTRY.register(Census(backend))
    return start_http_server(port, addr=host, registry=REGISTRY)
