"""The ASGI handler of the APIs (the native ``/api/``, the Lambda API's dated paths and its code
links, the Scheduler API's ``/schedules`` and ``/schedule-groups``), ``/healthz`` and ``/metrics``:
Django without the browser middleware.

Under ASGI, each of Django's classic middlewares (sessions, authentication, messages,
CSRF, ...) runs its hooks in Django's sync thread: two thread hops per middleware per
request, about 0.3 ms each here, some 5 ms per request in all. The API authenticates
with access keys and sets no cookies, so it needs none of them; it gets one async-native
middleware instead, which does what ``CommonMiddleware`` did for it (validate the Host
header against ``ALLOWED_HOSTS``, set ``Content-Length``) and marks responses ``nosniff``.
Invocations (``INVOKE_PATHS``) take a leaner way through (``APIHandler.handle_invocation``).

Two refusals happen here, before any view, in the shape of the API the path belongs to (the
Lambda API's for its dated paths, the Scheduler API's for its own): a body over
``DATA_UPLOAD_MAX_MEMORY_SIZE`` is a 413 as soon as its ``Content-Length`` or its bytes say so (it
is never spooled to disk whole), and a NUL character in the path or the query is a 400 (no name
holds one, and PostgreSQL refuses to compare text with it).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import DisallowedHost, RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.exception import convert_exception_to_response, response_for_exception
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.urls import ResolverMatch, get_resolver, set_script_prefix

from lambent import errors
from lambent.events.scheduler_api import protocol as scheduler_protocol
from lambent.lambda_api.protocol import Call, error_response

Handler = Callable[[HttpRequest], Awaitable[HttpResponseBase]]

#: Paths this handler serves; everything else goes through Django's full middleware stack.
API_PATHS = re.compile(r"^/(?:api/|healthz$|metrics$|lambda-code/|\d{4}-\d{2}-\d{2}/"
                       r"|(?:schedules|schedule-groups|tags)(?:/|$))")
#: The invoke paths of both APIs: the hot path.
INVOKE_PATHS = re.compile(r"^/(?:api/v1/functions/[^/]+/invoke|2015-03-31/functions/[^/]+/invocations"
                          r"|2014-11-13/functions/[^/]+/invoke-async)/?$")
#: The Lambda API's paths: its errors keep Lambda's shape.
LAMBDA_PATHS = re.compile(r"^/\d{4}-\d{2}-\d{2}/")
#: The Scheduler API's paths: its errors keep Scheduler's shape.
SCHEDULER_PATHS = re.compile(r"^/(?:schedules|schedule-groups|tags)(?:/|$)")


class _BodyTooLarge(Exception):
    """The request body grew past the limit while it was read."""


@functools.lru_cache(maxsize=4096)
def _resolve(path: str) -> ResolverMatch:
    return get_resolver().resolve(path)  # a path that resolves to nothing raises, and is not remembered


def api_middleware(get_response: Handler) -> Handler:
    async def middleware(request: HttpRequest) -> HttpResponseBase:
        try:
            request.get_host()
        except DisallowedHost as exc:
            return _finished(_disallowed(exc))
        return _finished(await get_response(request))

    return middleware


class APIHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        # Django's own attributes, as BaseHandler.load_middleware leaves them without middleware.
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        inner = convert_exception_to_response(self._get_response_async)  # type: ignore[attr-defined]
        self._middleware_chain = convert_exception_to_response(api_middleware(inner))  # type: ignore[arg-type]

    def resolve_request(self, request: HttpRequest) -> ResolverMatch:
        """As Django's, remembering the match of the last few thousand paths: invocations name the
        same few again and again, and resolving each afresh was a tenth of the api's CPU per invoke."""
        match = _resolve(request.path_info)
        request.resolver_match = match
        return match

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        refusal = _refusal(scope)
        if refusal is not None:
            await self.send_response(_answer(scope, refusal), send)
            return
        try:
            if INVOKE_PATHS.match(scope["path"]):
                await self.handle_invocation(scope, receive, send)
            else:
                await super().__call__(scope, receive, send)
        except _BodyTooLarge:
            await self.send_response(_answer(scope, _too_large()), send)

    async def read_body(self, receive: Any) -> Any:
        """As Django's, up to ``DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes."""
        limit, received = settings.DATA_UPLOAD_MAX_MEMORY_SIZE, 0

        async def counted() -> Any:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise _BodyTooLarge()
            return message

        return await super().read_body(counted)

    async def handle_invocation(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Django's ``handle`` without what an invocation does not need (some 0.3 ms of CPU here):
        the ``request_started`` and ``request_finished`` signals, each a hop to a sync thread
        (their receivers check the database connections, which ``on_database_thread`` does
        before each use); the middleware chain and the view resolver (the view is the path's,
        called as the chain would, its exceptions answered as the chain answers them); the
        response's chunking (it is sent in one message); and the task listening for a
        disconnect, so a client that hangs up does not cancel an invocation that has started:
        it runs to its end and is recorded, as in Lambda."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            set_script_prefix(get_script_prefix(scope))
            request, refused = self.create_request(scope, body_file)
            response = await _invoked(request) if request is not None else refused
            assert response is not None  # Django's create_request gives one or the other
            await _send_whole(response, send)
        finally:
            body_file.close()


async def _invoked(request: HttpRequest) -> HttpResponseBase:
    """The invoke view's response to ``request``, as the API's middleware chain would give it."""
    try:
        request.get_host()
    except DisallowedHost as exc:
        return _finished(_disallowed(exc))
    try:
        match = _resolve(request.path_info)
        request.resolver_match = match
        response = await match.func(request, *match.args, **match.kwargs)
    except Exception as exc:  # noqa: BLE001 - as convert_exception_to_response answers it (logged, JSON)
        response = await sync_to_async(response_for_exception, thread_sensitive=False)(request, exc)
    return _finished(response)


def _disallowed(exc: DisallowedHost) -> HttpResponseBase:
    return JsonResponse({"type": "InvalidRequestException", "message": str(exc)}, status=400)


def _finished(response: HttpResponseBase) -> HttpResponseBase:
    """What the API's middleware does to every response."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if response.status_code == 204:  # no content, so no type of content (Django gives every response one)
        response.headers.pop("Content-Type", None)
    if not response.streaming and "Content-Length" not in response:
        response["Content-Length"] = str(len(response.content))  # type: ignore[attr-defined]
    return response


async def _send_whole(response: HttpResponseBase, send: Any) -> None:
    """A response without cookies or streaming, in one ASGI body message; any other as Django sends it."""
    if response.streaming or response.cookies:
        await APIHandler.send_response(None, response, send)  # type: ignore[arg-type]  # uses no state
        return
    headers = [(name.encode("ascii"), value.encode("latin-1")) for name, value in response.items()]
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": response.content})  # type: ignore[attr-defined]


def _refusal(scope: dict[str, Any]) -> errors.UserError | None:
    """Why the request is refused before it is read, if it is."""
    if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
        return errors.InvalidParameter("The path and the query may not hold a NUL character (%00).")
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            if not value.isdigit():
                return errors.UserError("Content-Length must be a number of bytes.")
            if int(value) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
                return _too_large()
    return None


def _too_large() -> errors.RequestTooLarge:
    return errors.RequestTooLarge(f"Request must be smaller than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.")


def _answer(scope: dict[str, Any], refusal: errors.UserError) -> HttpResponseBase:
    """The refusal in the shape of the API the path belongs to."""
    if LAMBDA_PATHS.match(scope["path"]):
        return error_response(refusal, request_id=Call.new_request_id())
    if SCHEDULER_PATHS.match(scope["path"]):
        return scheduler_protocol.error_response(refusal, request_id=scheduler_protocol.new_request_id())
    return JsonResponse({"type": refusal.error_type, "message": refusal.message}, status=refusal.status_code)
