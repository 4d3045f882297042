"""One executor of an installation leads at a time: a ``coordination.k8s.io/v1`` Lease.

The leader holds the Lease ``<installation>-executor`` in the platform's namespace: it writes its
identity and renews the Lease every third of its duration; the others try every third of it and
take the Lease over only once it went unrenewed for the whole duration. Every write is a
``replace`` naming the ``resourceVersion`` it read, so of two executors racing for it the API server
lets one win (the other gets ``409 Conflict``). A leader that cannot renew in time stops leading
before another could take over (``leading`` turns false a third of the duration early), so two
never both lead.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Callable

from kubernetes import client
from kubernetes.client.exceptions import ApiException

logger = logging.getLogger(__name__)


class LeaderLease:
    def __init__(self, coordination: client.CoordinationV1Api, *, namespace: str, name: str, identity: str,
                 duration_s: float = 15.0) -> None:
        self._api = coordination
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.duration_s = duration_s
        self._valid_until = 0.0  # time.monotonic(): the leader may act until then
        self._task: asyncio.Task[None] | None = None

    @property
    def leading(self) -> bool:
        return time.monotonic() < self._valid_until

    async def acquire(self, *, timeout: float | None = None) -> None:
        """Wait until this executor leads (``TimeoutError`` after ``timeout`` s), then keep renewing."""
        async with asyncio.timeout(timeout):
            while not (self.leading or await asyncio.to_thread(self._try)):
                await asyncio.sleep(self.duration_s / 3)
        self._task = asyncio.get_running_loop().create_task(self._renew_forever())

    async def try_now(self) -> bool:
        """Whether this executor leads after one try (``acquire`` still has to keep it)."""
        return self.leading or await asyncio.to_thread(self._try)

    async def release(self) -> None:
        """Stop renewing and give the Lease up, so another can lead at once."""
        if self._task is not None:
            self._task.cancel()
        if self.leading:
            self._valid_until = 0.0
            try:
                await asyncio.to_thread(self._give_up)
            except ApiException as exc:
                logger.warning("could not give up the executor lease: %s", exc.reason)

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.duration_s / 3)
            try:
                renewed = await asyncio.to_thread(self._try)
            except Exception:
                logger.exception("renewing the executor lease failed")
                renewed = False
            if not renewed and not self.leading:
                logger.error("this executor lost its lease and stops leading")
                return

    def _try(self) -> bool:
        """Take or renew the Lease; whether this executor leads now."""
        started = time.monotonic()
        now = datetime.datetime.now(datetime.UTC)
        spec = {"holderIdentity": self.identity, "leaseDurationSeconds": int(self.duration_s),
                "renewTime": _micro_time(now)}
        try:
            lease = self._api.read_namespaced_lease(self.name, self.namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace},
                    "spec": {**spec, "acquireTime": _micro_time(now), "leaseTransitions": 0}}
            return self._write(lambda: self._api.create_namespaced_lease(self.namespace, body), started)
        held = lease.spec
        mine = held.holder_identity == self.identity
        renewed = held.renew_time or held.acquire_time
        expired = renewed is None or (now - renewed).total_seconds() > (held.lease_duration_seconds or 0)
        if not mine and held.holder_identity and not expired:
            return False
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace,
                             "resourceVersion": lease.metadata.resource_version},
                "spec": {**spec,
                         "acquireTime": _micro_time(held.acquire_time) if mine and held.acquire_time
                         else _micro_time(now),
                         "leaseTransitions": (held.lease_transitions or 0) + (0 if mine else 1)}}
        return self._write(lambda: self._api.replace_namespaced_lease(self.name, self.namespace, body), started)

    def _write(self, write: Callable[[], object], started: float) -> bool:
        try:
            write()
        except ApiException as exc:
            if exc.status == 409:  # another executor wrote first
                return False
            raise
        # Lead until a third of the duration before another could see the Lease expire.
        self._valid_until = started + self.duration_s * 2 / 3
        return True

    def _give_up(self) -> None:
        lease = self._api.read_namespaced_lease(self.name, self.namespace)
        if lease.spec.holder_identity == self.identity:
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace,
                                 "resourceVersion": lease.metadata.resource_version},
                    "spec": {"holderIdentity": None, "leaseDurationSeconds": int(self.duration_s),
                             "leaseTransitions": lease.spec.lease_transitions or 0}}
            self._api.replace_namespaced_lease(self.name, self.namespace, body)


def _micro_time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
