"""Aliases: pointing at versions, weighted routing rules, RevisionId locking."""

import pytest

ALIASES = "/api/v1/functions/hello/aliases"


@pytest.fixture
def three_versions(api, create_function):
    create_function()
    for timeout in (3, 4, 5):
        api.patch("/api/v1/functions/hello", {"timeout": timeout}, format="json")
        api.post("/api/v1/functions/hello/versions", format="json")
    return ["1", "2", "3"]


def create_alias(api, **body):
    return api.post(ALIASES, body, format="json")


def test_create_get_list_alias(api, three_versions, tenant):
    response = create_alias(api, name="live", function_version="2", description="prod")
    assert response.status_code == 201, response.content
    alias = response.json()
    assert alias["function_version"] == "2"
    assert alias["additional_version_weights"] == {}
    assert alias["arn"] == f"arn:aws:lambda:us-east-1:{tenant.tenant.account_id}:function:hello:live"
    assert api.get(f"{ALIASES}/live").json() == alias
    assert [a["name"] for a in api.get(ALIASES).json()["results"]] == ["live"]


def test_weighted_routing(api, three_versions):
    response = create_alias(api, name="canary", function_version="1", additional_version_weights={"2": 0.1})
    assert response.status_code == 201, response.content
    assert response.json()["additional_version_weights"] == {"2": 0.1}


def test_alias_may_point_at_latest_without_routing(api, three_versions):
    assert create_alias(api, name="edge", function_version="$LATEST").status_code == 201


ROUTING = "additional_version_weights"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "123", "function_version": "1"}, "name"),
        ({"name": "has space", "function_version": "1"}, "name"),
        ({"name": "x" * 129, "function_version": "1"}, "name"),
        ({"name": "a", "function_version": "one"}, "function_version"),
        ({"name": "a", "function_version": "1", ROUTING: {"2": 1.5}}, ROUTING),
        ({"name": "a", "function_version": "1", ROUTING: {"2": -0.1}}, ROUTING),
        ({"name": "a", "function_version": "1", ROUTING: {"2": 0.1, "3": 0.1}}, ROUTING),
        ({"name": "a", "function_version": "1", ROUTING: {"1": 0.5}}, ROUTING),
        ({"name": "a", "function_version": "$LATEST", ROUTING: {"1": 0.5}}, ROUTING),
        ({"name": "a", "function_version": "1", ROUTING: {"$LATEST": 0.5}}, ROUTING),
        ({"name": "a", "function_version": "1", ROUTING: {"2": "half"}}, ROUTING),
        ({"name": "a", "function_version": "1", "description": "d" * 257}, "description"),
    ],
)
def test_invalid_alias_is_400_and_not_created(api, three_versions, body, field):
    response = create_alias(api, **body)
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    assert api.get(ALIASES).json()["results"] == []


@pytest.mark.parametrize("body", [{"function_version": "9"}, {"function_version": "1", ROUTING: {"9": 0.5}}])
def test_an_alias_to_a_version_that_does_not_exist_is_404(api, three_versions, body):
    response = create_alias(api, name="a", **body)
    assert response.status_code == 404, response.content
    assert response.json()["message"].endswith(":function:hello:9")
    assert api.get(ALIASES).json()["results"] == []


def test_duplicate_alias_is_409(api, three_versions):
    create_alias(api, name="live", function_version="1")
    assert create_alias(api, name="live", function_version="2").status_code == 409


def test_update_alias_moves_it_and_changes_revision(api, three_versions):
    before = create_alias(api, name="live", function_version="1").json()
    response = api.patch(f"{ALIASES}/live", {"function_version": "3", "additional_version_weights": {"2": 0.25},
                                             "revision_id": before["revision_id"]}, format="json")
    assert response.status_code == 200, response.content
    after = response.json()
    assert after["function_version"] == "3"
    assert after["additional_version_weights"] == {"2": 0.25}
    assert after["revision_id"] != before["revision_id"]


def test_update_alias_with_stale_revision_is_412_and_changes_nothing(api, three_versions):
    stale = create_alias(api, name="live", function_version="1").json()["revision_id"]
    current = api.patch(f"{ALIASES}/live", {"description": "moved"}, format="json").json()
    response = api.patch(f"{ALIASES}/live", {"function_version": "2", "revision_id": stale}, format="json")
    assert response.status_code == 412
    assert api.get(f"{ALIASES}/live").json() == current


def test_invalid_update_changes_nothing(api, three_versions):
    before = create_alias(api, name="live", function_version="1", additional_version_weights={"2": 0.5}).json()
    response = api.patch(f"{ALIASES}/live", {"function_version": "2"}, format="json")  # routing to itself
    assert response.status_code == 400
    assert api.get(f"{ALIASES}/live").json() == before


def test_remove_routing(api, three_versions):
    create_alias(api, name="live", function_version="1", additional_version_weights={"2": 0.5})
    response = api.patch(f"{ALIASES}/live", {"additional_version_weights": {}}, format="json")
    assert response.json()["additional_version_weights"] == {}


def test_delete_alias(api, three_versions):
    create_alias(api, name="live", function_version="1")
    assert api.delete(f"{ALIASES}/live").status_code == 204
    assert api.get(f"{ALIASES}/live").status_code == 404
    assert api.delete("/api/v1/functions/hello/versions/1").status_code == 204


def test_alias_of_unknown_function_is_404(api, db):
    assert api.post("/api/v1/functions/nope/aliases", {"name": "a", "function_version": "1"},
                    format="json").status_code == 404


def test_function_revision_conflicts(api, create_function):
    stale = create_function()["revision_id"]
    fresh = api.patch("/api/v1/functions/hello", {"timeout": 7, "revision_id": stale}, format="json")
    assert fresh.status_code == 200
    conflict = api.patch("/api/v1/functions/hello", {"timeout": 8, "revision_id": stale}, format="json")
    assert conflict.status_code == 412
    assert api.get("/api/v1/functions/hello").json()["timeout"] == 7


def test_update_code_with_stale_revision_is_412(api, create_function):
    from tests.conftest import b64, make_zip

    stale = create_function()["revision_id"]
    api.patch("/api/v1/functions/hello", {"timeout": 7}, format="json")
    response = api.put("/api/v1/functions/hello/code", {"zip_file": b64(make_zip({"app.py": "x = 1\n"})),
                                                        "revision_id": stale}, format="json")
    assert response.status_code == 412
