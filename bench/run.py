"""``make bench``: the platform's figures beside floors measured in the same run.

Prints a table and writes ``bench/results.json``: a list of
``{"name", "value", "unit", "floor", "ratio", "target", "target_min", "limit"}``, where ``ratio``
is value/floor, ``target`` the largest ratio the figure may reach (a cost: latency, memory),
``target_min`` the smallest (a rate: throughput) and ``limit`` the largest value itself (a
budget, such as CPU per invocation); None where there is no such bound.

The asynchronous figures time an event from just before the client sends it to the
moment the worker that ran it stamps its end (the ledger's ``finished_at``, taken as the
function returns, before the outcome is written); the Celery floor is timed the same way,
to the ``time.time()`` its no-op task returns (before its result is stored). Client,
api, worker and floor share one machine and one clock.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import statistics
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

from bench import cpu, floors, loadgen, seccomp
from bench.celery_floor import CeleryFloor
from bench.instance import WORKER_CONCURRENCY, Platform
from bench.ledger import Ledger

HANDLER = "def handler(event, context):\n    return event\n"
EVENT = json.dumps({"benchmark": True, "n": 1}).encode()
RESULTS = Path(__file__).with_name("results.json")
EVENT_TYPE = {"X-Lambent-Invocation-Type": "Event"}
#: What a cold start from the generic pool took before invocations went straight to sandboxes.
COLD_START_POOL_MS = 4.3


def zip_of(source: str) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return base64.b64encode(buffer.getvalue()).decode()


def create(platform: Platform, name: str) -> None:
    status, body = platform.call("POST", "/api/v1/functions", {
        "name": name, "runtime": "python3.11", "handler": "app.handler", "zip_file": zip_of(HANDLER)})
    if status != 201:
        raise RuntimeError(f"creating {name}: {status} {body}")


def invoke_path(name: str, qualifier: str = "") -> str:
    return f"/api/v1/functions/{name}/invoke" + (f"?qualifier={qualifier}" if qualifier else "")


def measure_warm(platform: Platform, results: list[dict[str, object]]) -> None:
    create(platform, "warm")
    path = invoke_path("warm")
    warm = loadgen.run("127.0.0.1", platform.port, path, EVENT, requests=2000, headers=platform.headers)
    with floors.BareServer(HANDLER) as bare:
        floor = loadgen.run("127.0.0.1", bare.port, "/", EVENT, requests=2000)
    results.append(row("warm_invoke_p50", warm.p50, "ms", floor.p50, target=4))
    results.append(row("warm_invoke_p99", warm.percentile(99), "ms", floor.percentile(99), target=6))
    lambda_path = "/2015-03-31/functions/warm/invocations"
    via_lambda = loadgen.run("127.0.0.1", platform.port, lambda_path, EVENT, requests=2000,
                             headers=sigv4_headers(platform, lambda_path, EVENT))
    results.append(row("lambda_invoke_p50", via_lambda.p50, "ms", warm.p50, target=1.2))
    results.append(measure_cpu(platform, path))

    busy = loadgen.run("127.0.0.1", platform.port, path, EVENT, requests=4000, clients=8, headers=platform.headers)
    with floors.BareServer(HANDLER, workers=8) as bare:
        floor_busy = loadgen.run("127.0.0.1", bare.port, "/", EVENT, requests=4000, clients=8)
    results.append(row("throughput_rps", busy.rps, "req/s", floor_busy.rps, target=None, target_min=0.2))


def measure_cpu(platform: Platform, path: str, *, requests: int = 2000) -> dict[str, object]:
    """CPU milliseconds per sequential warm invocation, summed over every platform process (and
    split by role), beside the bare server's per request (its one process, same client)."""
    roots = {**platform.pids(), "redis": platform.redis_pid}
    before = cpu.snapshot(roots)
    loadgen.run("127.0.0.1", platform.port, path, EVENT, requests=requests, warmup=0, headers=platform.headers)
    split = cpu.spent(before, cpu.snapshot(roots))
    with floors.BareServer(HANDLER) as bare:
        floor_roots = {"bare": bare.pids[0]}
        floor_before, server_before = cpu.snapshot(floor_roots), cpu.thread_seconds(bare.thread_id)
        loadgen.run("127.0.0.1", bare.port, "/", EVENT, requests=requests, warmup=0)
        floor_seconds = sum(cpu.spent(floor_before, cpu.snapshot(floor_roots)).values())
        floor = (floor_seconds + cpu.thread_seconds(bare.thread_id) - server_before) * 1000 / requests
    per_invoke = {role: seconds * 1000 / requests for role, seconds in sorted(split.items())}
    print("cpu per warm invoke (ms): " + ", ".join(f"{role} {ms:.3f}" for role, ms in per_invoke.items())
          + f"; bare server {floor:.3f}")
    return row("cpu_per_invoke_ms", sum(per_invoke.values()), "ms", floor, target=None, limit=0.8)


def sigv4_headers(platform: Platform, path: str, body: bytes) -> dict[str, str]:
    """The headers of one Invoke signed as boto3 signs it (SigV4), replayed by the load generator
    within the signature's 15 minutes: the Lambda API's own cost, verification included."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    key_id, _, secret = platform.key.partition(":")
    request = AWSRequest(method="POST", url=f"http://127.0.0.1{path}", data=body)
    SigV4Auth(Credentials(key_id, secret), "lambda", "us-east-1").add_auth(request)
    return {name: value for name, value in request.headers.items() if name.lower() != "host"}


def measure_cold(platform: Platform, results: list[dict[str, object]], *, runs: int = 15) -> None:
    create(platform, "cold")
    timings = []
    for number in range(1, runs + 1):
        platform.call("PATCH", "/api/v1/functions/cold", {"description": f"release {number}"})
        status, version = platform.call("POST", "/api/v1/functions/cold/versions")
        connection = loadgen.Connection("127.0.0.1", platform.port)
        started = time.perf_counter()
        status, _ = connection.request("POST", invoke_path("cold", str(version["version"])), EVENT, platform.headers)
        timings.append((time.perf_counter() - started) * 1000)
        connection.close()
        if status != 200:
            raise RuntimeError(f"cold invoke answered {status}")
    interpreter = str(_interpreter("python3.11"))
    floor = floors.cold_floor_ms(interpreter, HANDLER, runs=runs)
    results.append(row("cold_start_p50", statistics.median(timings), "ms", floor, target=1.5))
    # What the sandbox layer alone adds (no HTTP, no database): a generic pooled sandbox specialized
    # for a version it never ran, against a fresh interpreter's start.
    pool = statistics.median(executor_cold_starts(platform, version=version, runs=runs))
    results.append(row("cold_start_pool_p50", pool, "ms", floor, target=None, limit=COLD_START_POOL_MS))


def executor_cold_starts(platform: Platform, *, version: dict[str, Any], runs: int) -> list[float]:
    """Milliseconds for the executor to answer the first invocation of ``runs`` versions it never
    saw (each a new fingerprint of the same code), the generic pool refilled between them."""
    from worker.executors.base import FunctionSpec, InvokeRequest
    from worker.executors.client import ExecutorClient

    client = ExecutorClient(socket_path=platform.data_dir / "executor.sock")

    async def once(number: int) -> float:
        spec = FunctionSpec(
            account_id="000000000000", function_name="pool", version="1",
            function_arn="arn:aws:lambda:us-east-1:000000000000:function:pool", runtime="python3.11",
            handler="app.handler", memory_size=128, timeout=3, ephemeral_storage=512,
            code_sha256=str(version["code_sha256"]), fingerprint=f"bench-{number}-{time.time_ns()}")
        request = InvokeRequest(request_id=f"bench-{number}", payload=EVENT, invoked_function_arn=spec.function_arn)
        started = time.perf_counter()
        result = await client.invoke(spec, request)
        elapsed = (time.perf_counter() - started) * 1000
        if result.init_duration_ms is None:
            raise RuntimeError("an executor cold start reported no init duration")
        await client.evict(spec)
        return elapsed

    async def all_runs() -> list[float]:
        timings = []
        for number in range(runs):
            await asyncio.sleep(0.5)  # the generic pool refills in the background
            timings.append(await once(number))
        await client.close()
        return timings

    return asyncio.run(all_runs())


def measure_burst(platform: Platform, results: list[dict[str, object]], *, count: int = 50) -> None:
    """Seconds until ``count`` concurrent invocations of a version nobody ran yet are all answered,
    against ``count`` interpreters started at once in bubblewrap."""
    create(platform, "burst")
    status, version = platform.call("POST", "/api/v1/functions/burst/versions")
    path = invoke_path("burst", str(version["version"]))
    connections = [loadgen.Connection("127.0.0.1", platform.port) for _ in range(count)]
    answers: list[int] = []

    def invoke(connection: loadgen.Connection) -> None:
        answers.append(connection.request("POST", path, EVENT, platform.headers)[0])

    threads = [threading.Thread(target=invoke, args=(connection,)) for connection in connections]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    for connection in connections:
        connection.close()
    if answers.count(200) != count:
        raise RuntimeError(f"burst: {count - answers.count(200)} of {count} invocations failed: {set(answers)}")
    floor = floors.parallel_cold_floor_s(str(_interpreter("python3.11")), HANDLER, count=count)
    print(f"burst: {count} concurrent cold invocations answered in {elapsed:.2f} s; {count} bare interpreters "
          f"started at once in {floor:.2f} s")
    results.append(row("burst50_s", elapsed, "s", floor, target=None))


def measure_idle_memory(platform: Platform, results: list[dict[str, object]]) -> None:
    create(platform, "idle")
    before = set(_sandbox_cgroups(platform))
    platform.call("POST", invoke_path("idle"))
    time.sleep(1)
    (cgroup,) = set(_sandbox_cgroups(platform)) - before
    pids = [int(pid) for pid in (cgroup / "cgroup.procs").read_text().split()]
    sandbox_mb = sum(floors.private_mb(pid) for pid in pids)
    floor = floors.idle_python_private_mb(str(_interpreter("python3.11")))
    results.append(row("idle_sandbox_private_mb", sandbox_mb, "MB", floor, target=2))


def measure_async(platform: Platform, results: list[dict[str, object]]) -> None:
    """The asynchronous figures, then their Celery floors (whose worker starts only once the
    platform's figures are taken, and stops before anything else is measured)."""
    accept = async_accept(platform, requests=1000)
    e2e = async_e2e(platform, events=200)
    rate = async_burst(platform, events=500, clients=8)
    with CeleryFloor(redis_socket=platform.redis_socket, log=platform.data_dir / "celery-floor.log",
                     concurrency=WORKER_CONCURRENCY) as celery:
        trips = celery.round_trips(count=200)
        floor_rate, sending = celery.burst(count=500)
    floor_e2e = statistics.median(trips.done_ms)
    print(f"async e2e, bare Celery: 200 no-op tasks one at a time, delay() to the task's end p50 {floor_e2e:.2f} ms "
          f"(to get() returning: p50 {statistics.median(trips.heard_ms):.2f} ms)")
    print(f"async throughput, bare Celery: 500 no-op tasks sent in {sending:.2f} s, {floor_rate:.0f}/s "
          f"from the first send to the last task's end ({WORKER_CONCURRENCY} prefork processes)")
    results.append(accept)
    results.append(row("async_e2e_p50", e2e, "ms", floor_e2e, target=2.5))
    results.append(row("async_throughput", rate, "inv/s", floor_rate, target=None, target_min=0.6))


def async_accept(platform: Platform, *, requests: int) -> dict[str, object]:
    """Sequential 202s of one client over keep-alive, beside the same from ``floors.AcceptFloor``.

    The accept path alone, as its floor: the platform's worker takes none of these events
    until the accepts are measured (nothing consumes the floor's messages either); it then
    runs them all before anything else is measured.
    """
    create(platform, "event_accept")
    with platform.worker_paused():
        accepted = loadgen.run("127.0.0.1", platform.port, invoke_path("event_accept"), EVENT, requests=requests,
                               headers={**platform.headers, **EVENT_TYPE}, expect=202)
    started = time.time()
    with Ledger(platform.database) as ledger:
        succeeded, last = ledger.wait_finished("event_accept", count=requests + 50)
    with floors.AcceptFloor(database=platform.database, redis_socket=platform.redis_socket) as bare:
        floor = loadgen.run("127.0.0.1", bare.port, "/", EVENT, requests=requests, expect=202)
    print(f"async accept: {requests} sequential Event invokes, 202 p50 {accepted.p50:.2f} ms "
          f"(p99 {accepted.percentile(99):.2f}); floor (asyncio, one SQLite commit, one LPUSH) "
          f"p50 {floor.p50:.2f} ms (p99 {floor.percentile(99):.2f})")
    print(f"async accept: the worker then ran the {requests + 50} queued events in {last - started:.2f} s "
          f"({(requests + 50) / (last - started):.0f}/s, nothing else running), {succeeded} succeeded")
    return row("async_accept_p50", accepted.p50, "ms", floor.p50, target=4)


def async_e2e(platform: Platform, *, events: int, warmup: int = 20) -> float:
    """Median ms from just before the client sends an event to the ledger's ``finished_at``
    of it, one event at a time (each waited for in the ledger before the next is sent)."""
    create(platform, "event_e2e")
    connection = loadgen.Connection("127.0.0.1", platform.port)
    done, accept, ledgered = [], [], []
    with Ledger(platform.database) as ledger:
        for number in range(warmup + events):
            started = time.time()
            request_id, answered = _send_event(platform, connection, "event_e2e")
            entry = ledger.wait_ended(request_id)
            if entry.status != "succeeded" or entry.finished_at is None:
                raise RuntimeError(f"event {request_id} ended {entry.status}")
            if number >= warmup:
                done.append((entry.finished_at - started) * 1000)
                accept.append((answered - started) * 1000)
                ledgered.append((entry.finished_at - entry.created_at) * 1000)
    connection.close()
    status, seen = platform.call("GET", f"/api/v1/invocations/{request_id}")
    if status != 200 or seen["status"] != "succeeded":
        raise RuntimeError(f"the API shows the last event as {status} {seen}")
    print(f"async e2e: {events} events one at a time, send to the worker's finish p50 {statistics.median(done):.2f} ms "
          f"(202 round trip p50 {statistics.median(accept):.2f} ms, ledger created_at to finished_at "
          f"p50 {statistics.median(ledgered):.2f} ms)")
    return statistics.median(done)


def _send_event(platform: Platform, connection: loadgen.Connection, name: str) -> tuple[str, float]:
    """Send one event: its request id, and when the 202 came back."""
    status, body = connection.request("POST", invoke_path(name), EVENT, {**platform.headers, **EVENT_TYPE})
    answered = time.time()
    if status != 202:
        raise RuntimeError(f"an Event invoke answered {status}: {body[:300]!r}")
    return str(json.loads(body)["request_id"]), answered


def async_burst(platform: Platform, *, events: int, clients: int) -> float:
    """Invocations per second: ``events`` sent at once by ``clients`` keep-alive connections,
    from the first send to the last end (after a warm-up that starts a sandbox per worker process)."""
    create(platform, "event_burst")
    path, headers = invoke_path("event_burst"), {**platform.headers, **EVENT_TYPE}
    warmup = 4 * WORKER_CONCURRENCY
    with Ledger(platform.database) as ledger:
        loadgen.run("127.0.0.1", platform.port, path, EVENT, requests=warmup, clients=warmup, warmup=0, expect=202,
                    headers=headers)
        ledger.wait_finished("event_burst", count=warmup)
        started = time.time()
        sending = loadgen.run("127.0.0.1", platform.port, path, EVENT, requests=events, clients=clients, warmup=0,
                              expect=202, headers=headers)
        succeeded, last = ledger.wait_finished("event_burst", count=warmup + events)
    if succeeded != warmup + events:
        raise RuntimeError(f"only {succeeded - warmup} of {events} events succeeded")
    rate = events / (last - started)
    print(f"async throughput: {events} events from {clients} clients accepted in {sending.elapsed_s:.2f} s "
          f"({sending.rps:.0f}/s, 202 p50 {sending.p50:.2f} ms), all succeeded after {last - started:.2f} s: "
          f"{rate:.0f}/s")
    return rate


def _sandbox_cgroups(platform: Platform) -> list[Path]:
    parent = platform.cgroup_parent
    for root in (Path("/sys/fs/cgroup/memory") / parent, Path("/sys/fs/cgroup") / parent):
        if root.is_dir():
            return [entry for entry in root.iterdir() if entry.is_dir()]
    return []


def measure_seccomp(results: list[dict[str, object]]) -> None:
    """The sandboxes' seccomp filters against none, at the executor (see ``bench.seccomp``)."""
    medians = seccomp.measure()
    results.append(row("seccomp_cold_start_p50", medians["cold_filtered"], "ms", medians["cold_unconfined"],
                       target=seccomp.TARGET))
    results.append(row("seccomp_warm_invoke_p50", medians["warm_filtered"], "ms", medians["warm_unconfined"],
                       target=seccomp.TARGET))


def _interpreter(runtime: str) -> Path:
    from worker.executors.local.interpreters import find_interpreters

    return find_interpreters()[runtime].executable


def row(name: str, value: float, unit: str, floor: float, *, target: float | None,
        target_min: float | None = None, limit: float | None = None) -> dict[str, object]:
    return {"name": name, "value": round(value, 3), "unit": unit, "floor": round(floor, 3),
            "ratio": round(value / floor, 3) if floor else None, "target": target, "target_min": target_min,
            "limit": limit}


def verdict(result: dict[str, Any]) -> tuple[str, str]:
    """The bound of a row as printed, and whether it is met: ``target`` and ``target_min`` bound the
    ratio, ``limit`` the value itself."""
    ratio, target, target_min, limit = result["ratio"], result["target"], result["target_min"], result["limit"]
    bounds = ([f"<= {target}"] if target is not None else []) + ([f">= {target_min}"] if target_min is not None else [])
    bounds += [f"value <= {limit}"] if limit is not None else []
    if not bounds:
        return "", ""
    met = (ratio is not None or (target is None and target_min is None)) and (target is None or ratio <= target) \
        and (target_min is None or ratio >= target_min) and (limit is None or result["value"] <= limit)
    return " ".join(bounds), "ok" if met else "MISSED"


def main() -> None:
    results: list[dict[str, object]] = []
    with Platform() as platform:
        measure_warm(platform, results)
        measure_cold(platform, results)
        measure_idle_memory(platform, results)
        measure_burst(platform, results)
        measure_async(platform, results)
    measure_seccomp(results)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"{'name':<26}{'value':>12}{'floor':>12}  unit    {'ratio':>7}  target")
    for result in results:
        bound, met = verdict(result)
        print(f"{result['name']:<26}{result['value']:>12}{result['floor']:>12}  {result['unit']:<7} "
              f"{result['ratio']:>7}  {bound} {met}")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
