"""Create, read, update code, update configuration, delete and list functions."""

import hashlib

from lambent.functions.models import CodeArtifact, Function
from tests.conftest import b64, function_body, make_zip


def test_create_from_json_with_base64_zip(api, tenant):
    code = make_zip()
    response = api.post("/api/v1/functions", function_body(zip_file=b64(code), memory_size=256, timeout=30,
                                                          environment={"GREETING": "hi"}, description="demo"),
                        format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "hello"
    assert body["version"] == "$LATEST"
    assert body["arn"] == f"arn:aws:lambda:us-east-1:{tenant.tenant.account_id}:function:hello"
    assert (body["memory_size"], body["timeout"], body["ephemeral_storage"]) == (256, 30, 512)
    assert body["environment"] == {"GREETING": "hi"}
    assert body["description"] == "demo"
    assert body["code_sha256"] == hashlib.sha256(code).hexdigest()
    assert body["code_size"] == len(code)


def test_create_from_multipart_upload(api):
    code = make_zip({"pkg/__init__.py": "", "pkg/main.py": "def run(e, c):\n    return 1\n"})
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = api.post("/api/v1/functions", {
        "name": "multi", "runtime": "python3.11", "handler": "pkg.main.run",
        "environment.MODE": "test", "zip_file": SimpleUploadedFile("code.zip", code),
    }, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["environment"] == {"MODE": "test"}
    assert response.json()["code_sha256"] == hashlib.sha256(code).hexdigest()


def test_defaults_are_lambdas(create_function):
    body = create_function()
    assert (body["memory_size"], body["timeout"], body["ephemeral_storage"]) == (128, 3, 512)
    assert body["environment"] == {} and body["description"] == ""


def test_code_is_stored_once_by_sha256(api, create_function, make_tenant):
    create_function("one")
    create_function("two")
    assert CodeArtifact.objects.count() == 1
    artifact = CodeArtifact.objects.get()
    from django.core.files.storage import storages

    with storages["code"].open(artifact.storage_name, "rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == artifact.sha256


def test_get_returns_latest(api, create_function):
    created = create_function()
    response = api.get("/api/v1/functions/hello")
    assert response.status_code == 200
    assert response.json() == created


def test_get_unknown_function_is_404(api):
    response = api.get("/api/v1/functions/nope")
    assert response.status_code == 404
    assert response.json()["type"] == "ResourceNotFoundException"


def test_duplicate_name_is_409(api, create_function):
    create_function()
    response = api.post("/api/v1/functions", function_body(), format="json")
    assert response.status_code == 409
    assert Function.objects.count() == 1


def test_update_code(api, create_function):
    before = create_function()
    code = make_zip({"app.py": "def handler(event, context):\n    return 'new'\n"})
    response = api.put("/api/v1/functions/hello/code", {"zip_file": b64(code)}, format="json")
    assert response.status_code == 200, response.content
    after = response.json()
    assert after["code_sha256"] == hashlib.sha256(code).hexdigest() != before["code_sha256"]
    assert after["revision_id"] != before["revision_id"]


def test_update_code_without_the_handler_module_is_400(api, create_function):
    before = create_function()
    response = api.put("/api/v1/functions/hello/code", {"zip_file": b64(make_zip({"other.py": ""}))},
                       format="json")
    assert response.status_code == 400
    assert "zip_file" in response.json()["fields"]
    assert api.get("/api/v1/functions/hello").json() == before


def test_update_configuration_changes_only_named_fields(api, create_function):
    before = create_function(environment={"A1": "x"})
    response = api.patch("/api/v1/functions/hello", {"memory_size": 1024, "description": "bigger"}, format="json")
    assert response.status_code == 200, response.content
    after = response.json()
    assert (after["memory_size"], after["description"]) == (1024, "bigger")
    assert after["environment"] == {"A1": "x"}
    assert after["timeout"] == before["timeout"]
    assert after["code_sha256"] == before["code_sha256"]
    assert after["revision_id"] != before["revision_id"]


def test_update_handler_is_checked_against_stored_code(api, create_function):
    create_function()
    response = api.patch("/api/v1/functions/hello", {"handler": "missing.handler"}, format="json")
    assert response.status_code == 400
    assert "handler" in response.json()["fields"]
    assert api.get("/api/v1/functions/hello").json()["handler"] == "app.handler"


def test_delete_removes_versions_and_aliases(api, create_function):
    create_function()
    api.post("/api/v1/functions/hello/versions", format="json")
    api.post("/api/v1/functions/hello/aliases", {"name": "live", "function_version": "1"}, format="json")
    assert api.delete("/api/v1/functions/hello").status_code == 204
    assert api.get("/api/v1/functions/hello").status_code == 404
    assert api.get("/api/v1/functions/hello/versions/1").status_code == 404
    assert not Function.objects.exists()
    assert api.delete("/api/v1/functions/hello").status_code == 404


def test_list_is_paginated_by_name(api, create_function):
    for name in ["charlie", "alpha", "bravo"]:
        create_function(name)
    first = api.get("/api/v1/functions?page_size=2").json()
    assert [f["name"] for f in first["results"]] == ["alpha", "bravo"]
    second = api.get(first["next"]).json()
    assert [f["name"] for f in second["results"]] == ["charlie"]
    assert second["next"] is None


def test_put_on_a_function_is_not_allowed(api, create_function):
    create_function()
    response = api.put("/api/v1/functions/hello", {"memory_size": 256}, format="json")
    assert response.status_code == 405
