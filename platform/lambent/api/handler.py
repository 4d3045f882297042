"""The ASGI handler of the APIs (the native ``/api/``, the Lambda API's dated paths and its code
links), ``/healthz`` and ``/metrics``: Django without the browser middleware.

Under ASGI, each of Django's classic middlewares (sessions, authentication, messages,
CSRF, ...) runs its hooks in Django's sync thread: two thread hops per middleware per
request, about 0.3 ms each here, some 5 ms per request in all. The API authenticates
with access keys and sets no cookies, so it needs none of them; it gets one async-native
middleware instead, which does what ``CommonMiddleware`` did for it (validate the Host
header against ``ALLOWED_HOSTS``, set ``Content-Length``) and marks responses ``nosniff``.
Invocations (``INVOKE_PATHS``) run Django's own sync steps on the long-lived database threads
(``lambent.api.threads.shared_threads``) instead of on a thread made for the request.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponseBase, JsonResponse

from lambent.api.threads import shared_threads

Handler = Callable[[HttpRequest], Awaitable[HttpResponseBase]]

#: Paths this handler serves; everything else goes through Django's full middleware stack.
API_PATHS = re.compile(r"^/(?:api/|healthz$|metrics$|lambda-code/|\d{4}-\d{2}-\d{2}/)")
#: The invoke paths of both APIs: the hot path.
INVOKE_PATHS = re.compile(r"^/(?:api/v1/functions/[^/]+/invoke|2015-03-31/functions/[^/]+/invocations"
                          r"|2014-11-13/functions/[^/]+/invoke-async)/?$")


def api_middleware(get_response: Handler) -> Handler:
    async def middleware(request: HttpRequest) -> HttpResponseBase:
        try:
            request.get_host()
        except DisallowedHost as exc:
            return JsonResponse({"type": "InvalidRequestException", "message": str(exc)}, status=400)
        response = await get_response(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if not response.streaming and "Content-Length" not in response:
            response["Content-Length"] = str(len(response.content))  # type: ignore[attr-defined]
        return response

    return middleware


class APIHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        # Django's own attributes, as BaseHandler.load_middleware leaves them without middleware.
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        inner = convert_exception_to_response(self._get_response_async)  # type: ignore[attr-defined]
        self._middleware_chain = convert_exception_to_response(api_middleware(inner))  # type: ignore[arg-type]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and INVOKE_PATHS.match(scope["path"]):
            with shared_threads():
                await self.handle(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)
