"""Provisioned concurrency reconciled: configs made into initialized sandboxes, and their state reported back.

The first tests reconcile against the in-memory executor. The sandbox tests reconcile in
this process against the session's executor process (real sandboxes), with committed
configs, so a beat of a worker other tests started reconciles the same set; each finds its
function's sandboxes from outside by a memory size no other test uses. The last test runs
the whole loop: a real worker and beat, the API's PUT and an alias moving.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import urllib.request
import uuid

import pytest
from django.utils import timezone

from lambent.functions.models import ProvisionedConcurrencyConfig, Version
from lambent.invocations import provisioning, services
from tests.conftest import b64, make_zip
from tests.executors.local import running, sandbox_pids
from tests.processes import wait_until
from worker import executors

APP = """
import os, time
started = time.time()

def handler(event, context):
    time.sleep(event.get("seconds", 0))
    return {"pid": os.getpid(), "type": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"], "started": started}
"""
CONFIG = "/api/v1/functions/{name}/provisioned-concurrency?qualifier={qualifier}"


def publish(api, create_function, name, *, memory_size=128, source=APP, alias="live"):
    """``name`` with version 1 of ``memory_size`` MB and ``alias`` on it."""
    create_function(name, memory_size=memory_size, zip_file=b64(make_zip({"app.py": source})))
    assert api.post(f"/api/v1/functions/{name}/versions", format="json").status_code == 201
    body = {"name": alias, "function_version": "1"}
    assert api.post(f"/api/v1/functions/{name}/aliases", body, format="json").status_code == 201


def publish_again(api, name, **changes):
    api.patch(f"/api/v1/functions/{name}", changes, format="json")
    return api.post(f"/api/v1/functions/{name}/versions", format="json").json()["version"]


def put(api, name, qualifier, count):
    response = api.put(CONFIG.format(name=name, qualifier=qualifier), {"provisioned_concurrent_executions": count},
                       format="json")
    assert response.status_code == 202, response.content
    return response.json()


def config(api, name, qualifier="live"):
    return api.get(CONFIG.format(name=name, qualifier=qualifier)).json()


def invoke(api, name, qualifier="live", **event):
    response = api.generic("POST", f"/api/v1/functions/{name}/invoke?qualifier={qualifier}",
                           json.dumps(event).encode(), content_type="application/json")
    assert response.status_code == 200, response.content
    return response


# --- against the in-memory executor -------------------------------------------------------


def test_configs_become_ready(api, create_function, fake_executor):
    publish(api, create_function, "hello")
    publish_again(api, "hello", timeout=9)
    put(api, "hello", "live", 2)
    put(api, "hello", "2", 1)
    assert provisioning.reconcile() == {"READY": 2}
    assert config(api, "hello", "2")["allocated_provisioned_concurrent_executions"] == 1
    ready = config(api, "hello")
    assert (ready["status"], ready["allocated_provisioned_concurrent_executions"],
            ready["available_provisioned_concurrent_executions"]) == ("READY", 2, 2)
    response = invoke(api, "hello")
    assert api.get(f"/api/v1/invocations/{response['X-Lambent-Request-Id']}").json()["init_duration_ms"] is None


def test_an_alias_is_split_between_its_versions_by_weight(api, create_function, fake_executor):
    publish(api, create_function, "split")
    publish_again(api, "split", timeout=9)
    api.patch("/api/v1/functions/split/aliases/live", {"additional_version_weights": {"2": 0.25}}, format="json")
    put(api, "split", "live", 6)
    plan = provisioning.plan(ProvisionedConcurrencyConfig.objects.get())
    assert sorted((share.spec.version, share.count) for share in plan.shares) == [("1", 4), ("2", 2)]
    assert provisioning.reconcile() == {"READY": 1}
    assert config(api, "split")["allocated_provisioned_concurrent_executions"] == 6


def test_configs_on_one_version_add_up_and_are_counted_in_order(api, create_function, fake_executor):
    publish(api, create_function, "shared")
    api.post("/api/v1/functions/shared/aliases", {"name": "also", "function_version": "1"}, format="json")
    put(api, "shared", "live", 2)
    put(api, "shared", "also", 3)
    assert provisioning.reconcile() == {"READY": 2}
    assert [config(api, "shared", q)["allocated_provisioned_concurrent_executions"] for q in ("live", "also")] == [
        2, 3]


def test_an_init_failure_fails_the_config_until_it_is_put_again(api, create_function, fake_executor):
    publish(api, create_function, "broken", source="import does_not_exist\n")
    put(api, "broken", "live", 1)
    assert provisioning.reconcile() == {"FAILED": 1}
    failed = config(api, "broken")
    assert failed["status"] == "FAILED"
    assert failed["status_reason"].startswith("The function's init failed: Runtime.ImportModuleError")
    assert provisioning.reconcile() == {}  # left out: released, and left as it is
    assert put(api, "broken", "live", 1)["status"] == "IN_PROGRESS"
    assert provisioning.reconcile() == {"FAILED": 1}


def test_a_qualifier_that_no_longer_resolves_fails_the_config(api, create_function, fake_executor):
    publish(api, create_function, "orphan")
    put(api, "orphan", "live", 1)
    api.delete("/api/v1/functions/orphan/aliases/live")
    assert provisioning.reconcile() == {"FAILED": 1}
    assert config(api, "orphan")["status_reason"] == "orphan:live no longer names a version or an alias."


def test_a_config_changed_meanwhile_is_not_overwritten(api, create_function, fake_executor):
    publish(api, create_function, "fenced")
    put(api, "fenced", "live", 1)
    plan = provisioning.plan(ProvisionedConcurrencyConfig.objects.get())
    ProvisionedConcurrencyConfig.objects.update(requested=3, last_modified=timezone.now())
    provisioning.record(plan, reported={plan.shares[0].spec.key: executors.Provisioned(ready=1)}, ready={
        plan.shares[0].spec.key: 1})
    assert (config(api, "fenced")["status"], config(api, "fenced")["allocated_provisioned_concurrent_executions"]) == (
        "IN_PROGRESS", 0)


def test_an_unreachable_executor_changes_nothing(api, create_function, settings, tmp_path):
    from worker.executors import executor

    settings.EXECUTOR, settings.EXECUTOR_SOCKET = "worker.executors.client.ExecutorClient", tmp_path / "none.sock"
    executor.cache_clear()
    try:
        publish(api, create_function, "lonely")
        put(api, "lonely", "live", 1)
        assert provisioning.reconcile() == {"unreachable": 1}
        assert config(api, "lonely")["status"] == "IN_PROGRESS"
    finally:
        executor.cache_clear()


# --- real sandboxes, reconciled in this process -------------------------------------------


@pytest.fixture
def reconciled(transactional_db, real_executor):
    """Configs committed (a running beat sees them too); every config gone and reconciled afterwards."""
    yield
    ProvisionedConcurrencyConfig.objects.all().delete()
    provisioning.reconcile()


def spec_of(name: str, version: str = "1") -> executors.FunctionSpec:
    return services.function_spec(Version.objects.select_related("function__tenant", "code").get(
        function__name=name, number=int(version)))


def invoke_directly(spec: executors.FunctionSpec, count: int, seconds: float) -> list[executors.InvokeResult]:
    """``count`` invocations at once, through the executor client."""
    async def all_at_once() -> list[executors.InvokeResult]:
        requests = [executors.InvokeRequest(request_id=str(uuid.uuid4()), payload=json.dumps(
            {"seconds": seconds}).encode(), invoked_function_arn=spec.function_arn) for _ in range(count)]
        return list(await asyncio.gather(*(executors.executor().invoke(spec, r) for r in requests)))
    return asyncio.run(all_at_once())


def kill_sandbox(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def scrape() -> str:
    from django.conf import settings

    with urllib.request.urlopen(f"http://{settings.EXECUTOR_METRICS_BIND}/metrics", timeout=5) as response:
        return response.read().decode()


@pytest.mark.sandbox
def test_ready_sandboxes_serve_without_init_and_a_killed_one_is_replaced(api, create_function, reconciled):
    publish(api, create_function, "warmed", memory_size=347)
    put(api, "warmed", "live", 2)
    assert provisioning.reconcile() == {"READY": 1}
    assert config(api, "warmed")["allocated_provisioned_concurrent_executions"] == 2
    sandboxes = sandbox_pids(memory_mb=347)
    assert len(sandboxes) == 2
    metrics = scrape()
    assert 'lambent_executor_provisioned_ready{runtime="python3.11"} 2.0' in metrics
    assert 'lambent_executor_sandboxes{kind="provisioned",runtime="python3.11",state="idle"} 2.0' in metrics
    assert 'lambent_executor_sandboxes_started_total{kind="provisioned"}' in metrics
    assert 'lambent_executor_init_duration_seconds_count{kind="provisioned"}' in metrics

    results = invoke_directly(spec_of("warmed"), 2, seconds=0.5)  # at once: one sandbox each
    assert [result.init_duration_ms for result in results] == [None, None]
    assert len({json.loads(result.payload)["started"] for result in results}) == 2
    response = invoke(api, "warmed")
    ledger = api.get(f"/api/v1/invocations/{response['X-Lambent-Request-Id']}").json()
    assert ledger["init_duration_ms"] is None and json.loads(response.content)["type"] == "provisioned-concurrency"

    kill_sandbox(sandboxes[0])

    def replaced() -> bool:
        now = sandbox_pids(memory_mb=347)
        return len(now) == 2 and not set(sandboxes[0]) & {pid for pids in now for pid in pids}
    wait_until(replaced, timeout=20, what="the killed sandbox replaced")
    assert provisioning.reconcile() == {"READY": 1}
    assert not any(running(pid) for pid in sandboxes[0])
    assert [result.init_duration_ms for result in invoke_directly(spec_of("warmed"), 2, seconds=0.5)] == [None, None]
    metrics = scrape()
    assert 'lambent_executor_sandboxes_reaped_total{reason="dead"}' in metrics
    assert 'lambent_executor_leases_total{start="provisioned"}' in metrics


@pytest.mark.sandbox
def test_moving_the_alias_moves_them_and_deleting_releases_them(api, create_function, reconciled):
    publish(api, create_function, "moving", memory_size=349)
    publish_again(api, "moving", memory_size=353)
    put(api, "moving", "live", 1)
    provisioning.reconcile()
    assert (len(sandbox_pids(memory_mb=349)), len(sandbox_pids(memory_mb=353))) == (1, 0)

    api.patch("/api/v1/functions/moving/aliases/live", {"function_version": "2"}, format="json")
    assert provisioning.reconcile() == {"READY": 1}
    assert len(sandbox_pids(memory_mb=353)) == 1
    wait_until(lambda: not sandbox_pids(memory_mb=349), timeout=15, what="version 1 released, reaped after the "
               "keep-alive")
    response = invoke(api, "moving")
    assert response["X-Lambent-Executed-Version"] == "2"
    assert api.get(f"/api/v1/invocations/{response['X-Lambent-Request-Id']}").json()["init_duration_ms"] is None

    assert api.delete(CONFIG.format(name="moving", qualifier="live")).status_code == 204
    assert provisioning.reconcile() == {}
    wait_until(lambda: not sandbox_pids(memory_mb=353), timeout=15, what="the released sandbox reaped")


# --- the whole loop: the api's PUT, a real worker and beat --------------------------------


@pytest.mark.sandbox
@pytest.mark.django_db(transaction=True)
def test_end_to_end_with_worker_and_beat(api, create_function, real_executor, async_platform):
    publish(api, create_function, "looped", memory_size=359)
    publish_again(api, "looped", memory_size=367)
    put(api, "looped", "live", 1)  # the reconcile is sent when the PUT commits
    wait_until(lambda: config(api, "looped")["status"] == "READY", timeout=30, what="READY")
    assert len(sandbox_pids(memory_mb=359)) == 1
    api.patch("/api/v1/functions/looped/aliases/live", {"function_version": "2"}, format="json")
    wait_until(lambda: len(sandbox_pids(memory_mb=367)) == 1, timeout=30, what="beat to follow the alias")
    response = invoke(api, "looped")
    ledger = api.get(f"/api/v1/invocations/{response['X-Lambent-Request-Id']}").json()
    assert (ledger["executed_version"], ledger["init_duration_ms"]) == ("2", None)
    assert api.delete(CONFIG.format(name="looped", qualifier="live")).status_code == 204
    wait_until(lambda: not sandbox_pids(memory_mb=367), timeout=30, what="released and reaped")
