"""The platform's side of an agent on TCP, as the tests of a pod's or a container's agent speak it."""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Callable

from runtimes.agent import protocol


def attach(port: int, key: str, *, waiting: Callable[[], None] = lambda: None, timeout: float = 30) -> socket.socket:
    """The platform's connection to the agent on the loopback ``port``, its attach frame sent, once it
    listens; ``waiting`` is called while it does not, and raises once it never will."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        except ConnectionRefusedError:
            assert time.monotonic() < deadline, "the agent does not listen"
            waiting()
            time.sleep(0.05)
            continue
        protocol.send(sock, {"op": "attach", "key": key})
        return sock


def init_frame(runtime: str = "python3.11") -> dict:
    return {"op": "init", "runtime": runtime, "handler": "app.handler", "function_name": "f",
            "function_version": "1", "memory_size": 128, "environment": {}, "log_group_name": "/aws/lambda/f",
            "log_stream_name": "s", "region": "eu-west-3", "initialization_type": "on-demand"}


def invoke_frame(event: object) -> tuple[dict, bytes]:
    header = {"op": "invoke", "request_id": str(uuid.uuid4()), "deadline_ms": int(time.time() * 1000) + 30_000,
              "invoked_function_arn": "arn:aws:lambda:eu-west-3:000000000000:function:f", "trace_id": None,
              "client_context": None, "cognito_identity": None}
    return header, json.dumps(event).encode()
