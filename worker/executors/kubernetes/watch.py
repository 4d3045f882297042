"""What the executor knows of its pods: listed, then watched, from a thread of its own.

``PodWatch`` lists the installation's pods (a label selector, every namespace), keeps the list's
``resourceVersion`` and watches from it; every event updates its cache and wakes the coroutines
waiting on a pod (``wait``). A watch that ends (the server's timeout) or breaks (the API server
restarted, the connection dropped) resumes from the last version it saw; one that answers
``410 Gone`` (that version is older than the server keeps, as after a restart) or an error is
followed by a fresh list, so the cache is never left stale: each re-list is counted (``relists``,
and ``lambent_kubernetes_relists_total`` by reason). Pods deleted while the watch was away are
dropped from the cache by the list.

The official client is synchronous (urllib3); the watch runs in a daemon thread and hands its
events to the event loop with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException
from prometheus_client import Counter

logger = logging.getLogger(__name__)

RELISTS = Counter("lambent_kubernetes_relists_total", "Pod lists after the first, by why the watch ended",
                  ["reason"])
#: Seconds a watch asks the server to stay open before it is renewed from its last version.
WATCH_SECONDS = 240
#: Why a watch ended, when a fresh list must follow: the version it resumes from is gone, or the
#: server said something else is wrong. A watch that timed out or broke resumes from its last version.
RELIST_AFTER = ("gone", "error")
#: Seconds before a failed list is tried again.
RETRY_S = 1.0


@dataclass(frozen=True)
class PodState:
    """What the executor reads of a pod."""

    namespace: str
    name: str
    phase: str
    ready: bool
    pod_ip: str | None
    labels: dict[str, str]
    deleted: bool = False

    @property
    def ended(self) -> bool:
        return self.deleted or self.phase in ("Succeeded", "Failed")

    @classmethod
    def of(cls, pod: client.V1Pod, *, deleted: bool = False) -> PodState:
        conditions = (pod.status.conditions if pod.status else None) or []
        ready = any(condition.type == "Ready" and condition.status == "True" for condition in conditions)
        return cls(namespace=pod.metadata.namespace, name=pod.metadata.name,
                   phase=(pod.status.phase if pod.status else None) or "Pending", ready=ready,
                   pod_ip=pod.status.pod_ip if pod.status else None, labels=dict(pod.metadata.labels or {}),
                   deleted=deleted or pod.metadata.deletion_timestamp is not None)


Waiter = tuple[Callable[[PodState], bool], "asyncio.Future[PodState]"]


class PodWatch:
    def __init__(self, core: client.CoreV1Api, *, selector: str) -> None:
        self._core = core
        self._selector = selector
        self._pods: dict[tuple[str, str], PodState] = {}
        self._waiters: dict[tuple[str, str], list[Waiter]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._watch: watch.Watch | None = None
        self._listed = threading.Event()
        self.relists = 0
        self.last_end: str | None = None  # why the last watch ended
        self.resource_version: str | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="lambent-pod-watch", daemon=True)
        self._thread.start()

    async def listed(self) -> None:
        """Once the first list is in the cache."""
        await asyncio.to_thread(self._listed.wait)

    def stop(self) -> None:
        self._stop.set()
        if self._watch is not None:
            self._watch.stop()

    def pods(self) -> list[PodState]:
        return list(self._pods.values())

    def get(self, namespace: str, name: str) -> PodState | None:
        return self._pods.get((namespace, name))

    async def wait(self, namespace: str, name: str, condition: Callable[[PodState], bool], *,
                   timeout: float) -> PodState:
        """The pod's state once ``condition`` holds for it (``TimeoutError`` after ``timeout`` s)."""
        known = self._pods.get((namespace, name))
        if known is not None and condition(known):
            return known
        future: asyncio.Future[PodState] = asyncio.get_running_loop().create_future()
        waiter: Waiter = (condition, future)
        self._waiters.setdefault((namespace, name), []).append(waiter)
        try:
            async with asyncio.timeout(timeout):
                return await future
        finally:
            waiters = self._waiters.get((namespace, name), [])
            if waiter in waiters:
                waiters.remove(waiter)
            if not waiters:
                self._waiters.pop((namespace, name), None)

    # --- the thread ----------------------------------------------------------------------

    def _run(self) -> None:
        reason: str | None = None
        while not self._stop.is_set():
            if reason is None or reason in RELIST_AFTER:
                try:
                    listing = self._core.list_pod_for_all_namespaces(label_selector=self._selector)
                except Exception as exc:  # the API server is away: try again, keeping what is known
                    logger.warning("listing pods failed (%s); trying again", exc)
                    self._stop.wait(RETRY_S)
                    continue
                if reason is not None:
                    self.relists += 1
                    RELISTS.labels(reason).inc()
                self.resource_version = listing.metadata.resource_version
                self._handoff(self._replace, [PodState.of(pod) for pod in listing.items])
                self._listed.set()
            reason = self.last_end = self._follow()
            if reason == "broken":  # the server may be restarting: resume from the last version soon
                self._stop.wait(RETRY_S)

    def _follow(self) -> str:
        """Watch from the last version until the watch ends; why it ended."""
        self._watch = watch.Watch()
        try:
            for event in self._watch.stream(self._core.list_pod_for_all_namespaces, label_selector=self._selector,
                                            resource_version=self.resource_version,
                                            timeout_seconds=WATCH_SECONDS, allow_watch_bookmarks=True):
                if self._stop.is_set():
                    return "stopped"
                kind, pod = event["type"], event["object"]
                if kind == "ERROR":
                    return "gone" if getattr(pod, "code", None) == 410 or "410" in str(pod) else "error"
                version = pod.metadata.resource_version if pod.metadata else None
                if version:
                    self.resource_version = version
                if kind == "BOOKMARK":
                    continue
                self._handoff(self._apply, PodState.of(pod, deleted=kind == "DELETED"))
            return "expired"
        except ApiException as exc:
            return "gone" if exc.status == 410 else "error"
        except Exception as exc:  # a dropped connection, a restarted server
            if self._stop.is_set():
                return "stopped"
            logger.info("the pod watch broke (%s); listing again", exc)
            return "broken"
        finally:
            self._watch.stop()

    def _handoff(self, callback: Callable[..., None], *args: object) -> None:
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop closed: the executor is gone
            self._stop.set()

    # --- on the event loop ---------------------------------------------------------------

    def _replace(self, states: list[PodState]) -> None:
        listed = {(state.namespace, state.name): state for state in states}
        for key, state in list(self._pods.items()):
            if key not in listed:  # deleted while the watch was away
                self._apply(dataclasses.replace(state, deleted=True))
        for state in states:
            self._apply(state)

    def _apply(self, state: PodState) -> None:
        key = (state.namespace, state.name)
        if state.deleted:
            self._pods.pop(key, None)
        else:
            self._pods[key] = state
        for condition, future in list(self._waiters.get(key, [])):
            if not future.done() and (condition(state) or state.ended):
                future.set_result(state)
