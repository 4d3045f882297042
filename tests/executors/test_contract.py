"""The contract every executor backend keeps, run against each of them.

A backend joins by adding a case to ``BACKENDS``: a factory from a code source (a
function from sha256 to zip bytes) to an executor, used as an async context manager.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import lying_zip, make_zip
from tests.executors.local import in_process_parent
from worker.executors import (
    Executor,
    ExecutorUnavailable,
    FunctionHandledError,
    FunctionInitError,
    FunctionSpec,
    FunctionTimeout,
    InvokeRequest,
    LeaseLost,
    Provision,
    Provisioned,
)
from worker.executors.client import ExecutorClient
from worker.executors.fake import FakeExecutor
from worker.executors.server import serve

HANDLERS = """
import os, time
counter = 0
print("init output")

def echo(event, context):
    return event

def count(event, context):
    global counter
    counter += 1
    return counter

def tally(event, context):
    global counter
    counter += 1
    time.sleep(event.get("seconds", 0))
    return counter

def fail(event, context):
    print("failing now")
    raise ValueError("boom")

def sleep(event, context):
    time.sleep(event["seconds"])
    return event["seconds"]

def fields(event, context):
    return {"request_id": context.aws_request_id, "function_name": context.function_name,
            "function_version": context.function_version, "arn": context.invoked_function_arn,
            "memory": context.memory_limit_in_mb, "remaining": context.get_remaining_time_in_millis(),
            "group": context.log_group_name, "env": os.environ.get("GREETING")}
"""
BROKEN = "import does_not_exist\n"

CodeSource = Callable[[str], bytes]


@contextlib.asynccontextmanager
async def fake_backend(code_source: CodeSource, **options) -> AsyncIterator[Executor]:
    backend = FakeExecutor(code_source=code_source, **options)
    yield backend
    await backend.close()


@contextlib.asynccontextmanager
async def local_backend(code_source: CodeSource, **options) -> AsyncIterator[Executor]:
    """Real bubblewrap sandboxes on this host."""
    from worker.executors.local import LocalExecutor
    from worker.executors.local.sandbox import remove_tree

    folder = Path(tempfile.mkdtemp())
    folder.chmod(0o711)
    backend = LocalExecutor(code_source=code_source, state_dir=folder / "sandboxes", keep_alive_s=60,
                            cgroup_parent=in_process_parent(), **options)
    try:
        yield backend
    finally:
        await backend.close()
        remove_tree(folder)  # never through a mount a sandbox left behind


@contextlib.asynccontextmanager
async def served(code_source: CodeSource, **options) -> AsyncIterator[tuple[Executor, Path]]:
    """Real sandboxes behind the executor endpoint: the backend, and the endpoint's socket."""
    with tempfile.TemporaryDirectory() as folder:
        socket_path = Path(folder) / "executor.sock"
        ready = asyncio.Event()
        async with local_backend(code_source, **options) as local:
            server = asyncio.create_task(serve(local, socket_path, ready=ready))
            await ready.wait()
            try:
                yield local, socket_path
            finally:
                server.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await server


@contextlib.asynccontextmanager
async def client_backend(code_source: CodeSource, **options) -> AsyncIterator[Executor]:
    """The client of the executor endpoint, which runs real sandboxes: what the api and worker
    processes use, invocations sent straight to the lent sandboxes."""
    async with served(code_source, **options) as (_, socket_path):
        client = ExecutorClient(socket_path=socket_path)
        try:
            yield client
        finally:
            await client.close()


@contextlib.asynccontextmanager
async def kubernetes_backend(code_source: CodeSource, *, testbed, **options) -> AsyncIterator[Executor]:
    """Pods on the real API server and kubelet of the Kubernetes test bed."""
    from tests.k8s.executors import executor_on

    async with executor_on(testbed, code_source, **options) as backend:
        yield backend


BACKENDS = {"fake": fake_backend, "client": client_backend, "local": local_backend, "kubernetes": kubernetes_backend}


class Code:
    """Zips by sha256, as code storage holds them."""

    def __init__(self) -> None:
        self.zips: dict[str, bytes] = {}

    def add(self, files: dict[str, str]) -> str:
        data = make_zip(files)
        sha = hashlib.sha256(data).hexdigest()
        self.zips[sha] = data
        return sha

    def __call__(self, sha256: str) -> bytes:
        return self.zips[sha256]


@pytest.fixture(params=[
    "fake", pytest.param("client", marks=pytest.mark.sandbox), pytest.param("local", marks=pytest.mark.sandbox),
    pytest.param("kubernetes", marks=pytest.mark.k8s),
])
def backend_factory(request):
    if request.param == "kubernetes":
        request.getfixturevalue("node")  # the kubelet that runs the pods
        return functools.partial(kubernetes_backend, testbed=request.getfixturevalue("testbed"))
    return BACKENDS[request.param]


def spec(sha: str, handler: str, *, timeout: int = 5, fingerprint: str | None = None, **extra) -> FunctionSpec:
    return FunctionSpec(account_id="123456789012", function_name="fn", version="1",
                        function_arn="arn:aws:lambda:us-east-1:123456789012:function:fn", runtime="python3.11",
                        handler=handler, memory_size=256, timeout=timeout, ephemeral_storage=512, code_sha256=sha,
                        fingerprint=fingerprint or f"{sha}-{handler}", **extra)


def request(payload: object = None) -> InvokeRequest:
    return InvokeRequest(request_id=str(uuid.uuid4()), payload=json.dumps(payload or {}).encode(),
                         invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:fn:live")


def run(backend_factory, scenario, **options):
    code = Code()

    async def main():
        async with backend_factory(code, **options) as backend:
            return await scenario(backend, code)

    return asyncio.run(main())


def test_result_round_trips(backend_factory):
    async def scenario(backend, code):
        result = await backend.invoke(spec(code.add({"app.py": HANDLERS}), "app.echo"), request({"a": [1, "b"]}))
        assert json.loads(result.payload) == {"a": [1, "b"]}
        assert result.function_error is None
        assert result.duration_ms >= 0 and result.billed_duration_ms >= 1
    run(backend_factory, scenario)


def test_context_fields_and_environment(backend_factory):
    async def scenario(backend, code):
        function = spec(code.add({"app.py": HANDLERS}), "app.fields", environment={"GREETING": "hi"})
        invocation = request()
        fields = json.loads((await backend.invoke(function, invocation)).payload)
        assert fields["request_id"] == invocation.request_id
        assert (fields["function_name"], fields["function_version"], fields["memory"]) == ("fn", "1", 256)
        assert fields["arn"] == invocation.invoked_function_arn
        assert 0 < fields["remaining"] <= 5000
        assert fields["group"] == "/aws/lambda/fn"
        assert fields["env"] == "hi"
    run(backend_factory, scenario)


def test_cold_then_warm_with_module_state_kept(backend_factory):
    async def scenario(backend, code):
        function = spec(code.add({"app.py": HANDLERS}), "app.count")
        first = await backend.invoke(function, request())
        assert first.init_duration_ms is not None and "init output" in first.log
        second = await backend.invoke(function, request())
        assert second.init_duration_ms is None and "init output" not in second.log
        assert [json.loads(first.payload), json.loads(second.payload)] == [1, 2]
        other = spec(function.code_sha256, "app.count", fingerprint="another-configuration")
        assert json.loads((await backend.invoke(other, request())).payload) == 1
    run(backend_factory, scenario)


def test_handled_error(backend_factory):
    async def scenario(backend, code):
        with pytest.raises(FunctionHandledError) as raised:
            await backend.invoke(spec(code.add({"app.py": HANDLERS}), "app.fail"), request())
        result = raised.value.result
        error = json.loads(result.payload)
        assert (error["errorType"], error["errorMessage"]) == ("ValueError", "boom")
        assert error["stackTrace"]
        assert result.function_error == "Unhandled" and result.error_type == "ValueError"
        assert "failing now" in result.log
    run(backend_factory, scenario)


@pytest.mark.parametrize(("files", "handler", "error_type"), [
    ({"app.py": BROKEN}, "app.echo", "Runtime.ImportModuleError"),
    ({"app.py": HANDLERS}, "app.missing", "Runtime.HandlerNotFound"),
])
def test_init_errors(backend_factory, files, handler, error_type):
    async def scenario(backend, code):
        with pytest.raises(FunctionInitError) as raised:
            await backend.invoke(spec(code.add(files), handler), request())
        assert raised.value.result.function_error == "Unhandled"
        assert json.loads(raised.value.result.payload)["errorType"] == error_type
    run(backend_factory, scenario)


def test_a_package_that_will_not_unpack_is_an_init_error_each_time(backend_factory):
    """A package stored before the archive limits existed (its sizes lie): the function's fault,
    answered at once on every invoke, with no host path in it."""
    async def scenario(backend, code):
        data = lying_zip()
        sha = hashlib.sha256(data).hexdigest()
        code.zips[sha] = data
        for _ in range(2):
            with pytest.raises(FunctionInitError) as raised:
                await backend.invoke(spec(sha, "app.handler"), request())
            error = json.loads(raised.value.result.payload)
            assert (error["errorType"], raised.value.result.function_error) == ("Runtime.InvalidZipFile", "Unhandled")
            assert "Not a valid zip archive" in error["errorMessage"]
            assert tempfile.gettempdir() not in error["errorMessage"]
    run(backend_factory, scenario)


def test_timeout(backend_factory):
    async def scenario(backend, code):
        function = spec(code.add({"app.py": HANDLERS}), "app.sleep", timeout=1)
        started = time.monotonic()
        with pytest.raises(FunctionTimeout) as raised:
            await backend.invoke(function, request({"seconds": 10}))
        assert time.monotonic() - started < 5
        assert "Task timed out after 1.00 seconds" in json.loads(raised.value.result.payload)["errorMessage"]
        assert raised.value.result.function_error == "Unhandled"
    run(backend_factory, scenario)


def test_concurrent_invocations_run_in_parallel(backend_factory):
    async def scenario(backend, code):
        function = spec(code.add({"app.py": HANDLERS}), "app.sleep")
        assert await backend.prewarm(function, count=3) == 3  # what starting one costs is not measured
        started = time.monotonic()
        results = await asyncio.gather(*(backend.invoke(function, request({"seconds": 1})) for _ in range(3)))
        assert [json.loads(r.payload) for r in results] == [1, 1, 1]
        assert time.monotonic() - started < 2.5  # three seconds one after the other
    run(backend_factory, scenario)


def test_prewarm_and_evict(backend_factory):
    async def scenario(backend, code):
        function = spec(code.add({"app.py": HANDLERS}), "app.count")
        assert await backend.prewarm(function, count=2) == 2
        warm = await backend.invoke(function, request())
        assert warm.init_duration_ms is None
        assert await backend.evict(function) == 2
        assert (await backend.invoke(function, request())).init_duration_ms is not None
    run(backend_factory, scenario)


def test_provisioned_sandboxes_are_initialized_ahead_and_used_first(backend_factory):
    async def scenario(backend, code):
        function = spec(code.add({"app.py": HANDLERS}), "app.sleep")
        assert await backend.provision([Provision(spec=function, count=2)], wait=30) == {
            function.key: Provisioned(ready=2)}
        results = await asyncio.gather(*(backend.invoke(function, request({"seconds": 0.5})) for _ in range(3)))
        # two served by provisioned sandboxes, initialized already; the third had to start one
        assert sorted(result.init_duration_ms is None for result in results) == [False, True, True]
        assert "init output" in "".join(result.log for result in results if result.init_duration_ms is None)
        assert await backend.provision([Provision(spec=function, count=2)]) == {function.key: Provisioned(ready=2)}
        assert await backend.evict(function) == 1  # the on-demand one; provisioned sandboxes are no idle warm ones
    run(backend_factory, scenario)


def test_provision_replaces_the_whole_set_and_releases_to_the_warm_pool(backend_factory):
    async def scenario(backend, code):
        sha = code.add({"app.py": HANDLERS})
        one, two = spec(sha, "app.count"), spec(sha, "app.echo")
        assert await backend.provision([Provision(spec=one, count=2)], wait=30) == {one.key: Provisioned(ready=2)}
        assert await backend.provision([Provision(spec=one, count=1)], wait=30) == {one.key: Provisioned(ready=1)}
        desired = [Provision(spec=two, count=1), Provision(spec=two, count=1)]  # counts of one key add up
        assert await backend.provision(desired, wait=30) == {two.key: Provisioned(ready=2)}
        released = await backend.invoke(one, request())
        assert released.init_duration_ms is None  # kept warm until the keep-alive, initialized already
        assert await backend.evict(one) == 2
        assert await backend.provision([]) == {}
        assert await backend.evict(two) == 2
    run(backend_factory, scenario)


def test_a_provisioned_init_failure_is_reported(backend_factory):
    async def scenario(backend, code):
        broken = spec(code.add({"app.py": BROKEN}), "app.echo")
        state = (await backend.provision([Provision(spec=broken, count=2)], wait=30))[broken.key]
        assert state.ready == 0
        assert state.failure.startswith("Runtime.ImportModuleError: Unable to import module 'app'")
        assert (await backend.provision([]), await backend.provision([Provision(spec=broken, count=0)])) == (
            {}, {broken.key: Provisioned(ready=0)})
    run(backend_factory, scenario)


# Leases: a sandbox lent to one holder at a time, straight to its agent.

async def counted(backend, lease, function):
    """What ``app.tally`` answers through a link of ``lease``: the sandbox's own invocation count."""
    link = await backend.connect(lease, function)
    try:
        return json.loads((await link.invoke(request())).payload)
    finally:
        link.close()


def test_a_lent_sandbox_serves_its_holder_then_the_next_one(backend_factory):
    async def scenario(backend, code):
        function = spec(code.add({"app.py": HANDLERS}), "app.tally")
        lease = await backend.borrow(function)
        assert lease.spec_key == function.key and lease.expires_in_s > 0
        link = await backend.connect(lease, function)
        first = await link.invoke(request())
        assert json.loads(first.payload) == 1 and first.init_duration_ms is not None  # the cold start's
        second = await link.invoke(request())
        assert json.loads(second.payload) == 2 and second.init_duration_ms is None
        await backend.give_back(lease.lease_id)
        with pytest.raises(LeaseLost):  # given back: its agent refuses the old holder
            await link.invoke(request())
        link.close()
        again = await backend.borrow(function)
        assert again.endpoint.token != lease.endpoint.token
        assert await counted(backend, again, function) == 3  # the same sandbox, kept warm
        await backend.give_back(again.lease_id)
        await backend.give_back(again.lease_id)  # a lease that ended already is no error
    run(backend_factory, scenario)


def test_a_token_that_is_not_the_lease_s_is_refused_and_runs_nothing(backend_factory):
    async def scenario(backend, code):
        function = spec(code.add({"app.py": HANDLERS}), "app.tally")
        lease = await backend.borrow(function)
        forged = replace(lease, endpoint=replace(lease.endpoint, token="guessed"))
        link = await backend.connect(forged, function)
        with pytest.raises(LeaseLost):
            await link.invoke(request())
        link.close()
        assert await counted(backend, lease, function) == 1  # the refused one never ran
    run(backend_factory, scenario)


def test_a_lease_not_renewed_expires_and_its_sandbox_serves_again(backend_factory):
    async def scenario(backend, code):
        function = spec(code.add({"app.py": HANDLERS}), "app.tally")
        await backend.prewarm(function, count=2)  # borrowed at once, whatever a start takes
        kept, lapsed = await backend.borrow(function), await backend.borrow(function)
        assert await counted(backend, lapsed, function) == 1
        for _ in range(8):  # 3.2 s: two terms and more, renewed every fifth of one
            await asyncio.sleep(0.4)
            assert await backend.renew([kept.lease_id]) == []
        assert await backend.renew([lapsed.lease_id, "unknown"]) == [lapsed.lease_id, "unknown"]
        with pytest.raises(LeaseLost):
            await counted(backend, lapsed, function)
        assert await counted(backend, kept, function) == 1
        taken_back = await backend.borrow(function)  # the lapsed one, idle again and warm
        assert await counted(backend, taken_back, function) == 2
    run(backend_factory, scenario, lease_s=2.0)


def test_a_holder_that_hangs_up_mid_invocation_has_the_sandbox_replaced(backend_factory):
    async def scenario(backend, code):
        function = spec(code.add({"app.py": HANDLERS}), "app.tally")
        lease = await backend.borrow(function)
        assert await counted(backend, lease, function) == 1
        link = await backend.connect(lease, function)
        abandoned = asyncio.create_task(link.invoke(request({"seconds": 30})))
        await asyncio.sleep(0.5)
        abandoned.cancel()  # a process giving up or dying: its connection closes
        with contextlib.suppress(asyncio.CancelledError):
            await abandoned
        link.close()
        started = time.monotonic()
        with pytest.raises((LeaseLost, ExecutorUnavailable)):  # in doubt: refused, or already gone
            await counted(backend, lease, function)
        fresh = await backend.borrow(function)
        assert await counted(backend, fresh, function) == 1  # a new sandbox
        assert time.monotonic() - started < 10
    run(backend_factory, scenario)
