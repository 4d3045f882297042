"""What real functions do keeps working under the seccomp filter and the read-only /dev: threads,
subprocesses, multiprocessing (its semaphores live in /dev/shm), a C-extension library with threads of
its own (numpy and its OpenBLAS), and Node's event loop in a ``provided`` runtime."""

from __future__ import annotations

import functools
import hashlib
import io
import json
import stat
import uuid
import zipfile
from pathlib import Path

import pytest

from tests.conftest import make_zip
from tests.executors.local import run_with_executor
from worker.executors import FunctionSpec, InvokeRequest, InvokeResult
from worker.executors.local import LocalExecutor

pytestmark = pytest.mark.sandbox

TOGETHER = '''
import json, multiprocessing, os, subprocess, sys, threading


def square(number):
    return number * number


def handler(event, context):
    results = []
    threads = [threading.Thread(target=lambda n=n: results.append(square(n))) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    echoed = subprocess.run(["/bin/sh", "-c", "echo $((6 * 7))"], capture_output=True, text=True, check=True)
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    with multiprocessing.get_context("fork").Pool(2) as pool:  # its locks are POSIX semaphores in /dev/shm
        forked = pool.map(square, range(5))
    spawned_context = multiprocessing.get_context("spawn")
    queue = spawned_context.Queue()
    process = spawned_context.Process(target=queue.put, args=("from a spawned process",))
    process.start()
    message = queue.get(timeout=20)
    process.join()
    lock = multiprocessing.Lock()
    with lock:
        shm = sorted(os.listdir("/dev/shm"))
    return {"threads": sorted(results), "shell": echoed.stdout.strip(), "child": int(child.stdout),
            "forked": forked, "spawned": message, "exit": process.exitcode, "shm": shm}
'''

NUMPY = '''
import numpy


def handler(event, context):
    generator = numpy.random.default_rng(7)
    matrix = generator.random((400, 400))
    product = matrix @ matrix.T  # OpenBLAS, on threads of its own
    return {"version": numpy.__version__, "positive": bool(numpy.linalg.det(product[:50, :50]) > 0),
            "trace": round(float(numpy.trace(product)), 3)}
'''

NODE = r'''
const http = require("http");
const fs = require("fs/promises");
const crypto = require("crypto");
const { execFile } = require("child_process");
const { Worker } = require("worker_threads");
const api = process.env.AWS_LAMBDA_RUNTIME_API;

function call(method, path, body) {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: api.split(":")[0], port: api.split(":")[1], method,
                                   path: "/2018-06-01/runtime" + path }, (response) => {
      const chunks = [];
      response.on("data", (chunk) => chunks.push(chunk));
      response.on("end", () => resolve({ headers: response.headers, body: Buffer.concat(chunks).toString() }));
    });
    request.on("error", reject);
    request.end(body);
  });
}

async function work() {
  const timer = await new Promise((resolve) => setTimeout(() => resolve("fired"), 20));
  await fs.writeFile("/tmp/node.txt", "written");
  const file = await fs.readFile("/tmp/node.txt", "utf8");
  const random = crypto.randomBytes(8).length;
  const shell = await new Promise((resolve, reject) =>
    execFile("/bin/sh", ["-c", "echo child"], (error, stdout) => (error ? reject(error) : resolve(stdout.trim()))));
  const worker = await new Promise((resolve, reject) => {
    const thread = new Worker("require('worker_threads').parentPort.postMessage(21 * 2)", { eval: true });
    thread.on("message", resolve);
    thread.on("error", reject);
  });
  return { timer, file, random, shell, worker, node: process.version };
}

(async () => {
  for (;;) {
    const next = await call("GET", "/invocation/next");
    const id = next.headers["lambda-runtime-aws-request-id"];
    await call("POST", `/invocation/${id}/response`, JSON.stringify(await work()));
  }
})();
'''


def spec(code: bytes, *, runtime: str = "python3.11", handler: str = "app.handler") -> FunctionSpec:
    return FunctionSpec(account_id="123456789012", function_name="workload", version="$LATEST", function_arn="arn",
                        runtime=runtime, handler=handler, memory_size=512, timeout=60, ephemeral_storage=512,
                        code_sha256=hashlib.sha256(code).hexdigest(), fingerprint="workload")


def invoke(code: bytes, **spec_options: str) -> InvokeResult:
    results: list[InvokeResult] = []

    async def scenario(executor: LocalExecutor) -> None:
        results.append(await executor.invoke(spec(code, **spec_options), InvokeRequest(
            request_id=str(uuid.uuid4()), payload=b"{}", invoked_function_arn="arn")))

    run_with_executor(scenario, code=code, keep_alive_s=60, generic_pool_size=0)
    return results[0]


@functools.cache
def numpy_zip() -> bytes:
    """numpy from this virtualenv, with the OpenBLAS it links (numpy.libs), as users bundle it."""
    import numpy

    site = Path(numpy.__file__).parent.parent
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:  # stored: 40 MB, zipped in a blink
        for folder in ("numpy", "numpy.libs"):
            for path in (site / folder).rglob("*"):
                if path.is_file() and "__pycache__" not in path.parts and "tests" not in path.parts:
                    archive.write(path, str(path.relative_to(site)))
        archive.writestr("app.py", NUMPY)
    return buffer.getvalue()


def test_threads_subprocesses_and_multiprocessing_together() -> None:
    result = invoke(make_zip({"app.py": TOGETHER}))
    assert result.error_type is None, result.payload
    seen = json.loads(result.payload)
    assert seen["threads"] == [n * n for n in range(8)] and seen["shell"] == "42" and seen["child"] > 2
    assert seen["forked"] == [0, 1, 4, 9, 16] and seen["spawned"] == "from a spawned process" and seen["exit"] == 0
    assert any(name.startswith("sem.") for name in seen["shm"])  # the Lock's semaphore, in /dev/shm


def test_a_c_extension_library_with_threads_of_its_own() -> None:
    result = invoke(numpy_zip())
    assert result.error_type is None, result.payload
    seen = json.loads(result.payload)
    assert seen["version"] == __import__("numpy").__version__ and seen["positive"] is True and seen["trace"] > 0


@pytest.mark.skipif(not Path("/usr/bin/node").exists(), reason="needs Node.js at /usr/bin/node")
def test_node_s_event_loop_in_a_provided_runtime() -> None:
    bootstrap = zipfile.ZipInfo("bootstrap", date_time=(2020, 1, 1, 0, 0, 0))
    bootstrap.external_attr = (stat.S_IFREG | 0o755) << 16
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(bootstrap, "#!/bin/sh\nexec /usr/bin/node /var/task/runtime.js\n")
        archive.writestr("runtime.js", NODE)
    result = invoke(buffer.getvalue(), runtime="provided", handler="unused")
    assert result.error_type is None, (result.payload, result.log)
    seen = json.loads(result.payload)
    assert {key: seen[key] for key in ("timer", "file", "random", "shell", "worker")} == {
        "timer": "fired", "file": "written", "random": 8, "shell": "child", "worker": 42}
