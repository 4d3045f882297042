"""End to end on the test bed's kubelet: a real ``lambent executor`` on the Kubernetes backend and a
real ``lambent api``; functions created through the native API and through boto3 run in pods, the
api talking to each pod's agent directly; the pods and their namespace are read back as the API
server holds them."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from kubernetes import client

from tests.conftest import b64, make_zip
from tests.k8s.executors import PLATFORM_NAMESPACE, ensure_platform_namespace
from tests.k8s.node import RUNTIME_IMAGE
from tests.k8s.testbed import Testbed
from tests.processes import Process, free_port, platform_env, start_api, wait_until
from worker.executors.kubernetes import objects

pytestmark = [pytest.mark.k8s, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("node")]

HANDLERS = """
def echo(event, context):
    return {"echo": event, "request_id": context.aws_request_id}

def fail(event, context):
    raise ValueError("boom")

def sleep(event, context):
    import time
    time.sleep(30)

def hog(event, context):
    chunks = []
    while True:
        chunks.append(bytearray(16 * 1024 * 1024))
"""


@pytest.fixture
def k8s_api(testbed: Testbed, api_client: client.ApiClient, tmp_path: Path,
            settings: Any) -> Iterator[tuple[str, str, str]]:
    """The api's base URL, the installation's name and the executor's metrics URL, the executor on
    the Kubernetes backend, reached over TCP as from another host, code kept in the database as
    where the two share no file system."""
    ensure_platform_namespace(api_client)
    settings.STORAGES = {**settings.STORAGES, "code": {"BACKEND": "lambent.functions.code_storage.DatabaseStorage"}}
    installation = f"e{uuid.uuid4().hex[:8]}"
    socket_path = tmp_path / "executor.sock"
    metrics, executor_address = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    env = platform_env(
        LAMBENT_EXECUTOR_BACKEND="worker.executors.kubernetes.KubernetesExecutor",
        LAMBENT_EXECUTOR_SOCKET=str(socket_path), LAMBENT_EXECUTOR_METRICS_BIND=metrics,
        LAMBENT_EXECUTOR_BIND=executor_address, LAMBENT_CODE_STORAGE="database",
        LAMBENT_KUBERNETES_KUBECONFIG=str(testbed.kubeconfig), LAMBENT_KUBERNETES_INSTALLATION=installation,
        LAMBENT_KUBERNETES_NAMESPACE_PATTERN=f"{installation}-{{account_id}}",
        LAMBENT_KUBERNETES_PLATFORM_NAMESPACE=PLATFORM_NAMESPACE,
        LAMBENT_KUBERNETES_IMAGES=f"python3.11={RUNTIME_IMAGE}", LAMBENT_KUBERNETES_POOL_SIZE="1",
        LAMBENT_KUBERNETES_HOST_NETWORK="true", LAMBENT_KUBERNETES_HOST_PORTS="32000-32767",
        LAMBENT_KUBERNETES_CODE_BIND="127.0.0.1:0", LAMBENT_KUBERNETES_CODE_URL="http://127.0.0.1:0",
        LAMBENT_SANDBOX_HOLD_SECONDS="600")
    executor = Process("executor-k8s", [str(Path(__file__).parents[2] / ".venv/bin/lambent"), "executor"], env=env)
    try:
        wait_until(lambda: socket_path.exists() or executor.popen.poll() is not None, timeout=60,
                   what="the executor's socket")
        assert executor.popen.poll() is None, executor.output()[-4000:]
        api, base = start_api({**env, "LAMBENT_EXECUTOR_SOCKET": str(tmp_path / "not-this-one.sock"),
                               "LAMBENT_EXECUTOR_ADDRESS": executor_address})
        try:
            yield base, installation, f"http://{metrics}/metrics"
        finally:
            api.stop()
    finally:
        executor.stop()


def native_invoke(base: str, key: str, name: str, payload: object) -> tuple[int, Message, Any]:
    """The status, the headers (read without regard to case) and the JSON body of an invocation."""
    request = urllib.request.Request(f"{base}/api/v1/functions/{name}/invoke", data=json.dumps(payload).encode(),
                                     method="POST", headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


def executor_requests(metrics_url: str, op: str) -> float:
    with urllib.request.urlopen(metrics_url, timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(f'lambent_executor_requests_total{{op="{op}"}}'):
                return float(line.split()[-1])
    return 0.0


def test_functions_run_in_pods_with_their_results_and_errors_as_on_the_local_backend(
        tenant, create_function, k8s_api, core: client.CoreV1Api) -> None:
    base, installation, executor_metrics = k8s_api
    package = b64(make_zip({"app.py": HANDLERS}))
    for name, handler, extra in [("echo", "app.echo", {}), ("fail", "app.fail", {}),
                                 ("sleepy", "app.sleep", {"timeout": 2}), ("hog", "app.hog", {"memory_size": 128})]:
        create_function(name, handler=handler, zip_file=package, **extra)
    credentials = tenant.credentials
    key = f"{credentials.access_key_id}:{credentials.secret_access_key}"

    status, headers, body = native_invoke(base, key, "echo", {"a": 1})
    assert status == 200 and body["echo"] == {"a": 1}
    assert headers["X-Lambent-Request-Id"] == body["request_id"]
    borrowed = executor_requests(executor_metrics, "borrow")
    assert borrowed >= 1  # the cold start
    for n in range(10):  # warm: the api holds the pod's lease and talks to its agent, not to the executor
        assert native_invoke(base, key, "echo", {"n": n})[2]["echo"] == {"n": n}
    assert executor_requests(executor_metrics, "borrow") == borrowed
    status, headers, body = native_invoke(base, key, "fail", {})
    assert status == 200 and headers["X-Lambent-Function-Error"] == "Unhandled"
    assert body["errorType"] == "ValueError" and body["errorMessage"] == "boom"
    status, headers, body = native_invoke(base, key, "sleepy", {})
    assert headers["X-Lambent-Function-Error"] == "Unhandled" and body["errorType"] == "Sandbox.Timedout"
    status, headers, body = native_invoke(base, key, "hog", {})
    assert headers["X-Lambent-Function-Error"] == "Unhandled" and body["errorType"] == "Runtime.OutOfMemory"

    namespace = f"{installation}-{tenant.tenant.account_id}"
    pods = core.list_namespaced_pod(namespace, label_selector=f"{objects.FUNCTION}=echo").items
    assert len(pods) == 1
    pod = pods[0]
    assert pod.status.phase == "Running" and pod.spec.host_network  # the test bed's one difference
    container = pod.spec.containers[0]
    assert container.image == RUNTIME_IMAGE
    assert container.resources.limits["memory"] == container.resources.requests["memory"] == "128Mi"
    security = container.security_context
    assert security.run_as_non_root and not security.allow_privilege_escalation and security.read_only_root_filesystem
    assert security.capabilities.drop == ["ALL"] and security.seccomp_profile.type == "RuntimeDefault"
    assert pod.spec.automount_service_account_token is False and pod.spec.enable_service_links is False
    held = core.read_namespace(namespace).metadata.labels
    assert {held[f"pod-security.kubernetes.io/{mode}"] for mode in ("enforce", "audit", "warn")} == {"restricted"}
    policies = client.NetworkingV1Api(core.api_client).list_namespaced_network_policy(namespace).items
    assert [policy.spec.policy_types for policy in policies] == [["Ingress", "Egress"]]
    assert core.list_namespaced_resource_quota(namespace).items and core.list_namespaced_limit_range(namespace).items


def test_a_function_created_with_boto3_runs_in_a_pod(make_tenant, k8s_api, core: client.CoreV1Api) -> None:
    base, installation, _ = k8s_api
    new_tenant = make_tenant("boto")
    credentials = new_tenant.credentials
    lambda_client = boto3.client("lambda", endpoint_url=base, region_name="us-east-1",
                                 aws_access_key_id=credentials.access_key_id,
                                 aws_secret_access_key=credentials.secret_access_key,
                                 config=Config(retries={"total_max_attempts": 1}, read_timeout=120))
    lambda_client.create_function(FunctionName="greeter", Runtime="python3.11", Handler="app.echo",
                                  Role="arn:aws:iam::123456789012:role/lambda", Code={"ZipFile": make_zip(
                                      {"app.py": HANDLERS})})
    answer = lambda_client.invoke(FunctionName="greeter", Payload=b'{"hello": "pod"}')
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert json.loads(answer["Payload"].read())["echo"] == {"hello": "pod"}
    namespace = f"{installation}-{new_tenant.tenant.account_id}"
    assert core.list_namespaced_pod(namespace, label_selector=f"{objects.FUNCTION}=greeter").items
