import os

from django.apps import AppConfig


class QuotasConfig(AppConfig):
    name = "lambent.quotas"
    label = "quotas"

    def ready(self) -> None:
        # The api serves the default registry; a worker's processes keep multiprocess files
        # instead, where a collector reading Redis at scrape time has no place.
        if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
            from prometheus_client import REGISTRY

            from lambent.quotas.collector import ConcurrencyCollector

            REGISTRY.register(ConcurrencyCollector())
