"""The Kubernetes backend on the test bed's real API server and kubelet: what only it has to show
(the contract suite, tests/executors/test_contract.py, holds it to what every backend does)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import time
import uuid

import pytest
from kubernetes import client

from tests.conftest import make_zip
from tests.executors.test_contract import HANDLERS, Code, request, spec
from tests.k8s.executors import PLATFORM_NAMESPACE, ensure_platform_namespace, executor_on, settings_on
from tests.k8s.testbed import Testbed
from worker.executors import Provision
from worker.executors.kubernetes import objects
from worker.executors.kubernetes.leader import LeaderLease

pytestmark = [pytest.mark.k8s, pytest.mark.usefixtures("node")]


def pods(core: client.CoreV1Api, selector: str) -> list[client.V1Pod]:
    return [pod for pod in core.list_pod_for_all_namespaces(label_selector=selector).items
            if pod.metadata.deletion_timestamp is None]


async def until(condition, *, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.2)


def test_a_function_runs_in_a_specialized_pod_that_serves_it_warm(testbed: Testbed, core: client.CoreV1Api) -> None:
    code = Code()
    settings = settings_on(testbed)

    async def scenario() -> None:
        async with executor_on(testbed, code, settings=settings) as backend:
            wanted = spec(code.add({"app.py": HANDLERS}), "app.count")
            first = await backend.invoke(wanted, request())
            second = await backend.invoke(wanted, request())
            assert (json.loads(first.payload), json.loads(second.payload)) == (1, 2)  # one pod, warm
            assert first.cold_start and not second.cold_start
            key = objects.sandbox_key(account_id=wanted.account_id, function_name=wanted.function_name,
                                      version=wanted.version, fingerprint=wanted.fingerprint)
            selector = f"{objects.installation_selector(settings)},{objects.SANDBOX_KEY}={key}"
            await until(lambda: pods(core, selector), timeout=30, what="the pod labelled as the version's")
            serving = pods(core, selector)
            assert len(serving) == 1
            pod = serving[0]
            assert pod.metadata.namespace == settings.namespace(wanted.account_id)
            assert pod.metadata.labels[objects.STATE] == objects.SPECIALIZED
            assert pod.metadata.annotations[objects.VERSION] == "1"
            await until(lambda: backend.generic_count("python3.11") == 1, timeout=60, what="the generic pool refilled")
            namespace = core.read_namespace(settings.namespace(wanted.account_id))
            assert namespace.metadata.labels["pod-security.kubernetes.io/enforce"] == "restricted"
        assert pods(core, objects.installation_selector(settings)) == []  # closing deletes every pod

    asyncio.run(scenario())


def test_idle_pods_are_reaped_after_the_keep_alive(testbed: Testbed, core: client.CoreV1Api) -> None:
    code = Code()
    settings = settings_on(testbed, pool_size=0)

    async def scenario() -> None:
        async with executor_on(testbed, code, settings=settings, keep_alive_s=0.5) as backend:
            wanted = spec(code.add({"app.py": HANDLERS}), "app.echo")
            await backend.invoke(wanted, request())
            assert len(pods(core, objects.installation_selector(settings))) == 1
            await until(lambda: not pods(core, objects.installation_selector(settings)), timeout=30,
                        what="the idle pod reaped and deleted")
            assert backend.idle_count(wanted) == 0

    asyncio.run(scenario())


def test_a_provisioned_pod_deleted_by_hand_is_replaced(testbed: Testbed, core: client.CoreV1Api) -> None:
    code = Code()
    settings = settings_on(testbed, pool_size=0)

    async def scenario() -> None:
        async with executor_on(testbed, code, settings=settings) as backend:
            wanted = spec(code.add({"app.py": HANDLERS}), "app.count")
            status = await backend.provision([Provision(spec=wanted, count=1)], wait=90)
            assert status[wanted.key].ready == 1
            [pod] = pods(core, objects.installation_selector(settings))
            core.delete_namespaced_pod(pod.metadata.name, pod.metadata.namespace)  # kubectl delete pod
            await until(lambda: any(p.metadata.name != pod.metadata.name
                                    for p in pods(core, objects.installation_selector(settings))),
                        timeout=90, what="a new provisioned pod")
            status = await backend.provision([Provision(spec=wanted, count=1)], wait=90)
            assert status[wanted.key].ready == 1
            result = await backend.invoke(wanted, request())
            assert json.loads(result.payload) == 1 and not result.cold_start  # initialized ahead, on the new pod

    asyncio.run(scenario())


KILLED_EXECUTOR = """
import asyncio, hashlib, json, sys
from pathlib import Path
import django
django.setup()
from tests.executors.test_contract import request, spec
from tests.k8s.executors import executor_on
from worker.executors.kubernetes.settings import KubernetesSettings

arguments = json.loads(sys.argv[1])
package = Path(arguments["package"]).read_bytes()
sha = hashlib.sha256(package).hexdigest()

async def main():
    fields = arguments["settings"]
    settings = KubernetesSettings(**{**fields, "host_ports": tuple(fields["host_ports"])})
    async with executor_on(None, lambda _: package, settings=settings, leader_duration_s=3) as backend:
        await backend.invoke(spec(sha, "app.echo"), request())
        while backend.generic_count("python3.11") < 1:
            await asyncio.sleep(0.1)
        print("serving", flush=True)
        await asyncio.sleep(3600)

asyncio.run(main())
"""


def test_a_restarted_executor_deletes_the_pods_a_killed_one_left(testbed: Testbed, core: client.CoreV1Api,
                                                                  tmp_path) -> None:  # type: ignore[no-untyped-def]
    package = tmp_path / "package.zip"
    package.write_bytes(make_zip({"app.py": HANDLERS}))
    settings = settings_on(testbed, pool_size=1)
    fields = {"kubeconfig": settings.kubeconfig, "installation": settings.installation,
              "namespace_pattern": settings.namespace_pattern, "platform_namespace": settings.platform_namespace,
              "images": dict(settings.images), "pool_size": 1, "host_network": True,
              "host_ports": list(settings.host_ports), "code_bind": settings.code_bind, "code_url": settings.code_url}
    arguments = json.dumps({"package": str(package), "settings": fields})
    killed = subprocess.Popen([sys.executable, "-c", KILLED_EXECUTOR, arguments], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "DJANGO_SETTINGS_MODULE": "lambent.settings"})
    try:
        assert killed.stdout is not None and killed.stdout.readline() == "serving\n"
        left = {pod.metadata.name for pod in pods(core, objects.installation_selector(settings))}
        assert len(left) == 2  # the specialized pod and the generic one
    finally:
        killed.kill()
        killed.wait()

    async def scenario() -> None:
        async with executor_on(testbed, Code(), settings=settings, leader_duration_s=3) as second:
            await second.start()  # leads once the killed one's Lease expired; deletes what it left
            assert not left & {pod.metadata.name for pod in pods(core, objects.installation_selector(settings))}

    asyncio.run(scenario())


def test_a_watch_broken_by_an_api_server_restart_is_410_gone_and_recovered_by_a_relist(
        testbed: Testbed, core: client.CoreV1Api) -> None:
    code = Code()
    settings = settings_on(testbed, pool_size=0)

    async def scenario() -> None:
        async with executor_on(testbed, code, settings=settings, keep_alive_s=600) as backend:
            wanted = spec(code.add({"app.py": HANDLERS}), "app.count")
            await backend.invoke(wanted, request())
            relists = backend.watch.relists
            # Anything written after the last pod event the watch saw (a cluster always writes: leases,
            # statuses) puts the restarted server's watch cache past the version the watch resumes from.
            core.create_namespaced_config_map("lambent-system", {"metadata": {"generateName": "written-"}})
            await asyncio.to_thread(testbed.control_plane.restart_apiserver)
            await until(lambda: backend.watch.relists > relists, timeout=60, what="a re-list after the restart")
            assert backend.watch.last_end == "gone"  # the resumed watch's version was older than the new cache
            [pod] = pods(core, objects.installation_selector(settings))
            core.delete_namespaced_pod(pod.metadata.name, pod.metadata.namespace, grace_period_seconds=0)
            await until(lambda: backend.watch.get(pod.metadata.namespace, pod.metadata.name) is None,
                        timeout=30, what="the deletion seen by the resumed watch")
            result = await backend.invoke(wanted, request())
            assert json.loads(result.payload) == 1 and result.cold_start  # the warm pod was known gone

    asyncio.run(scenario())


def test_two_executors_never_both_lead(testbed: Testbed, api_client: client.ApiClient) -> None:
    ensure_platform_namespace(api_client)
    coordination = client.CoordinationV1Api(api_client)
    name = f"leader-{uuid.uuid4().hex[:8]}"

    async def scenario() -> None:
        first = LeaderLease(coordination, namespace="lambent-system", name=name, identity="first", duration_s=3)
        second = LeaderLease(coordination, namespace="lambent-system", name=name, identity="second", duration_s=3)
        await first.acquire(timeout=10)
        with pytest.raises(TimeoutError):
            await second.acquire(timeout=4)  # renewed all along: never taken over
        assert first.leading and not second.leading
        first._task.cancel()  # type: ignore[union-attr]  # it stops renewing, as an executor that hangs
        taking_over = asyncio.ensure_future(second.acquire(timeout=20))
        while not taking_over.done():
            assert not (first.leading and second.leading)
            await asyncio.sleep(0.05)
        await taking_over
        assert second.leading and not first.leading
        held = coordination.read_namespaced_lease(name, "lambent-system").spec
        assert held.holder_identity == "second" and held.lease_transitions == 1
        await second.release()
        assert coordination.read_namespaced_lease(name, "lambent-system").spec.holder_identity is None

    asyncio.run(scenario())


def test_a_second_executor_of_an_installation_waits_until_the_first_stops(testbed: Testbed,
                                                                          core: client.CoreV1Api) -> None:
    code = Code()
    settings = settings_on(testbed, pool_size=0)

    async def scenario() -> None:
        async with executor_on(testbed, code, settings=settings, leader_duration_s=3) as first:
            await first.start()
            async with executor_on(testbed, code, settings=settings, leader_duration_s=3) as second:
                with pytest.raises(TimeoutError):
                    async with asyncio.timeout(4):
                        await second.start()  # a standby: it serves nothing while the first leads
                assert first.leader.leading and not second.leader.leading
                await first.invoke(spec(code.add({"app.py": HANDLERS}), "app.echo"), request())
                await first.close()  # gives its Lease up
                async with asyncio.timeout(10):
                    await second.start()
                assert second.leader.leading and not first.leader.leading
                result = await second.invoke(spec(code.add({"app.py": HANDLERS}), "app.count"), request())
                assert json.loads(result.payload) == 1

    asyncio.run(scenario())


def test_a_tenant_at_its_pod_quota_has_its_oldest_idle_pod_make_room(testbed: Testbed, core: client.CoreV1Api) -> None:
    code = Code()
    settings = settings_on(testbed, pool_size=0)

    async def scenario() -> None:
        async with executor_on(testbed, code, settings=settings, concurrency_of=lambda account_id: 1) as backend:
            first = spec(code.add({"app.py": HANDLERS}), "app.echo")
            await backend.invoke(first, request())
            [idle] = pods(core, objects.installation_selector(settings))
            quota = core.read_namespaced_resource_quota("lambent-tenant", idle.metadata.namespace)
            assert quota.spec.hard["pods"] == "1"  # the tenant's limit: one execution at a time

            def counted() -> bool:  # the quota controller counts pods after the fact
                used = core.read_namespaced_resource_quota("lambent-tenant", idle.metadata.namespace).status.used
                return bool(used) and used.get("pods") == "1"
            await until(counted, timeout=30, what="the quota counting the idle pod")
            result = await backend.invoke(spec(code.add({"app.py": HANDLERS}), "app.count"), request())
            assert json.loads(result.payload) == 1
            assert backend.idle_count(first) == 0
            assert idle.metadata.name not in {pod.metadata.name
                                              for pod in pods(core, objects.installation_selector(settings))}

    asyncio.run(scenario())


def test_image_pull_secrets_are_copied_into_each_tenant_namespace_and_named_by_its_pods(
        testbed: Testbed, core: client.CoreV1Api) -> None:
    code = Code()
    name = f"registry-{uuid.uuid4().hex[:8]}"
    config = base64.b64encode(json.dumps({"auths": {"registry.example": {"auth": "dTpw"}}}).encode()).decode()
    ensure_platform_namespace(core.api_client)
    secret = {"metadata": {"name": name}, "type": "kubernetes.io/dockerconfigjson",
              "data": {".dockerconfigjson": config}}
    core.create_namespaced_secret(PLATFORM_NAMESPACE, secret)
    settings = settings_on(testbed, pool_size=0, image_pull_secrets=(name,))

    async def scenario() -> None:
        async with executor_on(testbed, code, settings=settings) as backend:
            wanted = spec(code.add({"app.py": HANDLERS}), "app.echo")
            await backend.invoke(wanted, request())
            namespace = settings.namespace(wanted.account_id)
            copy = core.read_namespaced_secret(name, namespace)
            assert (copy.type, copy.data) == ("kubernetes.io/dockerconfigjson", {".dockerconfigjson": config})
            assert copy.metadata.labels == {objects.INSTALLATION: settings.installation}
            [pod] = pods(core, objects.installation_selector(settings))
            assert [secret.name for secret in pod.spec.image_pull_secrets] == [name]

    try:
        asyncio.run(scenario())
    finally:
        core.delete_namespaced_secret(name, PLATFORM_NAMESPACE)
