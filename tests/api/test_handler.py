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


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/2015-03-31/functions", "/2015-03-31/functions/hello/invocations",
                                  "/lambda-code/not-a-token"])
def test_the_lambda_api_is_served_without_the_browser_middleware(path):
    status, headers, _ = get(path)
    assert status in (403, 404, 405)  # unsigned, or no such link: answered by the API handler
    assert b"x-frame-options" not in headers and b"set-cookie" not in headers
    assert headers[b"x-content-type-options"] == b"nosniff"


@pytest.mark.django_db(transaction=True)
def test_invocations_run_django_s_own_steps_on_the_long_lived_threads():
    from django.core.signals import request_started

    from lambent.api import threads

    seen = []

    def record(**_):
        import threading
        seen.append(threading.current_thread().ident)

    request_started.connect(record)
    try:
        for _ in range(threads.THREADS * 2):
            get("/api/v1/functions/hello/invoke")
        for _ in range(3):
            get("/api/v1/functions")
    finally:
        request_started.disconnect(record)
    invoke_threads, other_threads = set(seen[:threads.THREADS * 2]), seen[threads.THREADS * 2:]
    assert len(invoke_threads) <= threads.THREADS  # the same few threads, request after request
    assert not invoke_threads & set(other_threads)  # anything else: a thread of its own
