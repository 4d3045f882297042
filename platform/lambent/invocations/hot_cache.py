"""What the invoke hot path remembers between requests, for ``INVOKE_CACHE_SECONDS`` at most.

An invocation needs the access key that signed it and the version its qualifier names
(for a SigV4 request, the signing key derived from the secret for the day, never the secret).
Looking both up costs five ORM queries, some 4 ms of Python on a small machine, more than
running a warm function; so the invoke view keeps the answers for a moment. Any write to
keys, memberships, users, tenants, functions, versions or aliases empties the cache of
this process at once; other api processes see the change when their entries expire, as
Lambda's own updates take a moment to reach every invocation. Weighted aliases are
remembered as their routing, never as one pick. The concurrency pool of each function
(its reservation, or its tenant's unreserved pool) is remembered the same way, and
forgotten on any write to reservations or tenants' quotas.
"""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Model
from django.db.models.signals import post_delete, post_save

from lambent.functions.models import LATEST, Alias, Function, Version
from lambent.iam.models import AccessKey, Membership, Tenant
from lambent.invocations.models import EventInvokeConfig
from lambent.quotas import selectors as quota_selectors
from lambent.quotas.admission import Pool
from lambent.quotas.models import ReservedConcurrency, TenantQuota
from worker.executors import FunctionSpec

Key = TypeVar("Key")
Value = TypeVar("Value")


class TimedCache(Generic[Key, Value]):
    def __init__(self) -> None:
        self._entries: dict[Key, tuple[float, Value]] = {}

    def get(self, key: Key) -> Value | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key: Key, value: Value) -> None:
        if settings.INVOKE_CACHE_SECONDS > 0:
            self._entries[key] = (time.monotonic() + settings.INVOKE_CACHE_SECONDS, value)

    def clear(self, **_: Any) -> None:
        self._entries.clear()


@dataclass(frozen=True)
class Target:
    version: Version
    spec: FunctionSpec


@dataclass(frozen=True)
class Routing:
    """Where a qualifier sends invocations: one target, or two by weight."""

    primary: Target
    additional: Target | None = None
    weight: float = 0.0

    def pick(self) -> Target:
        if self.additional is not None and random.random() < self.weight:
            return self.additional
        return self.primary


keys: TimedCache[tuple[str, str], AccessKey] = TimedCache()
#: SigV4: (access key id, date, region, service) -> the key and its derived signing key.
signing_keys: TimedCache[tuple[str, str, str, str], tuple[AccessKey, bytes]] = TimedCache()
routes: TimedCache[tuple[int, str, str], Routing] = TimedCache()
event_invoke_configs: TimedCache[tuple[int, str], EventInvokeConfig] = TimedCache()
pools: TimedCache[int, Pool] = TimedCache()


def pool(*, function: Function) -> Pool:
    """The concurrency pool invocations of ``function`` draw from."""
    found = pools.get(function.pk)
    if found is None:
        found = quota_selectors.pool_for(function=function)
        pools.put(function.pk, found)
    return found


def event_invoke_config(*, function: Function, qualifier: str | None) -> EventInvokeConfig:
    """The event invoke config governing ``qualifier`` (Lambda's defaults when none is set)."""
    key = (function.pk, qualifier or LATEST)
    config = event_invoke_configs.get(key)
    if config is None:
        config = EventInvokeConfig.objects.filter(function=function, qualifier=key[1]).first() or \
            EventInvokeConfig(function=function, qualifier=key[1])
        event_invoke_configs.put(key, config)
    return config


def route_key(tenant_id: int, function_name: str, qualifier: str | None) -> tuple[int, str, str]:
    return tenant_id, function_name, qualifier or ""


def header_key(header: str) -> tuple[str, str]:
    """The cache key of an Authorization header: the secret itself is never kept."""
    key_id, _, secret = header.partition(":")
    return key_id, hashlib.sha256(secret.encode()).hexdigest()


def _clear_on_writes(cache: TimedCache[Any, Any], models: tuple[type[Model], ...]) -> None:
    for model in models:
        for signal in (post_save, post_delete):
            signal.connect(cache.clear, sender=model, weak=False)


_clear_on_writes(keys, (AccessKey, Membership, Tenant, get_user_model()))
_clear_on_writes(signing_keys, (AccessKey, Membership, Tenant, get_user_model()))
_clear_on_writes(routes, (Function, Version, Alias, Tenant))
_clear_on_writes(event_invoke_configs, (EventInvokeConfig, Function))
_clear_on_writes(pools, (ReservedConcurrency, TenantQuota, Function, Tenant))
