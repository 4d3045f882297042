"""The ASGI application as uvicorn runs it: /api/ without the browser middleware, the rest with it."""

import json

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator

from lambent.asgi import application


async def _get(path, host):
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", host)], "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(timeout=10)
    body = await communicator.receive_output(timeout=10)
    return start["status"], {name.lower(): value for name, value in start["headers"]}, body["body"]


def get(path, host=b"127.0.0.1"):
    return async_to_sync(_get)(path, host)


@pytest.mark.django_db(transaction=True)
def test_api_paths_answer_with_length_and_nosniff():
    status, headers, body = get("/healthz")
    assert status == 200 and json.loads(body) == {"status": "ok"}
    assert headers[b"content-length"] == str(len(body)).encode()
    assert headers[b"x-content-type-options"] == b"nosniff"
    assert b"set-cookie" not in headers


@pytest.mark.django_db(transaction=True)
def test_api_paths_still_refuse_unknown_hosts():
    status, _, body = get("/api/v1/functions", host=b"evil.example")
    assert status == 400
    assert json.loads(body)["type"] == "InvalidRequestException"


@pytest.mark.django_db(transaction=True)
def test_admin_keeps_the_full_middleware_stack():
    status, headers, _ = get("/admin/login/")
    assert status == 200
    assert b"set-cookie" in headers  # the CSRF cookie: CsrfViewMiddleware ran
    assert headers[b"x-frame-options"] == b"DENY"
