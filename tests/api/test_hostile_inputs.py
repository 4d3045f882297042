"""Hostile and malformed requests against a real ``lambent api`` (uvicorn, the API handler, the
views): every one is answered with a JSON 4xx in the API's own shape, or succeeds; none is a 5xx
or an HTML page. The reproductions of issue 12 are among them."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from lambent.jsonbody import MAX_DEPTH
from tests.conftest import b64, make_zip
from tests.processes import platform_env, start_api

pytestmark = pytest.mark.django_db(transaction=True)

DEEP = ("[" * 1000 + "]" * 1000).encode()


@pytest.fixture(scope="module")
def endpoint(django_db_setup: None, django_db_blocker: Any) -> Iterator[tuple[str, int]]:
    with django_db_blocker.unblock():
        env = platform_env()
    process, base = start_api(env)
    parts = urlsplit(base)
    yield parts.hostname or "127.0.0.1", parts.port or 80
    process.stop()


@pytest.fixture
def call(endpoint: tuple[str, int], tenant: Any) -> Any:
    credentials = tenant.credentials
    bearer = f"Bearer {credentials.access_key_id}:{credentials.secret_access_key}"

    def request(method: str, path: str, body: bytes | None = None, *, headers: dict[str, str] | None = None,
                auth: bool = True) -> tuple[int, dict[str, str], Any]:
        connection = http.client.HTTPConnection(*endpoint, timeout=60)
        sent = {"Content-Type": "application/json", **({"Authorization": bearer} if auth else {}), **(headers or {})}
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        raw = response.read()
        received = {name.lower(): value for name, value in response.getheaders()}
        connection.close()
        if response.status == 204:
            assert not raw and "content-type" not in received
            return response.status, received, None
        assert received.get("content-type", "").startswith("application/json"), (response.status, raw[:300])
        return response.status, received, json.loads(raw)

    return request


@pytest.fixture
def hello(call: Any) -> None:
    status, _, body = call("POST", "/api/v1/functions", json.dumps(
        {"name": "hello", "runtime": "python3.11", "handler": "app.handler", "zip_file": b64(make_zip())}).encode())
    assert status == 201, body


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/api/v1/functions/hello/invoke"), ("PATCH", "/api/v1/functions/hello"), ("POST", "/api/v1/queues"),
    ("POST", "/api/v1/functions/hello/invoke?type=Event"), ("POST", "/api/v1/functions/hello/invoke?type=DryRun"),
])
def test_a_body_nested_a_thousand_deep_is_a_400(call, hello, method, path):
    status, _, body = call(method, path, DEEP)
    assert status == 400, body
    assert str(MAX_DEPTH) in body["message"]


def test_a_body_at_the_nesting_limit_is_an_event_like_any_other(call, hello):
    event = ("[" * MAX_DEPTH + "]" * MAX_DEPTH).encode()
    status, _, body = call("POST", "/api/v1/functions/hello/invoke?type=DryRun", event)
    assert status == 204, body


@pytest.mark.parametrize("path", ["/", "/api/v1/nope", "/nope", "/api/v1/functions/hello/nope", "/api/v2/x"])
def test_no_path_answers_html(call, path):
    status, _, body = call("GET", path)
    assert status in (200, 404)
    assert "type" in body or body["name"] == "Lambent"


def test_the_root_says_where_everything_is(call):
    status, _, body = call("GET", "/", auth=False)
    assert status == 200
    assert (body["api"], body["schema"], body["lambda_api"]) == ("/api/v1", "/api/v1/schema", "/2015-03-31/functions")


def test_a_body_over_the_limit_is_a_413_before_it_is_read(call, settings):
    too_large = str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    status, _, body = call("POST", "/api/v1/functions/hello/invoke", b"{}", headers={"Content-Length": too_large})
    assert (status, body["type"]) == (413, "RequestTooLargeException")


@pytest.mark.parametrize("path", ["/api/v1/functions/a%00b", "/api/v1/functions?page_size=%00",
                                  "/api/v1/invocations?function=x%00", "/api/v1/functions/hello/invoke?qualifier=%00"])
def test_a_nul_in_the_path_or_the_query_is_a_400(call, path):
    status, _, body = call("POST" if "invoke" in path else "GET", path)
    assert (status, body["type"]) == (400, "InvalidParameterValueException")


@pytest.mark.parametrize(("body", "content_type"), [
    (b'{"name": "q\\u0000"}', "application/json"), (b'{"name": "\\ud800"}', "application/json"),
    (b'{"name": "\xff\xfe"}', "application/json"), (b'{"visibility_timeout": NaN, "name": "q"}', "application/json"),
    (b"name=q", "application/x-www-form-urlencoded"), (b"<q/>", "application/xml"), (b'{"name": "q"}', "text/plain"),
    (b"--x\r\n\r\n--x--", "multipart/form-data; boundary=x"), (b'{"name":', "application/json"),
])
def test_odd_bodies_and_content_types_are_4xx(call, body, content_type):
    status, _, answer = call("POST", "/api/v1/queues", body, headers={"Content-Type": content_type})
    assert status in (400, 415), answer
    assert answer["type"] in ("InvalidRequestContentException", "UnsupportedMediaTypeException")


@pytest.mark.parametrize("path", ["/api/v1/functions", "/api/v1/functions/hello/invoke"])
def test_thousands_of_query_parameters_are_a_400(call, hello, path):
    query = "&".join(f"p{n}=1" for n in range(3000))
    status, _, body = call("POST" if "invoke" in path else "GET", f"{path}?{query}")
    assert status == 400, body


def test_enormous_headers_and_query_strings_are_answered(call, hello):
    status, _, _ = call("GET", "/api/v1/functions?qualifier=" + "q" * 200_000, headers={"X-Big": "b" * 200_000})
    assert status == 200
    status, _, body = call("POST", "/api/v1/functions/hello/invoke?qualifier=" + "q" * 200_000)
    assert status == 404, body


@pytest.mark.parametrize("query", ["page_size=true", "page_size=false", "page_size=-5", "page_size=0",
                                   "page_size=1001", "page_size=2.5", "cursor=bm9wZQ", "cursor=%C3%A9",
                                   "cursor=cD14"])  # p=x: a position, but invocations are ordered by number
def test_a_page_size_or_a_cursor_that_is_not_one_is_a_400(call, hello, query):
    status, _, body = call("GET", f"/api/v1/invocations?{query}")
    assert (status, body["type"]) == (400, "InvalidParameterValueException"), body


@pytest.mark.parametrize(("path", "body"), [
    ("/api/v1/queues", {"name": 975}), ("/api/v1/queues", {"name": "q", "visibility_timeout": "30"}),
    ("/api/v1/queues", {"name": "q", "visibility_timeout": 30.5}), ("/api/v1/queues", {"name": "q",
                                                                                        "visibility_timeout": True}),
    ("/api/v1/functions/hello/versions", {"description": 5}), ("/api/v1/functions/hello/code",
                                                                {"zip_file": b64(make_zip()), "publish": "true"}),
])
def test_json_values_of_the_wrong_type_are_refused_not_coerced(call, hello, path, body):
    status, _, answer = call("PUT" if path.endswith("/code") else "POST", path, json.dumps(body).encode())
    assert (status, answer["type"]) == (400, "InvalidParameterValueException"), answer
