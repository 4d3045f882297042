"""Publishing: a new version only on change, numbers never reused, versions immutable."""

from tests.conftest import b64, make_zip

VERSIONS = "/api/v1/functions/hello/versions"


def publish(api, **body):
    return api.post(VERSIONS, body, format="json")


def test_publish_creates_version_1_with_latests_configuration(api, create_function):
    latest = create_function(memory_size=512)
    response = publish(api)
    assert response.status_code == 201
    version = response.json()
    assert version["version"] == "1"
    assert version["arn"].endswith(":function:hello:1")
    assert version["memory_size"] == 512
    assert version["code_sha256"] == latest["code_sha256"]


def test_publish_without_change_returns_the_newest_version(api, create_function):
    create_function()
    first = publish(api).json()
    again = publish(api)
    assert again.status_code == 200
    assert again.json() == first
    assert [v["version"] for v in api.get(VERSIONS).json()["results"]] == ["$LATEST", "1"]


def test_configuration_change_publishes_a_new_version(api, create_function):
    create_function()
    publish(api)
    api.patch("/api/v1/functions/hello", {"timeout": 10}, format="json")
    response = publish(api)
    assert response.status_code == 201
    assert (response.json()["version"], response.json()["timeout"]) == ("2", 10)


def test_same_code_uploaded_again_publishes_nothing_new(api, create_function):
    create_function()
    publish(api)
    api.put("/api/v1/functions/hello/code", {"zip_file": b64(make_zip())}, format="json")
    assert publish(api).status_code == 200


def test_code_change_publishes_a_new_version(api, create_function):
    create_function()
    publish(api)
    api.put("/api/v1/functions/hello/code", {"zip_file": b64(make_zip({"app.py": "def handler(e, c): pass\n"}))},
            format="json")
    assert publish(api).json()["version"] == "2"


def test_published_versions_are_immutable(api, create_function):
    create_function()
    version_1 = publish(api).json()
    api.patch("/api/v1/functions/hello", {"memory_size": 2048, "environment": {"NEW": "yes"}}, format="json")
    api.put("/api/v1/functions/hello/code", {"zip_file": b64(make_zip({"app.py": "def handler(e, c): pass\n"}))},
            format="json")
    assert api.get(f"{VERSIONS}/1").json() == version_1
    assert api.patch(f"{VERSIONS}/1", {"memory_size": 256}, format="json").status_code == 405
    assert api.put(f"{VERSIONS}/1", {"memory_size": 256}, format="json").status_code == 405


def test_version_numbers_are_never_reused(api, create_function):
    create_function()
    publish(api)
    api.patch("/api/v1/functions/hello", {"timeout": 5}, format="json")
    publish(api)
    assert api.delete(f"{VERSIONS}/2").status_code == 204
    api.patch("/api/v1/functions/hello", {"timeout": 6}, format="json")
    assert publish(api).json()["version"] == "3"


def test_publish_with_description(api, create_function):
    create_function(description="function text")
    version = publish(api, description="release 1").json()
    assert version["description"] == "release 1"
    assert api.get("/api/v1/functions/hello").json()["description"] == "function text"


def test_publish_on_create(api):
    from tests.conftest import function_body

    response = api.post("/api/v1/functions", function_body(publish=True), format="json")
    assert response.status_code == 201
    assert response.json()["version"] == "1"


def test_publish_with_stale_revision_is_412(api, create_function):
    stale = create_function()["revision_id"]
    api.patch("/api/v1/functions/hello", {"timeout": 9}, format="json")
    response = publish(api, revision_id=stale)
    assert response.status_code == 412
    assert response.json()["type"] == "PreconditionFailedException"
    assert [v["version"] for v in api.get(VERSIONS).json()["results"]] == ["$LATEST"]


def test_publish_with_current_revision_and_code_sha(api, create_function):
    latest = create_function()
    response = publish(api, revision_id=latest["revision_id"], code_sha256=latest["code_sha256"])
    assert response.status_code == 201


def test_publish_with_other_code_sha_is_412(api, create_function):
    create_function()
    assert publish(api, code_sha256="0" * 64).status_code == 412


def test_publish_with_update_code(api, create_function):
    create_function()
    response = api.put("/api/v1/functions/hello/code",
                       {"zip_file": b64(make_zip({"app.py": "def handler(e, c): pass\n"})), "publish": True},
                       format="json")
    assert response.json()["version"] == "1"


def test_latest_cannot_be_deleted_alone(api, create_function):
    create_function()
    response = api.delete(f"{VERSIONS}/$LATEST")
    assert (response.status_code, response.json()["type"]) == (409, "ResourceConflictException")
    assert api.get("/api/v1/functions/hello").status_code == 200


def test_a_version_an_alias_uses_cannot_be_deleted(api, create_function):
    create_function()
    publish(api)
    api.post("/api/v1/functions/hello/aliases", {"name": "live", "function_version": "1"}, format="json")
    response = api.delete(f"{VERSIONS}/1")
    assert response.status_code == 409
    assert "live" in response.json()["message"]
    assert api.get(f"{VERSIONS}/1").status_code == 200


def test_unknown_versions_are_404(api, create_function):
    create_function()
    for version in ["1", "0", "-1", "abc", "01x"]:
        assert api.get(f"{VERSIONS}/{version}").status_code == 404
