"""``/``: where a newcomer's first request lands, so it says where everything is instead of a 404."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

import lambent


def root(request: HttpRequest) -> JsonResponse:
    return JsonResponse({
        "name": "Lambent",
        "version": lambent.__version__,
        "api": "/api/v1",
        "schema": "/api/v1/schema",
        "docs": "/api/v1/docs",
        "lambda_api": "/2015-03-31/functions",
        "admin": "/admin/",
        "health": "/healthz",
    })
