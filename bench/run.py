"""``make bench``: the platform's figures beside floors measured in the same run.

Prints a table and writes ``bench/results.json``: a list of
``{"name", "value", "unit", "floor", "ratio", "target"}``, where ``ratio`` is value/floor
and ``target`` the largest ratio the figure should reach (None where there is none).
"""

from __future__ import annotations

import base64
import io
import json
import statistics
import time
import zipfile
from pathlib import Path

from bench import floors, loadgen
from bench.instance import Platform

HANDLER = "def handler(event, context):\n    return event\n"
EVENT = json.dumps({"benchmark": True, "n": 1}).encode()
RESULTS = Path(__file__).with_name("results.json")


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
    results.append(row("warm_invoke_p50", warm.p50, "ms", floor.p50, target=3))
    results.append(row("warm_invoke_p99", warm.percentile(99), "ms", floor.percentile(99), target=5))

    busy = loadgen.run("127.0.0.1", platform.port, path, EVENT, requests=4000, clients=8, headers=platform.headers)
    with floors.BareServer(HANDLER, workers=8) as bare:
        floor_busy = loadgen.run("127.0.0.1", bare.port, "/", EVENT, requests=4000, clients=8)
    results.append(row("throughput_rps", busy.rps, "req/s", floor_busy.rps, target=None))


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
    interpreter = _interpreter("python3.11")
    floor = floors.cold_floor_ms(str(interpreter), HANDLER, runs=runs)
    results.append(row("cold_start_p50", statistics.median(timings), "ms", floor, target=1.5))


def measure_idle_memory(platform: Platform, results: list[dict[str, object]]) -> None:
    create(platform, "idle")
    before = set(_sandbox_cgroups())
    platform.call("POST", invoke_path("idle"))
    time.sleep(1)
    (cgroup,) = set(_sandbox_cgroups()) - before
    pids = [int(pid) for pid in (cgroup / "cgroup.procs").read_text().split()]
    sandbox_mb = sum(floors.private_mb(pid) for pid in pids)
    floor = floors.idle_python_private_mb(str(_interpreter("python3.11")))
    results.append(row("idle_sandbox_private_mb", sandbox_mb, "MB", floor, target=2))


def _sandbox_cgroups() -> list[Path]:
    for root in (Path("/sys/fs/cgroup/memory/lambent"), Path("/sys/fs/cgroup/lambent")):
        if root.is_dir():
            return [entry for entry in root.iterdir() if entry.is_dir()]
    return []


def _interpreter(runtime: str) -> Path:
    from worker.executors.local.interpreters import find_interpreters

    return find_interpreters()[runtime].executable


def row(name: str, value: float, unit: str, floor: float, *, target: float | None) -> dict[str, object]:
    return {"name": name, "value": round(value, 3), "unit": unit, "floor": round(floor, 3),
            "ratio": round(value / floor, 3) if floor else None, "target": target}


def main() -> None:
    results: list[dict[str, object]] = []
    with Platform() as platform:
        measure_warm(platform, results)
        measure_cold(platform, results)
        measure_idle_memory(platform, results)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"{'name':<26}{'value':>12}{'floor':>12}  unit    {'ratio':>7}  target")
    for result in results:
        target = result["target"]
        met = "" if target is None else ("ok" if result["ratio"] <= target else "MISSED")  # type: ignore[operator]
        print(f"{result['name']:<26}{result['value']:>12}{result['floor']:>12}  {result['unit']:<7} "
              f"{result['ratio']:>7}  {'' if target is None else f'<= {target}'} {met}")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
