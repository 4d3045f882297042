"""The concurrency gauges of the api's ``/metrics``, read from the counters when scraped.

The counts live in Redis, shared by every api and worker process, so no process could keep
them as its own gauge: this collector reads them at scrape time instead.
``lambent_concurrent_executions{tenant,function}`` for each function with a reservation,
``lambent_unreserved_concurrent_executions{tenant}`` for each tenant's unreserved pool.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from lambent.quotas import admission, selectors

logger = logging.getLogger(__name__)


def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
    return (GaugeMetricFamily("lambent_concurrent_executions",
                              "Executions running now of each function with reserved concurrency.",
                              labels=["tenant", "function"]),
            GaugeMetricFamily("lambent_unreserved_concurrent_executions",
                              "Executions running now in each tenant's unreserved pool.", labels=["tenant"]))


class ConcurrencyCollector(Collector):
    def describe(self) -> Iterable[Metric]:
        # Registration asks for the names; answering from here keeps it from reading the database.
        return _families()

    def collect(self) -> Iterable[Metric]:
        functions, unreserved = _families()
        try:
            pools = selectors.reserved_pools_everywhere()
            account_ids = selectors.account_ids_everywhere()
            counts = admission.in_use(keys=[pool.key for pool in pools] +
                                      [admission.unreserved_key(account_id=account_id) for account_id in account_ids])
        except Exception as exc:  # noqa: BLE001 - the database or Redis away: the other metrics still go out
            logger.warning("concurrency gauges left out of this scrape: %s", exc)
            return ()
        for pool, count in zip(pools, counts, strict=False):
            functions.add_metric([pool.account_id, pool.function_name], count)
        for account_id, count in zip(account_ids, counts[len(pools):], strict=True):
            unreserved.add_metric([account_id], count)
        return functions, unreserved
