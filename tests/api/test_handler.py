"""The ASGI application as uvicorn runs it: /api/ without the browser middleware, the rest with it."""

import json

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator

from lambent.asgi import application


async def _call(method, path, host, body=b""):
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", host)], "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": body})
    start = await communicator.receive_output(timeout=10)
    body = await communicator.receive_output(timeout=10)
    return start["status"], {name.lower(): value for name, value in start["headers"]}, body["body"]


def get(path, host=b"127.0.0.1"):
    return async_to_sync(_call)("GET", path, host)


def post(path, body=b"{}", host=b"127.0.0.1"):
    return async_to_sync(_call)("POST", path, host, body)


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
@pytest.mark.parametrize("path", ["/api/v1/functions/hello/invoke", "/2015-03-31/functions/hello/invocations"])
def test_invocations_still_refuse_unknown_hosts(path):
    status, headers, body = post(path, host=b"evil.example")
    assert status == 400
    assert headers[b"content-length"] == str(len(body)).encode()
    assert json.loads(body)["type"] == "InvalidRequestException"


@pytest.mark.django_db(transaction=True)
def test_an_unexpected_error_of_an_invocation_is_a_json_500_with_length_and_nosniff(monkeypatch):
    from lambent.invocations.api import invoke

    def broken(request):
        raise RuntimeError("a bug")

    monkeypatch.setattr(invoke, "invocation_type", broken)
    status, headers, body = post("/api/v1/functions/hello/invoke")
    assert status == 500
    assert headers[b"content-type"] == b"application/json"
    assert headers[b"content-length"] == str(len(body)).encode()
    assert headers[b"x-content-type-options"] == b"nosniff"
    assert "a bug" not in body.decode()


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
def test_invocations_skip_django_s_request_signals():
    from django.core.signals import request_started

    paths = []

    def record(scope, **_):
        paths.append(scope["path"])

    request_started.connect(record)
    try:
        get("/api/v1/functions/hello/invoke")
        get("/2015-03-31/functions/hello/invocations")
        get("/api/v1/functions")
    finally:
        request_started.disconnect(record)
    assert paths == ["/api/v1/functions"]


@pytest.mark.django_db(transaction=True)
def test_a_sync_invocation_served_between_the_lifespan_s_startup_and_shutdown_is_in_the_ledger(
        tenant, create_function, fake_executor):
    from lambent.api import threads
    from lambent.invocations.models import Invocation

    create_function("hello")
    credentials = tenant.credentials
    path = "/api/v1/functions/hello/invoke"
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"127.0.0.1"), (b"authorization",
                          f"Bearer {credentials.access_key_id}:{credentials.secret_access_key}".encode())],
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}

    async def serve():
        lifespan = ApplicationCommunicator(application, {"type": "lifespan", "asgi": {"version": "3.0"}})
        await lifespan.send_input({"type": "lifespan.startup"})
        assert (await lifespan.receive_output(timeout=5))["type"] == "lifespan.startup.complete"
        invocation = ApplicationCommunicator(application, scope)
        await invocation.send_input({"type": "http.request", "body": b'{"n": 1}'})
        start, body = await invocation.receive_output(timeout=10), await invocation.receive_output(timeout=10)
        await lifespan.send_input({"type": "lifespan.shutdown"})
        assert (await lifespan.receive_output(timeout=5))["type"] == "lifespan.shutdown.complete"
        return start, body

    try:
        start, body = async_to_sync(serve)()
    finally:  # the application ran on the api's long-lived database threads, as in production
        async_to_sync(threads.close_connections)()
    assert start["status"] == 200 and json.loads(body["body"]) == {"n": 1}
    request_id = dict(start["headers"])[b"X-Lambent-Request-Id"].decode()
    recorded = Invocation.objects.get(request_id=request_id)
    assert (recorded.status, recorded.function_name, recorded.executed_version) == ("succeeded", "hello", "$LATEST")
