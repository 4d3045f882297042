"""The ASGI application the ``api`` process serves (``lambent api``).

The APIs, ``/healthz`` and ``/metrics`` go to ``APIHandler`` (no browser middleware, see
``lambent.api.handler``); the admin, the docs' static files and everything else to
Django's standard handler with the full middleware stack.
"""

import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lambent.settings")

django_application = get_asgi_application()

from lambent.api.handler import API_PATHS, APIHandler  # noqa: E402  (needs the apps loaded)

api_application = APIHandler()


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http" and API_PATHS.match(scope["path"]):
        await api_application(scope, receive, send)
    else:
        await django_application(scope, receive, send)
