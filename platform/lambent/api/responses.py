"""A response with a step to run once it has been sent.

Django calls a response's ``close()`` after sending it, whichever way it was served: its
ASGI and WSGI handlers, the test client, and the invoke path's ``APIHandler``. ``ResponseThen``
runs its step there, so work the caller need not wait for (writing an invocation's ledger row)
happens after the caller has its answer, yet before the request is done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.http import HttpResponse

logger = logging.getLogger(__name__)


class ResponseThen(HttpResponse):
    def __init__(self, *args: Any, then: Callable[[], object], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._then: Callable[[], object] | None = then

    def close(self) -> None:
        then, self._then = self._then, None
        try:
            if then is not None:
                then()
        except Exception:  # the caller has its answer: the failure is the operator's to see
            logger.exception("a step after the response failed")
        finally:
            super().close()
