"""The ASGI application the ``api`` process serves (``lambent api``).

The APIs, ``/healthz`` and ``/metrics`` go to ``APIHandler`` (no browser middleware, see
``lambent.api.handler``); the admin, the docs' static files and everything else to
Django's standard handler with the full middleware stack. The lifespan runs the ledger's
batch writer (``lambent.invocations.ledger_writer``) while the process serves, and gives back
the concurrency slots the process kept (``lambent.quotas.slots``) when it stops.
"""

import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lambent.settings")

django_application = get_asgi_application()

from lambent.api.handler import API_PATHS, APIHandler  # noqa: E402  (needs the apps loaded)
from lambent.invocations import ledger_writer  # noqa: E402
from lambent.quotas import slots  # noqa: E402

api_application = APIHandler()


async def lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            ledger_writer.start()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await ledger_writer.stop()
            await slots.keeper.give_back_idle()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
    elif scope["type"] == "http" and API_PATHS.match(scope["path"]):
        await api_application(scope, receive, send)
    else:
        await django_application(scope, receive, send)
