"""The Kubernetes backend beside the local one: a cold start and a warm invoke as an api process
pays them, on the test bed's real API server and kubelet (``tests/k8s``: host-network pods).

Both executors run in this process; what is timed is what a holder does: ``borrow`` a sandbox of a
new version (a cold start: a generic sandbox specialized, the function's init, answered with a
lease), ``connect`` to its agent and invoke it once; then warm invokes over that connection, the
executor out of the path. Rounds alternate between the backends, so whatever loads the machine
falls on both alike. Also timed, for the Kubernetes backend alone: a cold start with no generic pod
ready (the pod made, scheduled, started by the kubelet and attached on demand). A pod's CPU is in
proportion to its memory, as on Lambda (128 MB: 72 millicores, held by the CFS quota), and the local
backend does not cap CPU: so warm invokes are also timed at 1,769 MB (one vCPU) on Kubernetes.

``python -m bench.kubernetes`` (``make bench-kubernetes``) prints the figures and writes
``bench/kubernetes.json``. It needs what the Kubernetes tests need: root on Debian or Ubuntu, and
the test bed's binaries (``tools/k8s-testbed/build``).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from pathlib import Path

import django

from bench.seccomp import CODE, EVENT, version_spec
from worker.executors import Executor, FunctionSpec, InvokeRequest

ROUNDS = 10
WARM_PER_ROUND = 200
ON_DEMAND_ROUNDS = 3
RESULTS = Path(__file__).with_name("kubernetes.json")


def _request(spec: FunctionSpec) -> InvokeRequest:
    return InvokeRequest(request_id=str(uuid.uuid4()), payload=EVENT, invoked_function_arn=spec.function_arn)


async def _round(executor: Executor, *, generic: Callable[[], int], cold: list[float], warm: list[float],
                 memory_mb: int = 128) -> None:
    """Wait for a generic sandbox, then one cold start of a new version and warm invokes of it."""
    while generic() < 1:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # the refill settles
    spec = replace(version_spec(f"bench-{time.time_ns()}"), memory_size=memory_mb)
    started = time.perf_counter()
    lease = await executor.borrow(spec)
    link = await executor.connect(lease, spec)
    await link.invoke(_request(spec))
    cold.append((time.perf_counter() - started) * 1000)
    for _ in range(WARM_PER_ROUND):
        started = time.perf_counter()
        await link.invoke(_request(spec))
        warm.append((time.perf_counter() - started) * 1000)
    link.close()
    await executor.give_back(lease.lease_id, reusable=False)


@asynccontextmanager
async def _local() -> AsyncIterator[Executor]:
    from worker.executors.local import LocalExecutor
    from worker.executors.local.sandbox import remove_tree

    folder = Path(tempfile.mkdtemp(prefix="lambent-bench-k8s-"))
    folder.chmod(0o711)
    executor = LocalExecutor(code_source=lambda sha: CODE, state_dir=folder / "sandboxes", keep_alive_s=600,
                             generic_pool_size=1, cgroup_parent=f"lambent-bench-k8s-{os.getpid()}",
                             uid_base=100_000_000 + (os.getpid() % 1024) * 131072)
    try:
        yield executor
    finally:
        await executor.close()
        remove_tree(folder)


async def _measure(testbed: object) -> dict[str, list[float]]:
    from tests.k8s.executors import executor_on, settings_on

    figures: dict[str, list[float]] = {name: [] for name in (
        "local_cold", "local_warm", "kubernetes_cold", "kubernetes_warm", "kubernetes_cold_on_demand",
        "kubernetes_warm_1769mb")}
    pooled = settings_on(testbed, pool_size=1)  # type: ignore[arg-type]
    backends: dict[str, AbstractAsyncContextManager[Executor]] = {
        "local": _local(), "kubernetes": executor_on(None, lambda sha: CODE, settings=pooled, keep_alive_s=600)}
    async with backends["local"] as local, backends["kubernetes"] as kubernetes:
        executors = {"local": local, "kubernetes": kubernetes}
        generic = {name: (lambda executor=executor: executor.generic_count("python3.11"))  # type: ignore[attr-defined]
                   for name, executor in executors.items()}
        for executor in executors.values():  # the first sandbox of each fills the caches and the pool
            await _round(executor, generic=lambda: 1, cold=[], warm=[])
        for number in range(ROUNDS):
            for name in (list(executors) if number % 2 == 0 else list(reversed(executors))):
                await _round(executors[name], generic=generic[name], cold=figures[f"{name}_cold"],
                             warm=figures[f"{name}_warm"])
    async with executor_on(None, lambda sha: CODE, settings=settings_on(testbed, pool_size=0),  # type: ignore[arg-type]
                           keep_alive_s=600) as on_demand:
        for _ in range(ON_DEMAND_ROUNDS):
            await _round(on_demand, generic=lambda: 1, cold=figures["kubernetes_cold_on_demand"], warm=[])
        # A pod's CPU is in proportion to its memory (Lambda's rule: 128 MB is 72 millicores, whose
        # CFS quota a run of warm invokes uses up): at 1,769 MB, one whole vCPU.
        await _round(on_demand, generic=lambda: 1, cold=[], warm=figures["kubernetes_warm_1769mb"], memory_mb=1769)
    return figures


def measure() -> dict[str, dict[str, float]]:
    """Milliseconds by figure: median and p99 (for the warm ones) of each."""
    from tests.k8s.testbed import Testbed, binaries

    testbed = Testbed(bin_dir=binaries()).start()
    try:
        testbed.start_node()
        figures = asyncio.run(_measure(testbed))
    finally:
        testbed.stop()
    summary = {}
    for name, samples in figures.items():
        ordered = sorted(samples)
        summary[name] = {"p50": statistics.median(ordered), "p99": ordered[int(len(ordered) * 0.99) - 1]
                         if len(ordered) >= 100 else ordered[-1], "samples": len(ordered)}
    return summary


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lambent.settings")
    django.setup()
    summary = measure()
    print(f"{'figure':<28}{'p50 ms':>10}{'p99 ms':>10}{'samples':>9}")
    for name, figure in summary.items():
        print(f"{name:<28}{figure['p50']:>10.3f}{figure['p99']:>10.3f}{figure['samples']:>9}")
    for kind in ("cold", "warm"):
        ratio = summary[f"kubernetes_{kind}"]["p50"] / summary[f"local_{kind}"]["p50"]
        print(f"{kind}: kubernetes / local = {ratio:.2f}")
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
