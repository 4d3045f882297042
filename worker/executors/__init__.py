"""The facade of the execution plane: the only module the control plane imports from here.

``executor()`` is this process's executor, built once from ``settings.EXECUTOR`` (a dotted
path, loaded lazily): in the api and worker processes, the client of the executor
process; in tests of the layers above, the in-memory fake. The executor process itself
runs ``settings.EXECUTOR_BACKEND`` (``lambent executor``).
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

from django.conf import settings
from django.utils.module_loading import import_string

from worker.executors.base import (
    UNHANDLED,
    Endpoint,
    Executor,
    ExecutorError,
    ExecutorPlatformError,
    ExecutorUnavailable,
    ExecutorUnreachable,
    FunctionCrashed,
    FunctionError,
    FunctionHandledError,
    FunctionInitError,
    FunctionOutOfMemory,
    FunctionSpec,
    FunctionTimeout,
    InvokeRequest,
    InvokeResult,
    Lease,
    LeaseLost,
    Provision,
    Provisioned,
    SandboxCount,
    SandboxLink,
)

__all__ = [
    "UNHANDLED", "Endpoint", "Executor", "ExecutorError", "ExecutorPlatformError", "ExecutorUnavailable",
    "ExecutorUnreachable", "FunctionCrashed", "FunctionError", "FunctionHandledError", "FunctionInitError",
    "FunctionOutOfMemory", "FunctionSpec", "FunctionTimeout", "InvokeRequest", "InvokeResult", "Lease", "LeaseLost",
    "Provision", "Provisioned", "SandboxCount", "SandboxLink", "executor", "load_backend",
]


def load_backend(dotted_path: str) -> Executor:
    """An executor of the class at ``dotted_path``, configured from the settings."""
    backend: Executor = import_string(dotted_path).from_settings()
    return backend


@functools.cache
def executor() -> Executor:
    return load_backend(str(settings.EXECUTOR))


T = TypeVar("T")
_loops: dict[int, asyncio.AbstractEventLoop] = {}


def run_blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    """Await ``coroutine`` from synchronous code (a worker's task) on this process's own event
    loop, one per process and kept, so the executor client's pooled connections are reused."""
    loop = _loops.get(os.getpid())
    if loop is None:
        loop = _loops[os.getpid()] = asyncio.new_event_loop()
    return loop.run_until_complete(coroutine)
