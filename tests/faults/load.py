"""Asynchronous invocations sent the whole time a fault comes and goes, by a few clients at once,
each answer kept with its latency; then a checker over the ledger, the destination records and
what the function itself did."""

from __future__ import annotations

import json
import statistics
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from lambent.invocations.models import Attempt, AttemptOutcome, Invocation, InvocationStatus
from lambent.queues.models import Message
from tests.faults.stack import Stack


@dataclass(frozen=True)
class Answer:
    tag: str
    status: int
    request_id: str | None
    sent_at: float  # time.time()
    latency_s: float


class Load:
    """``clients`` threads, each sending one event every ``interval`` seconds until ``stop()``."""

    def __init__(self, stack: Stack, *, function: str, key: str, clients: int = 4, interval: float = 0.2) -> None:
        self.answers: list[Answer] = []
        self._stack, self._function, self._key, self._interval = stack, function, key, interval
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._send_until_stopped, daemon=True) for _ in range(clients)]

    def start(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _send_until_stopped(self) -> None:
        while not self._stopping.is_set():
            tag = uuid.uuid4().hex
            sent_at, started = time.time(), time.monotonic()
            try:
                status, body = self._stack.request("POST", f"/api/v1/functions/{self._function}/invoke?type=event",
                                                   {"tag": tag}, key=self._key, timeout=60)
            except OSError:
                status, body = 0, {}
            answer = Answer(tag=tag, status=status, request_id=body.get("request_id") if status == 202 else None,
                            sent_at=sent_at, latency_s=time.monotonic() - started)
            with self._lock:
                self.answers.append(answer)
            self._stopping.wait(self._interval)

    @property
    def accepted(self) -> list[Answer]:
        return [answer for answer in self.answers if answer.status == 202]

    @property
    def refused(self) -> list[Answer]:
        return [answer for answer in self.answers if answer.status != 202]


@dataclass(frozen=True)
class Run:
    """One run of the function, as it noted it: ``end`` is None when it never finished."""

    request_id: str
    tag: str
    start: float
    end: float | None


def runs(path: Path) -> dict[str, list[Run]]:
    """The function's runs by request id, each in the order it started."""
    started: dict[str, tuple[str, str, float]] = {}
    ended: dict[str, float] = {}
    for line in path.read_text().splitlines():
        what, request_id, run, moment, tag = line.split()
        if what == "start":
            started[run] = (request_id, tag, float(moment))
        else:
            ended[run] = float(moment)
    found: dict[str, list[Run]] = defaultdict(list)
    for run, (request_id, tag, start) in started.items():
        found[request_id].append(Run(request_id=request_id, tag=tag, start=start, end=ended.get(run)))
    return {request_id: sorted(each, key=lambda run: run.start) for request_id, each in found.items()}


ENDED = (InvocationStatus.SUCCEEDED, InvocationStatus.FAILED)


def wait_until_ended(request_ids: list[str], *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not Invocation.objects.filter(request_id__in=request_ids).exclude(status__in=ENDED).exists():
            return True
        time.sleep(0.25)
    return False


@dataclass
class Report:
    """What a fault did to the invocations sent through it."""

    fault: str
    accepted: int
    refused: int
    lost: int = 0
    two_terminal_records: int = 0
    overlapping_runs: int = 0
    rerun_after_an_ended_attempt: int = 0
    refused_but_ran: int = 0
    worker_lost_records: int = 0
    platform_error_attempts: int = 0
    slots_held: int = 0
    not_ended_within_s: float = 0.0
    refused_latency_max_s: float = 0.0
    refused_latency_p50_s: float = 0.0
    accepted_latency_max_s: float = 0.0
    resumed_after_s: float | None = None
    drained_after_s: float | None = None
    slowest_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def violations(self) -> int:
        return (self.lost + self.two_terminal_records + self.overlapping_runs + self.rerun_after_an_ended_attempt
                + self.refused_but_ran + self.slots_held)

    def line(self) -> str:
        resumed = "-" if self.resumed_after_s is None else f"{self.resumed_after_s:.1f}"
        drained = "-" if self.drained_after_s is None else f"{self.drained_after_s:.1f}"
        return (f"| {self.fault} | {self.accepted} | {self.refused} | {self.refused_latency_p50_s:.2f} / "
                f"{self.refused_latency_max_s:.2f} | {self.accepted_latency_max_s:.2f} | {resumed} | {drained} | "
                f"{self.slowest_s:.1f} | {self.lost} | {self.two_terminal_records} | {self.overlapping_runs} | "
                f"{self.rerun_after_an_ended_attempt} | {self.refused_but_ran} | {self.worker_lost_records} | "
                f"{self.platform_error_attempts} |")


HEADER = ("| fault | accepted | 503 | 503 latency p50 / max (s) | 202 latency max (s) | resumed after (s) | "
          "drained after (s) | slowest event (s) | lost | two terminal records | overlapping runs | "
          "rerun after an ended attempt | 503 that ran | WorkerLost recorded | platform-error attempts |")


def check(*, fault: str, load: Load, stack: Stack, success_queue: str, fault_ended_at: float,
          load_ended_at: float, allowed_rerun: tuple[float, float] | None = None) -> Report:
    """Count every violation of what asynchronous invocations promise.

    ``allowed_rerun`` is the moment (start, end) of a fault that killed the processes running
    attempts: a run in flight then may run again, as at-least-once allows; any other event that
    ran again after a run of it had ended is a violation.
    """
    accepted = {answer.request_id: answer for answer in load.accepted if answer.request_id}
    refused_tags = {answer.tag for answer in load.refused}
    report = Report(fault=fault, accepted=len(accepted), refused=len(load.refused))
    refused_latencies = [answer.latency_s for answer in load.refused]
    if refused_latencies:
        report.refused_latency_max_s = max(refused_latencies)
        report.refused_latency_p50_s = statistics.median(refused_latencies)
    report.accepted_latency_max_s = max((answer.latency_s for answer in load.accepted), default=0.0)

    ledger = {str(row.request_id): row for row in Invocation.objects.filter(request_id__in=list(accepted))}
    report.lost = sum(1 for request_id in accepted if request_id not in ledger
                      or ledger[request_id].status not in ENDED)
    finished = [row.finished_at.timestamp() for row in ledger.values() if row.finished_at]
    after_fault = [moment for moment in finished if moment >= fault_ended_at]
    if after_fault:
        report.resumed_after_s = min(after_fault) - fault_ended_at
        report.drained_after_s = max(finished) - load_ended_at
    report.slowest_s = max((row.finished_at.timestamp() - max(accepted[request_id].sent_at, fault_ended_at)
                            for request_id, row in ledger.items() if row.finished_at), default=0.0)

    records: dict[str, int] = defaultdict(int)
    for message in Message.objects.filter(queue__name=success_queue):
        records[json.loads(message.body)["requestContext"]["requestId"]] += 1
    report.two_terminal_records = sum(1 for count in records.values() if count > 1)

    attempts = Attempt.objects.filter(invocation__request_id__in=list(accepted))
    report.worker_lost_records = attempts.filter(error_type="Lambent.WorkerLost").count()
    report.platform_error_attempts = attempts.filter(outcome=AttemptOutcome.PLATFORM_ERROR).count()
    report.slots_held = stack.slots_held()
    for lost in attempts.filter(error_type="Lambent.WorkerLost").select_related("invocation"):
        history = ", ".join(f"#{attempt.number} {attempt.outcome} {attempt.error_type} "
                            f"{attempt.started_at:%H:%M:%S.%f}-{attempt.finished_at:%H:%M:%S.%f}"
                            for attempt in lost.invocation.attempts.all())
        report.notes.append(f"{lost.invocation.request_id}: {history}")

    every_run = runs(stack.side_effects)
    report.refused_but_ran = sum(1 for each in every_run.values() for run in each if run.tag in refused_tags)
    for request_id, each in every_run.items():
        for before, after in zip(each, each[1:], strict=False):
            if before.end is None or after.start < before.end:
                if before.end is not None:
                    report.overlapping_runs += 1
                    report.notes.append(f"{request_id}: runs overlap")
                continue
            in_flight_when_killed = allowed_rerun is not None and before.start < allowed_rerun[1] \
                and before.end > allowed_rerun[0] - 1.0
            if not in_flight_when_killed:
                report.rerun_after_an_ended_attempt += 1
                report.notes.append(f"{request_id}: ran again after a run that ended at {before.end:.3f}")
    return report
