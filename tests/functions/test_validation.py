"""Every limit of a function: a 400 that names the field, and nothing stored."""

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from lambent.functions import limits
from lambent.functions.models import CodeArtifact, Function, Version
from tests.conftest import b64, function_body, make_zip

MB = 1024 * 1024


def assert_refused(response, field):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["type"] == "InvalidParameterValueException"
    assert field in body["fields"], body
    assert field in body["message"]
    assert not Function.objects.exists()
    assert not Version.objects.exists()
    assert not CodeArtifact.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", ""),
        ("name", "x" * 65),
        ("name", "has space"),
        ("name", "dots.not.allowed"),
        ("runtime", "python2.7"),
        ("runtime", "nodejs20.x"),
        ("handler", "no_dot"),
        ("handler", "app.handler extra"),
        ("handler", "missing.handler"),
        ("handler", "app.not-an-identifier"),
        ("handler", "a" * 129),
        ("memory_size", 127),
        ("memory_size", 10241),
        ("memory_size", "lots"),
        ("timeout", 0),
        ("timeout", 901),
        ("ephemeral_storage", 511),
        ("ephemeral_storage", 10241),
        ("description", "d" * 257),
        ("environment", {"1BAD": "x"}),
        ("environment", {"A": "single-letter names are not valid"}),
        ("environment", {"AWS_REGION": "reserved"}),
        ("environment", {"BIG": "x" * (limits.ENVIRONMENT_MAX_BYTES - 2)}),
        ("environment", "not a mapping"),
        ("zip_file", "not base64!"),
        ("zip_file", b64(b"this is not a zip archive")),
        ("zip_file", ""),
        ("publish", "perhaps"),
    ],
)
def test_invalid_field_is_400_and_nothing_is_stored(api, field, value):
    response = api.post("/api/v1/functions", function_body(**{field: value}), format="json")
    assert_refused(response, field)


@pytest.mark.parametrize("field", ["name", "runtime", "handler", "zip_file"])
def test_required_fields(api, field):
    body = function_body()
    del body[field]
    assert_refused(api.post("/api/v1/functions", body, format="json"), field)


@pytest.mark.parametrize(
    "overrides",
    [
        {"name": "x" * 64},
        {"name": "a"},
        {"memory_size": 128}, {"memory_size": 10240},
        {"timeout": 1}, {"timeout": 900},
        {"ephemeral_storage": 512}, {"ephemeral_storage": 10240},
        {"description": "d" * 256},
        {"environment": {"BIG": "x" * (limits.ENVIRONMENT_MAX_BYTES - 3)}},
    ],
)
def test_limits_are_inclusive(api, overrides):
    response = api.post("/api/v1/functions", function_body(**overrides), format="json")
    assert response.status_code == 201, response.content


def test_all_bad_fields_are_reported_at_once(api):
    response = api.post("/api/v1/functions", function_body(memory_size=1, timeout=0, runtime="cobol"),
                        format="json")
    assert response.status_code == 400
    assert {"memory_size", "timeout", "runtime"} <= set(response.json()["fields"])


def test_zip_over_50_mb_zipped_is_refused(api):
    big = io.BytesIO()
    with zipfile.ZipFile(big, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("app.py", "def handler(e, c):\n    return 1\n")
        archive.writestr("blob.bin", bytes(limits.CODE_ZIPPED_MAX_BYTES))
    upload = SimpleUploadedFile("code.zip", big.getvalue())
    body = {k: v for k, v in function_body().items() if k != "zip_file"}
    response = api.post("/api/v1/functions", {**body, "zip_file": upload}, format="multipart")
    assert_refused(response, "zip_file")
    assert str(limits.CODE_ZIPPED_MAX_BYTES) in response.json()["message"]


def test_zip_over_50_mb_in_base64_is_refused(api):
    response = api.post("/api/v1/functions", function_body(zip_file=b64(bytes(limits.CODE_ZIPPED_MAX_BYTES + 3))),
                        format="json")
    assert_refused(response, "zip_file")


def test_a_zip_bomb_of_250_mb_of_zeros_is_refused_long_before_it_is_inflated(api):
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("app.py", "def handler(e, c):\n    return 1\n")
        with archive.open("zeros.bin", "w", force_zip64=True) as member:
            chunk = bytes(MB)
            for _ in range(limits.CODE_UNZIPPED_MAX_BYTES // MB + 1):
                member.write(chunk)
    assert len(bomb.getvalue()) < limits.CODE_ZIPPED_MAX_BYTES
    response = api.post("/api/v1/functions", function_body(zip_file=b64(bomb.getvalue())), format="json")
    assert_refused(response, "zip_file")
    assert "zip bomb" in response.json()["message"]


def test_zip_with_paths_escaping_its_root_is_refused(api):
    code = make_zip({"app.py": "def handler(e, c):\n    return 1\n", "../../etc/cron.d/evil": "x"})
    assert_refused(api.post("/api/v1/functions", function_body(zip_file=b64(code)), format="json"), "zip_file")


@pytest.mark.parametrize(("field", "value"), [("memory_size", 99999), ("timeout", -1), ("runtime", "ruby"),
                                              ("environment", {"AWS_LAMBDA_RUNTIME_API": "x"})])
def test_invalid_update_is_400_and_latest_unchanged(api, create_function, field, value):
    before = create_function()
    response = api.patch("/api/v1/functions/hello", {field: value}, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert api.get("/api/v1/functions/hello").json() == before


def test_unreadable_json_is_400(api):
    response = api.post("/api/v1/functions", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert not Function.objects.exists()


def test_request_body_over_the_upload_limit_is_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    response = api.post("/api/v1/functions", function_body(description="x" * (2 * 1024 * 1024)), format="json")
    assert response.status_code == 413
    assert response.json()["type"] == "RequestTooLargeException"
    assert not Function.objects.exists()
