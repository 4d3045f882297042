"""Which operation a request is: botocore's method and dated path for each Lambda operation.

The operation modules register their handlers with ``@operation``; every other operation of
the Lambda API is listed in ``UNSUPPORTED``, so a client calling one is told which operation
this installation does not offer instead of meeting a 404 page (a test holds the two lists
to botocore's model). A handler takes a ``protocol.Call`` and returns a response; synchronous
handlers run on the database threads, asynchronous ones (Invoke) on the event loop.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_LABEL = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Route:
    operation: str
    method: str
    pattern: re.Pattern[str]
    query: tuple[str, str] | None  # a query parameter the path needs to mean this operation
    handler: Callable[..., Any] | None  # None: not supported here
    asynchronous: bool  # the handler is a coroutine function (an invocation)


ROUTES: list[Route] = []
#: Every route, supported or not, those that need a query parameter first: the order ``match`` tries.
_MATCH_ORDER: list[Route] = []


def _add(route: Route) -> None:
    if route.query is not None:
        _MATCH_ORDER.insert(0, route)
    else:
        _MATCH_ORDER.append(route)


def _route(operation: str, method: str, uri: str, handler: Callable[..., Any] | None) -> Route:
    path, _, query = uri.partition("?")
    regex = _LABEL.sub(lambda match: f"(?P<{match[1]}>[^/]+)", re.escape(path).replace(r"\{", "{").replace(
        r"\}", "}"))
    key, _, value = query.partition("=")
    return Route(operation=operation, method=method, pattern=re.compile(f"^{regex}/?$"),
                 query=(key, value) if query else None, handler=handler,
                 asynchronous=handler is not None and inspect.iscoroutinefunction(handler))


def operation(name: str, method: str, uri: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated function as the handler of operation ``name``."""
    def register(handler: Callable[..., Any]) -> Callable[..., Any]:
        route = _route(name, method, uri, handler)
        ROUTES.append(route)
        _add(route)
        return handler
    return register


def match(method: str, path: str, query: Mapping[str, str]) -> tuple[Route, dict[str, str]] | None:
    """The route of the request, and its path's labels; routes that need a query parameter first."""
    for route in _MATCH_ORDER:
        if route.method != method:
            continue
        found = route.pattern.match(path)
        if found is None:
            continue
        if route.query is not None and query.get(route.query[0]) != route.query[1]:
            continue
        return route, found.groupdict()
    return None


#: The Lambda API's other operations: method and path as botocore sends them.
UNSUPPORTED: tuple[tuple[str, str, str], ...] = (
    ("AddLayerVersionPermission", "POST", "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy"),
    ("CheckpointDurableExecution", "POST", "/2025-12-01/durable-executions/{DurableExecutionArn}/checkpoint"),
    ("CreateCapacityProvider", "POST", "/2025-11-30/capacity-providers"),
    ("CreateCodeSigningConfig", "POST", "/2020-04-22/code-signing-configs"),
    ("CreateEventSourceMapping", "POST", "/2015-03-31/event-source-mappings"),
    ("CreateFunctionUrlConfig", "POST", "/2021-10-31/functions/{FunctionName}/url"),
    ("DeleteCapacityProvider", "DELETE", "/2025-11-30/capacity-providers/{CapacityProviderName}"),
    ("DeleteCodeSigningConfig", "DELETE", "/2020-04-22/code-signing-configs/{CodeSigningConfigArn}"),
    ("DeleteDurableExecution", "DELETE", "/2025-12-01/durable-executions/{DurableExecutionArn}"),
    ("DeleteEventSourceMapping", "DELETE", "/2015-03-31/event-source-mappings/{UUID}"),
    ("DeleteFunctionCodeSigningConfig", "DELETE", "/2020-06-30/functions/{FunctionName}/code-signing-config"),
    ("DeleteFunctionUrlConfig", "DELETE", "/2021-10-31/functions/{FunctionName}/url"),
    ("DeleteLayerVersion", "DELETE", "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}"),
    ("DeleteResourcePolicy", "DELETE", "/2026-07-09/resource-policy/{ResourceArn}"),
    ("GetCapacityProvider", "GET", "/2025-11-30/capacity-providers/{CapacityProviderName}"),
    ("GetCodeSigningConfig", "GET", "/2020-04-22/code-signing-configs/{CodeSigningConfigArn}"),
    ("GetDurableExecution", "GET", "/2025-12-01/durable-executions/{DurableExecutionArn}"),
    ("GetDurableExecutionHistory", "GET", "/2025-12-01/durable-executions/{DurableExecutionArn}/history"),
    ("GetDurableExecutionState", "GET", "/2025-12-01/durable-executions/{DurableExecutionArn}/state"),
    ("GetFunctionScalingConfig", "GET", "/2025-11-30/functions/{FunctionName}/function-scaling-config"),
    ("GetLayerVersionByArn", "GET", "/2018-10-31/layers?find=LayerVersion"),
    ("GetLayerVersionPolicy", "GET", "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy"),
    ("GetResourcePolicy", "GET", "/2026-07-09/resource-policy/{ResourceArn}"),
    ("InvokeWithResponseStream", "POST", "/2021-11-15/functions/{FunctionName}/response-streaming-invocations"),
    ("ListCapacityProviders", "GET", "/2025-11-30/capacity-providers"),
    ("ListDurableExecutionsByFunction", "GET", "/2025-12-01/functions/{FunctionName}/durable-executions"),
    ("ListFunctionVersionsByCapacityProvider", "GET",
     "/2025-11-30/capacity-providers/{CapacityProviderName}/function-versions"),
    ("ListFunctionsByCodeSigningConfig", "GET", "/2020-04-22/code-signing-configs/{CodeSigningConfigArn}/functions"),
    ("PauseDurableExecution", "POST", "/2025-12-01/durable-executions/{DurableExecutionArn}/pause"),
    ("PublishLayerVersion", "POST", "/2018-10-31/layers/{LayerName}/versions"),
    ("PutFunctionCodeSigningConfig", "PUT", "/2020-06-30/functions/{FunctionName}/code-signing-config"),
    ("PutFunctionScalingConfig", "PUT", "/2025-11-30/functions/{FunctionName}/function-scaling-config"),
    ("PutResourcePolicy", "PUT", "/2026-07-09/resource-policy/{ResourceArn}"),
    ("PutRuntimeManagementConfig", "PUT", "/2021-07-20/functions/{FunctionName}/runtime-management-config"),
    ("RemoveLayerVersionPermission", "DELETE",
     "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy/{StatementId}"),
    ("ResumeDurableExecution", "POST", "/2025-12-01/durable-executions/{DurableExecutionArn}/resume"),
    ("SendDurableExecutionCallbackFailure", "POST", "/2025-12-01/durable-execution-callbacks/{CallbackId}/fail"),
    ("SendDurableExecutionCallbackHeartbeat", "POST",
     "/2025-12-01/durable-execution-callbacks/{CallbackId}/heartbeat"),
    ("SendDurableExecutionCallbackSuccess", "POST", "/2025-12-01/durable-execution-callbacks/{CallbackId}/succeed"),
    ("StopDurableExecution", "POST", "/2025-12-01/durable-executions/{DurableExecutionArn}/stop"),
    ("UpdateCapacityProvider", "PUT", "/2025-11-30/capacity-providers/{CapacityProviderName}"),
    ("UpdateCodeSigningConfig", "PUT", "/2020-04-22/code-signing-configs/{CodeSigningConfigArn}"),
    ("UpdateEventSourceMapping", "PUT", "/2015-03-31/event-source-mappings/{UUID}"),
    ("UpdateFunctionUrlConfig", "PUT", "/2021-10-31/functions/{FunctionName}/url"),
)

_UNSUPPORTED_ROUTES = [_route(name, method, uri, None) for name, method, uri in UNSUPPORTED]
for _unsupported in _UNSUPPORTED_ROUTES:
    _add(_unsupported)
