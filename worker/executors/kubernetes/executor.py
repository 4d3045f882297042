"""The Kubernetes backend: each sandbox is a pod, running a runtime image whose command is the agent.

Its sandboxes are pooled, leased and provisioned as ``worker.executors.pooled`` says; this module
says how a pod becomes one. Api and worker processes reach a lent pod's agent directly at its
address with the lease's token, as they reach a local sandbox: the executor is never in the path
of a warm invocation.

**Bare pods owned by the executor** (as OpenWhisk's container factory), not pods relabelled out of
a Deployment (as Fission's pool manager): a pod's resources are fixed when it is made, and memory
limit = request = the function's MemorySize, so a generic pod is made for one shape (tenant
namespace, runtime, memory, ephemeral storage) and a Deployment per shape would be one more object
per shape for a controller to fight over. The executor decides which pod dies (the idle one the
keep-alive reaps, the one an invocation left in doubt), which a ReplicaSet would second-guess; and
a pod that carries its agent's key hash and, on the test bed, a port of its own, is one object
rather than a template.

**A pod's life.** A generic pod of a shape is created ahead of demand (``pool_size`` per runtime,
refilled in the background once a shape was used) in the tenant's namespace, which the executor
makes on first use with its guard rails (``objects``: the ``restricted`` Pod Security labels, a
default-deny NetworkPolicy, a ResourceQuota and a LimitRange). Once the pod is Ready the executor
connects to its agent and attaches with the installation's key (the pod holds only its sha256).
A cold start *specializes* one: the agent fetches the version's package through a link the
executor signs (``code_links``), checks its sha256, unpacks it into the pod's ``/var/task``
(an ``emptyDir``), and the pod is labelled as that version's for ever; then the function inits.
A pod whose agent ends, or that ends, is deleted; at start the executor deletes the pods of its
installation it cannot account for (their agents ended with the previous executor's connections).

**Watching** (``watch``): pods are listed by label and watched from the list's version; a broken
or expired (``410 Gone``) watch is followed by a re-list. **Leading** (``leader``): of several
executor replicas, one leads through a Lease and the others wait to take over.

The official ``kubernetes`` client is synchronous; its calls run in threads (``asyncio.to_thread``),
the watch in a thread of its own, so the event loop that serves the api and worker processes
never waits on the API server.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import random
import secrets
import socket
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from lambent.functions.archives import ArchiveError, read
from runtimes.agent import protocol
from worker.executors.base import (
    ExecutorPlatformError,
    FunctionInitError,
    FunctionSpec,
    SandboxCount,
    invalid_package,
)
from worker.executors.kubernetes import objects
from worker.executors.kubernetes.code_links import CodeLinks
from worker.executors.kubernetes.leader import LeaderLease
from worker.executors.kubernetes.settings import KubernetesSettings
from worker.executors.kubernetes.watch import PodWatch
from worker.executors.meter import Meter
from worker.executors.metrics import REAPED, STARTED
from worker.executors.pooled import LEASE_S, PooledExecutor
from worker.executors.warm import INIT_TIMEOUT_S, START_TIMEOUT_S, AgentHandle, WarmSandbox

logger = logging.getLogger(__name__)

#: The label of a test bed pod's host port, so a restarted executor knows which ports are taken.
PORT_LABEL = "lambent.dev/port"
#: How long a pod creation the tenant's ResourceQuota refused is tried again (every QUOTA_RETRY_S),
#: once idle pods of the tenant were reaped to make room.
QUOTA_WAIT_S = 10.0
QUOTA_RETRY_S = 0.25
#: Seconds an agent may take to fetch and unpack a package (the link is good for longer).
SPECIALIZE_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Shape:
    """What a generic pod is made for: pods cannot change their namespace or their resources."""

    namespace: str
    runtime: str
    memory_mb: int
    ephemeral_mb: int


class PodHandle(AgentHandle):
    """A pod whose agent is attached (greeted with ``ready``), as the shared ``WarmSandbox`` drives it."""

    def __init__(self, executor: KubernetesExecutor, *, shape: Shape, name: str, address: str,
                 reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int | None) -> None:
        self._executor = executor
        self.shape = shape
        self.name = name
        self.address = address
        self.reader = reader
        self.writer = writer
        self.port = port
        self._destroyed = False

    @property
    def exited(self) -> bool:
        state = self._executor.watch.get(self.shape.namespace, self.name)
        return self._destroyed or state is None or state.ended

    @property
    def endpoint(self) -> str:
        return f"tcp:{self.address}"

    @property
    def meter_directory(self) -> str | None:
        return None  # on another host: the agent's own figures, held to the holder's clock

    def meter(self) -> Meter:
        return Meter(None)

    async def specialize(self, *, url: str, sha256: str, max_bytes: int) -> None:
        """Have the agent fetch, check and unpack the package; ``ExecutorPlatformError`` if it cannot."""
        self.writer.write(protocol.encode({"op": "specialize",
                                           "code": {"url": url, "sha256": sha256, "max_bytes": max_bytes}}))
        try:
            await self.writer.drain()
            async with asyncio.timeout(SPECIALIZE_TIMEOUT_S):
                header, _ = await protocol.receive_from(self.reader)
        except (TimeoutError, protocol.ProtocolError, ConnectionError) as exc:
            raise ExecutorPlatformError(f"pod {self.name} was not specialized: {exc!r}") from None
        if header.get("op") != "specialized" or header.get("error"):
            raise ExecutorPlatformError(f"pod {self.name} could not take its code: {header.get('error')}")

    async def destroy(self) -> None:
        if self._destroyed:
            return
        self._destroyed = True
        self.writer.close()
        await self._executor.delete_pod(self.shape.namespace, self.name, port=self.port)


class KubernetesExecutor(PooledExecutor):
    def __init__(self, *, settings: KubernetesSettings, api_client: client.ApiClient, code_links: CodeLinks,
                 keep_alive_s: float, lease_s: float = LEASE_S, region: str = "us-east-1",
                 init_timeout_s: float = INIT_TIMEOUT_S, max_unzipped_bytes: int = 250 * 1024 * 1024,
                 concurrency_of: Callable[[str], int] = lambda account_id: 1000, identity: str | None = None,
                 leader_duration_s: float = 15.0) -> None:
        super().__init__(keep_alive_s=keep_alive_s, lease_s=lease_s)
        self.settings = settings
        self._api_client = api_client
        self.core = client.CoreV1Api(api_client)
        self._networking = client.NetworkingV1Api(api_client)
        self.watch = PodWatch(self.core, selector=objects.installation_selector(settings))
        self._code_links = code_links
        self._region = region
        self._init_timeout_s = init_timeout_s
        self._max_unzipped_bytes = max_unzipped_bytes
        self._concurrency_of = concurrency_of  # a tenant's concurrent executions limit, by account id
        self._key = secrets.token_urlsafe(32)  # what the executor attaches to its pods' agents with
        self._key_sha256 = hashlib.sha256(self._key.encode()).hexdigest()
        self.identity = identity or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
        self.leader = LeaderLease(client.CoordinationV1Api(api_client), namespace=settings.platform_namespace,
                                  name=f"{settings.installation}-executor", identity=self.identity,
                                  duration_s=leader_duration_s)
        self._namespaces: dict[str, asyncio.Future[str]] = {}
        self._labelling: set[asyncio.Future[object]] = set()  # pods being labelled as specialized
        self._packages: dict[str, asyncio.Future[None]] = {}  # sha256: checked once, as the local code cache
        self._generic: dict[Shape, list[PodHandle]] = defaultdict(list)
        self._making: dict[Shape, int] = defaultdict(int)  # generic pods being made
        self._refills: dict[Shape, asyncio.Task[None]] = {}
        self._ports: set[int] = set()
        self._started: asyncio.Future[None] | None = None

    @classmethod
    def from_settings(cls) -> KubernetesExecutor:
        from django.conf import settings as django_settings

        from lambent.functions.code_packages import read_code
        from lambent.functions.limits import CODE_UNZIPPED_MAX_BYTES

        kube = KubernetesSettings.from_settings()
        if kube.kubeconfig:
            api_client = config.new_client_from_config(config_file=kube.kubeconfig, context=kube.context or None)
        else:
            config.load_incluster_config()
            api_client = client.ApiClient()
        key = hashlib.sha256(b"lambent code links\n" + django_settings.SECRET_KEY.encode()).digest()
        links = CodeLinks(source=read_code, key=key, base_url=kube.code_url, bind=kube.code_bind)
        return cls(settings=kube, api_client=api_client, code_links=links,
                   keep_alive_s=django_settings.KEEP_ALIVE_SECONDS, lease_s=django_settings.SANDBOX_LEASE_SECONDS,
                   region=django_settings.REGION, max_unzipped_bytes=CODE_UNZIPPED_MAX_BYTES,
                   concurrency_of=_tenant_concurrency)

    # --- start: lead, watch, serve code, reap what a previous executor left ---------------

    async def start(self) -> None:
        """Lead, list the installation's pods, serve code links; idempotent, and done at first use."""
        if self._started is None:
            self._started = asyncio.ensure_future(self._start_once())
        await asyncio.shield(self._started)

    async def _start_once(self) -> None:
        if not await self.leader.try_now():
            logger.info("executor %s waits to lead installation %s", self.identity, self.settings.installation)
        await self.leader.acquire()
        logger.info("executor %s leads installation %s", self.identity, self.settings.installation)
        self.watch.start()
        await self.watch.listed()
        await self._code_links.start()
        leftovers = self.watch.pods()
        if leftovers:
            logger.warning("deleting %d pods a previous executor of this installation left", len(leftovers))
            await asyncio.gather(*(self.delete_pod(pod.namespace, pod.name) for pod in leftovers),
                                 return_exceptions=True)
            REAPED.labels("orphaned").inc(len(leftovers))

    def _check_leading(self) -> None:
        if not self.leader.leading:
            raise ExecutorPlatformError("this executor does not lead its installation now")

    # --- what PooledExecutor asks of a backend --------------------------------------------

    def _runtime_problem(self, runtime: str) -> str | None:
        return None if self.settings.image(runtime) else f"no image is configured for runtime {runtime}"

    async def _new_sandbox(self, spec: FunctionSpec, *, prewarmed: bool, provisioned: bool, init_limit: bool,
                           lend: str | None) -> WarmSandbox:
        await self.start()
        self._check_leading()
        if (problem := self._runtime_problem(spec.runtime)) is not None:
            raise ExecutorPlatformError(problem)
        await self._check_package(spec.code_sha256)
        shape = Shape(namespace=await self._tenant_namespace(spec.account_id), runtime=spec.runtime,
                      memory_mb=spec.memory_size, ephemeral_mb=spec.ephemeral_storage)
        pod = await self._take_generic(shape)
        self._refill(shape)
        try:
            await pod.specialize(url=self._code_links.link(spec.code_sha256), sha256=spec.code_sha256,
                                 max_bytes=self._max_unzipped_bytes)
        except BaseException:
            await pod.destroy()
            raise
        # Labelled in the background: the labels are for whoever lists pods, never on a cold start's path.
        labelling = asyncio.ensure_future(asyncio.to_thread(
            self.core.patch_namespaced_pod, pod.name, shape.namespace,
            objects.specialized_labels(account_id=spec.account_id, function_name=spec.function_name,
                                       version=spec.version, fingerprint=spec.fingerprint)))
        self._labelling.add(labelling)
        labelling.add_done_callback(lambda done: self._labelled(done, pod=pod, spec=spec))
        return await WarmSandbox.initialize(pod, spec, region=self._region, init_timeout_s=self._init_timeout_s,
                                            prewarmed=prewarmed, provisioned=provisioned, init_limit=init_limit,
                                            lend=lend)

    def _labelled(self, done: asyncio.Future[object], *, pod: PodHandle, spec: FunctionSpec) -> None:
        self._labelling.discard(done)
        error = None if done.cancelled() else done.exception()
        if isinstance(error, ApiException) and error.status == 404:
            return  # the pod was destroyed first: its init failed
        if error is not None:
            logger.warning("pod %s/%s could not be labelled as %s's: %s", pod.shape.namespace, pod.name,
                           spec.function_name, error)

    def _generic_census(self) -> list[SandboxCount]:
        counts: dict[str, int] = defaultdict(int)
        for shape, pool in list(self._generic.items()):
            counts[shape.runtime] += len(pool)
        return [SandboxCount("generic", "idle", runtime, count) for runtime, count in sorted(counts.items())]

    async def _close_backend(self) -> None:
        await asyncio.gather(*self._refills.values(), *self._labelling, return_exceptions=True)
        generic = [pod for pool in self._generic.values() for pod in pool]
        self._generic.clear()
        await asyncio.gather(*(pod.destroy() for pod in generic), return_exceptions=True)
        self.watch.stop()
        await self._code_links.close()
        await self.leader.release()
        await asyncio.to_thread(self._api_client.close)

    def _inflate(self, sha256: str) -> None:
        read(self._code_links.source(sha256))  # counts what each entry really inflates to; keeps nothing

    async def _check_package(self, sha256: str) -> None:
        """``FunctionInitError`` for a package that breaks its limits (one stored before they existed),
        found out once per package by inflating it here, as the local backend's code cache does,
        rather than by every pod it would be sent to."""
        checked = self._packages.get(sha256)
        if checked is None or (checked.done() and checked.exception() is not None
                               and not isinstance(checked.exception(), ArchiveError)):
            checked = self._packages[sha256] = asyncio.ensure_future(asyncio.to_thread(self._inflate, sha256))
        try:
            await asyncio.shield(checked)
        except ArchiveError as exc:
            raise FunctionInitError(invalid_package(str(exc))) from None

    # --- tenant namespaces ----------------------------------------------------------------

    async def _tenant_namespace(self, account_id: str) -> str:
        """The tenant's namespace, made with its guard rails the first time this executor needs it."""
        made = self._namespaces.get(account_id)
        if made is None or (made.done() and made.exception() is not None):
            made = self._namespaces[account_id] = asyncio.ensure_future(
                asyncio.to_thread(self._make_namespace, account_id))
        return await asyncio.shield(made)

    def _make_namespace(self, account_id: str) -> str:
        namespace = objects.tenant_namespace(self.settings, account_id)
        name = namespace["metadata"]["name"]
        _create(lambda: self.core.create_namespace(namespace))
        _create(lambda: self._networking.create_namespaced_network_policy(
            name, objects.network_policy(self.settings, name, code_port=self._code_links.port)))
        pods = self._concurrency_of(account_id) + self._pool_headroom()
        quota = objects.resource_quota(self.settings, name, max_pods=pods, max_memory_mb=pods * objects.MEMORY_MB[1])
        _create(lambda: self.core.create_namespaced_resource_quota(name, quota),  # the limit may have changed
                lambda: self.core.replace_namespaced_resource_quota(quota["metadata"]["name"], name, quota))
        _create(lambda: self.core.create_namespaced_limit_range(name, objects.limit_range(self.settings, name)))
        for secret in self.settings.image_pull_secrets:
            self._copy_pull_secret(secret, name)
        return str(name)

    def _copy_pull_secret(self, secret: str, namespace: str) -> None:
        """Copy the platform namespace's image pull Secret ``secret`` into a tenant's ``namespace``,
        replacing an older copy (a namespace is made again by each executor that starts, so a
        rotated Secret reaches the namespaces of the tenants that invoke once it has restarted)."""
        source = self.core.api_client.sanitize_for_serialization(
            self.core.read_namespaced_secret(secret, self.settings.platform_namespace))
        body = objects.pull_secret(self.settings, namespace, source=source)
        _create(lambda: self.core.create_namespaced_secret(namespace, body),
                lambda: self.core.replace_namespaced_secret(secret, namespace, body))

    def _pool_headroom(self) -> int:
        """Pods a namespace may hold beyond its concurrency: the generic pools of its shapes."""
        return 4 * max([self.settings.pool_size, *self.settings.pool_sizes.values()])

    # --- generic pods ---------------------------------------------------------------------

    async def _take_generic(self, shape: Shape) -> PodHandle:
        pool = self._generic[shape]
        while pool:
            pod = pool.pop()
            if not pod.exited and not pod.reader.at_eof():
                return pod
            await pod.destroy()
        return await self._make_pod(shape)

    def _refill(self, shape: Shape) -> None:
        running = self._refills.get(shape)
        if self.settings.pool_size_of(shape.runtime) and not self._closing and (running is None or running.done()):
            self._refills[shape] = asyncio.get_running_loop().create_task(self._fill(shape))

    async def _fill(self, shape: Shape) -> None:
        wanted = self.settings.pool_size_of(shape.runtime)
        while len(self._generic[shape]) + self._making[shape] < wanted and not self._closing:
            await self._cold_starts.passed(grace=0.01, timeout=0.5)
            self._making[shape] += 1
            try:
                pod = await self._make_pod(shape)
            except ExecutorPlatformError:
                logger.exception("a generic pod for %s would not start", shape.runtime)
                return
            finally:
                self._making[shape] -= 1
            if self._closing:
                await pod.destroy()
                return
            self._generic[shape].append(pod)
            STARTED.labels("generic").inc()

    def generic_count(self, runtime: str) -> int:
        return sum(len(pool) for shape, pool in self._generic.items() if shape.runtime == runtime)

    async def _make_pod(self, shape: Shape) -> PodHandle:
        """A new generic pod of ``shape``, Ready, its agent attached."""
        name = objects.pod_name(runtime=shape.runtime, memory_mb=shape.memory_mb)
        port = self._take_port() if self.settings.host_network else None
        body = objects.sandbox_pod(self.settings, namespace=shape.namespace, name=name, runtime=shape.runtime,
                                   memory_mb=shape.memory_mb, ephemeral_mb=shape.ephemeral_mb,
                                   key_sha256=self._key_sha256, host_port=port)
        if port is not None:
            body["metadata"]["labels"][PORT_LABEL] = str(port)
        made_room, deadline = False, time.monotonic() + QUOTA_WAIT_S
        while True:
            try:
                await asyncio.to_thread(self.core.create_namespaced_pod, shape.namespace, body)
                break
            except ApiException as exc:
                over_quota = exc.status == 403 and "exceeded quota" in (exc.body or "")
                if over_quota and time.monotonic() < deadline:
                    # Room is made as Lambda recycles environments: the tenant's oldest idle pod goes,
                    # and the quota counts it gone once the API server has.
                    made_room = await self._reap_idle_in(shape.namespace) or made_room
                    if made_room:
                        await asyncio.sleep(QUOTA_RETRY_S)
                        continue
                self._ports.discard(port or 0)
                raise ExecutorPlatformError(f"a pod for {shape.runtime} was refused: {exc.status} {exc.reason}: "
                                            f"{(exc.body or '')[:500]}") from None
        try:
            state = await self.watch.wait(shape.namespace, name, lambda pod: pod.ready,
                                          timeout=self.settings.pod_start_seconds)
            if state.ended or not state.ready:
                raise ExecutorPlatformError(f"pod {name} ended before it was ready ({state.phase})")
            address = f"127.0.0.1:{port}" if port is not None else f"{state.pod_ip}:{self.settings.agent_port}"
            reader, writer = await self._attach(address)
        except BaseException as exc:
            await self.delete_pod(shape.namespace, name, port=port)
            if isinstance(exc, TimeoutError):
                raise ExecutorPlatformError(f"pod {name} was not ready within "
                                            f"{self.settings.pod_start_seconds:.0f} s") from None
            raise
        return PodHandle(self, shape=shape, name=name, address=address, reader=reader, writer=writer, port=port)

    async def _attach(self, address: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        host, _, port = address.rpartition(":")
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                reader, writer = await asyncio.open_connection(host, int(port))
                writer.write(protocol.encode({"op": "attach", "key": self._key}))
                await writer.drain()
                header, _ = await protocol.receive_from(reader)
        except (TimeoutError, OSError, protocol.ProtocolError) as exc:
            raise ExecutorPlatformError(f"the agent at {address} would not attach: {exc!r}") from None
        if header.get("op") != "ready":
            writer.close()
            raise ExecutorPlatformError(f"the agent at {address} greeted with {header!r:.200}")
        return reader, writer

    async def _reap_idle_in(self, namespace: str) -> bool:
        """Delete the idle pod of ``namespace`` used longest ago, warm or generic; whether there was one."""
        idle = [(sandbox.last_used, key, sandbox) for key, pool in self._idle.items() for sandbox in pool
                if isinstance(sandbox.handle, PodHandle) and sandbox.handle.shape.namespace == namespace]
        if idle:
            _, key, oldest = min(idle, key=lambda entry: entry[0])
            self._idle[key].remove(oldest)
            await self._reap(oldest, "evicted")
            return True
        for shape, pool in self._generic.items():
            if shape.namespace == namespace and pool:
                await pool.pop(0).destroy()
                return True
        return False

    def _take_port(self) -> int:
        low, high = self.settings.host_ports
        used = self._ports | {int(label) for pod in self.watch.pods()
                              if (label := pod.labels.get(PORT_LABEL, "")).isdigit()}
        free = [port for port in range(low, high + 1) if port not in used]
        if not free:
            raise ExecutorPlatformError(f"every port of {low}-{high} is taken by a pod")
        chosen = random.choice(free)
        self._ports.add(chosen)
        return chosen

    async def delete_pod(self, namespace: str, name: str, *, port: int | None = None) -> None:
        try:
            await asyncio.to_thread(self.core.delete_namespaced_pod, name, namespace, grace_period_seconds=0)
        except ApiException as exc:
            if exc.status != 404:
                logger.warning("deleting pod %s/%s failed: %s", namespace, name, exc.reason)
        if self.watch.get(namespace, name) is not None:  # gone once the kubelet stopped it (its port is free)
            with contextlib.suppress(TimeoutError):
                await self.watch.wait(namespace, name, lambda pod: pod.deleted, timeout=30)
        if port is not None:
            self._ports.discard(port)


def _create(create: Callable[[], object], replace: Callable[[], object] | None = None) -> None:
    """Create an object; one that exists already is replaced with ``replace``, or left as it is."""
    try:
        create()
    except ApiException as exc:
        if exc.status != 409:
            raise
        if replace is not None:
            replace()


def _tenant_concurrency(account_id: str) -> int:
    """The tenant's concurrent executions limit, as the control plane puts it in force."""
    from django.conf import settings

    from lambent.iam.models import Tenant
    from lambent.quotas.selectors import tenant_limits

    tenant = Tenant.objects.filter(account_id=account_id).first()
    return tenant_limits(tenant=tenant).concurrent_executions if tenant else int(settings.CONCURRENT_EXECUTIONS)
