"""An invocation's log in Lambda's format: the function's output between START and END,
then a REPORT line with the costs, tab-separated as CloudWatch shows it."""

from __future__ import annotations

import base64

#: What ``?log=tail`` returns, as Lambda's ``LogType=Tail``.
TAIL_BYTES = 4096


def lambda_log(
    *,
    request_id: str,
    version: str,
    output: str,
    duration_ms: float,
    billed_duration_ms: int,
    memory_size: int,
    max_memory_used_mb: int,
    init_duration_ms: float | None,
) -> str:
    report = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\tBilled Duration: {billed_duration_ms} ms\t"
        f"Memory Size: {memory_size} MB\tMax Memory Used: {max_memory_used_mb} MB\t"
    )
    if init_duration_ms is not None:
        report += f"Init Duration: {init_duration_ms:.2f} ms\t"
    body = output if not output or output.endswith("\n") else output + "\n"
    return f"START RequestId: {request_id} Version: {version}\n{body}END RequestId: {request_id}\n{report}\n"


def tail_base64(log: str) -> str:
    """The last ``TAIL_BYTES`` bytes of the log, base64-encoded, for a response header."""
    return base64.b64encode(log.encode()[-TAIL_BYTES:]).decode()
