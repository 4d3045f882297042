"""What the seccomp filters cost: a cold start and a warm invoke at the executor, with them and without.

Two local executors in this process, one that loads the filters into its sandboxes and one that
does not (``LAMBENT_SECCOMP=unconfined``), measured in turns (each round runs both, the first of
the two alternating), so that whatever else loads a shared machine falls on both alike; the
figures are medians. Measured at the executor, where the filters' cost is the largest share of
what is timed: the API hop would only dilute it. A cold start here takes a generic sandbox from
the pool (refilled, and left to settle, before each), as in production.

``python -m bench.seccomp`` prints the figures; ``make bench`` adds them to its table, each
filtered figure against its unconfined floor, within 5%.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import statistics
import tempfile
import time
import uuid
import zipfile
from pathlib import Path

from worker.executors import FunctionSpec, InvokeRequest
from worker.executors.local import LocalExecutor
from worker.executors.local.sandbox import remove_tree

HANDLER = "def handler(event, context):\n    return event\n"
EVENT = b'{"benchmark": true}'
ROUNDS = 20
WARM_PER_ROUND = 300
#: The most the filters may add to a cold start or a warm invoke.
TARGET = 1.05


def _code() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", HANDLER)
    return buffer.getvalue()


CODE = _code()


def version_spec(name: str) -> FunctionSpec:
    """A version of its own (``name``) of the benchmark's function."""
    return FunctionSpec(account_id="000000000000", function_name=name, version="1", function_arn=f"arn:{name}",
                        runtime="python3.11", handler="app.handler", memory_size=128, timeout=5,
                        ephemeral_storage=512, code_sha256=hashlib.sha256(CODE).hexdigest(), fingerprint=name)


async def _timed(executor: LocalExecutor, spec: FunctionSpec) -> float:
    request = InvokeRequest(request_id=str(uuid.uuid4()), payload=EVENT, invoked_function_arn=spec.function_arn)
    started = time.perf_counter()
    await executor.invoke(spec, request)
    return (time.perf_counter() - started) * 1000


async def _round(executor: LocalExecutor, *, number: int, cold: list[float], warm: list[float]) -> None:
    """A cold start from the generic pool (the first one fills it), then warm invokes of that version."""
    while number >= 0 and executor.generic_count("python3.11") < 1:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # the refill's last exec settles
    spec = version_spec(f"bench-{number}-{time.time_ns()}")
    cold.append(await _timed(executor, spec))
    warm.extend([await _timed(executor, spec) for _ in range(WARM_PER_ROUND)])
    await executor.evict(spec)


async def _compare(folder: Path) -> dict[str, dict[str, list[float]]]:
    executors = {
        mode: LocalExecutor(code_source=lambda sha: CODE, state_dir=folder / mode, keep_alive_s=600,
                            generic_pool_size=1, cgroup_parent=f"lambent-bench-seccomp-{os.getpid()}-{mode}",
                            uid_base=100_000_000 + (os.getpid() % 1024) * 131072 + offset * 65536,
                            seccomp=mode == "filtered")
        for offset, mode in enumerate(("filtered", "unconfined"))
    }
    figures: dict[str, dict[str, list[float]]] = {mode: {"cold": [], "warm": []} for mode in executors}
    try:
        for executor in executors.values():  # one sandbox each first: the interpreters' files in the page cache
            await _round(executor, number=-1, cold=[], warm=[])
        for number in range(ROUNDS):
            order = list(executors) if number % 2 == 0 else list(reversed(executors))
            for mode in order:
                await _round(executors[mode], number=number, cold=figures[mode]["cold"], warm=figures[mode]["warm"])
    finally:
        for executor in executors.values():
            await executor.close()
    return figures


def measure() -> dict[str, float]:
    """Median milliseconds: ``cold`` and ``warm``, ``filtered`` and ``unconfined``."""
    folder = Path(tempfile.mkdtemp(prefix="lambent-bench-seccomp-"))
    folder.chmod(0o711)
    try:
        figures = asyncio.run(_compare(folder))
    finally:
        remove_tree(folder)
    return {f"{kind}_{mode}": statistics.median(samples[kind]) for mode, samples in figures.items()
            for kind in ("cold", "warm")}


def main() -> None:
    medians = measure()
    for kind in ("cold", "warm"):
        filtered, unconfined = medians[f"{kind}_filtered"], medians[f"{kind}_unconfined"]
        print(f"{kind:<5} filtered {filtered:8.3f} ms   unconfined {unconfined:8.3f} ms   "
              f"cost {100 * (filtered / unconfined - 1):+.1f}%")


if __name__ == "__main__":
    main()
