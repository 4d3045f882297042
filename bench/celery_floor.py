"""The floor of the asynchronous figures: a bare Celery no-op task over the platform's own Redis.

The app is configured as the platform's Celery is (``lambent.settings``, the ``CELERY_*``
names): late acknowledgement, a prefetch of one, the same broker transport options, and
a prefork worker of the same concurrency without gossip, mingle or heartbeats, logging at
the same level as the bench runs the platform's worker. It adds a result backend in the
same Redis, so that the client hears when a task is done. Its queue, ``QUEUE``, is its
own: the platform's worker consumes only ``celery`` and this one only ``QUEUE``, so
neither ever takes the other's messages.

The broker is given when the worker starts (``CeleryFloor``), never read at import: the
worker subprocess, which imports this module as its app, gets it on its command line.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from celery import Celery

QUEUE = "bench-floor"
ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 60

app = Celery("bench_floor")
app.conf.update(
    task_default_queue=QUEUE,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    broker_transport_options={"socket_timeout": 2, "socket_connect_timeout": 2, "visibility_timeout": 3600},
    result_expires=600,
)


@app.task(name="bench.noop", acks_late=True)  # type: ignore[untyped-decorator]
def noop() -> float:
    """Nothing, but the moment it ran (``time.time()``): where the floor's latency ends."""
    return time.time()


@dataclass(frozen=True)
class RoundTrips:
    done_ms: list[float]
    """From just before ``delay()`` to the end of the task, by the task's own clock."""
    heard_ms: list[float]
    """From just before ``delay()`` to ``get()`` returning its result."""


class CeleryFloor:
    """The floor's worker, a subprocess, for the duration of the block."""

    def __init__(self, *, redis_socket: Path, log: Path, concurrency: int) -> None:
        self.url = f"redis+socket://{redis_socket}"
        self.log = log
        self.concurrency = concurrency
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> CeleryFloor:
        app.conf.update(broker_url=self.url, result_backend=self.url)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "bench.celery_floor", "-b", self.url,
                 "--result-backend", self.url, "worker", f"--concurrency={self.concurrency}", "--pool=prefork",
                 "--loglevel=INFO", f"--queues={QUEUE}", "--hostname=bench-floor@%h",
                 "--without-gossip", "--without-mingle", "--without-heartbeat"],
                cwd=ROOT, stdout=log, stderr=log)
        deadline = time.monotonic() + START_TIMEOUT_S
        while " ready." not in self.log.read_text(errors="replace"):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.__exit__()
                raise RuntimeError(f"the Celery floor's worker did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def round_trips(self, *, count: int, warmup: int = 20) -> RoundTrips:
        """``count`` no-op tasks one after the other, each waited for before the next."""
        done, heard = [], []
        for number in range(warmup + count):
            started = time.time()
            finished = noop.delay().get(timeout=30)
            if number >= warmup:
                heard.append((time.time() - started) * 1000)
                done.append((finished - started) * 1000)
        return RoundTrips(done_ms=done, heard_ms=heard)

    def burst(self, *, count: int) -> tuple[float, float]:
        """``count`` no-op tasks sent at once: (tasks per second from the first send to the last
        task's end, seconds the sending took)."""
        started = time.time()
        results = [noop.delay() for _ in range(count)]
        sent = time.time() - started
        finished = max(result.get(timeout=120) for result in results)
        return count / (finished - started), sent
