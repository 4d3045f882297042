"""A function's versions tab (publish with a description, list, delete) and aliases tab (create,
point at a version, weight a second one): the API's services write, its messages are shown."""

from __future__ import annotations

import pytest

from lambent.functions.models import Alias, Version
from lambent.functions.services import alias_create, function_update_configuration, version_publish
from tests.console.conftest import errors_of, make_function

pytestmark = pytest.mark.django_db


def published(tenant) -> list[tuple[int, str]]:
    return list(Version.objects.filter(function__tenant=tenant, number__gt=0).order_by("number")
                .values_list("number", "description"))


def two_versions(tenant) -> None:
    make_function(tenant)
    version_publish(tenant=tenant, function_name="hello")
    function_update_configuration(tenant=tenant, name="hello", changes={"timeout": 9})
    version_publish(tenant=tenant, function_name="hello")


def test_publish_with_a_description_and_list_newest_first(signed_in, member):
    make_function(member.tenant)
    response = signed_in.submit("/console/functions/hello/versions", {"description": "first cut"})
    assert response.status_code == 302 and response["Location"] == "/console/functions/hello/versions"
    assert published(member.tenant) == [(1, "first cut")]
    page = signed_in.get("/console/functions/hello/versions").content.decode()
    assert "Version 1 is published." in page and "first cut" in page
    assert page.index("<td>1</td>") < page.index("<td>$LATEST</td>")
    signed_in.submit("/console/functions/hello/versions", {"description": "again"})
    assert published(member.tenant) == [(1, "first cut")]  # $LATEST unchanged: nothing new
    assert "nothing to publish" in signed_in.get("/console/functions/hello/versions").content.decode()


def test_a_description_too_long_is_refused_beside_it(signed_in, member):
    make_function(member.tenant)
    response = signed_in.submit("/console/functions/hello/versions", {"description": "x" * 300})
    assert response.status_code == 400
    assert any("no more than 256 characters" in error for error in errors_of(response, field="description"))
    assert published(member.tenant) == []


def test_delete_a_version_and_refuse_one_an_alias_uses(signed_in, member):
    two_versions(member.tenant)
    alias_create(tenant=member.tenant, function_name="hello", name="live", function_version="2")
    response = signed_in.submit("/console/functions/hello/versions/2/delete")
    assert response.status_code == 409
    assert "Version 2 is used by alias live; move or delete it first." in errors_of(response)
    assert signed_in.submit("/console/functions/hello/versions/$LATEST/delete").status_code == 409
    response = signed_in.submit("/console/functions/hello/versions/1/delete")
    assert response.status_code == 302
    assert [number for number, _ in published(member.tenant)] == [2]
    assert signed_in.get("/console/functions/hello/versions/1/delete").status_code == 405


def test_create_an_alias_with_a_weighted_second_version(signed_in, member):
    two_versions(member.tenant)
    response = signed_in.submit("/console/functions/hello/aliases", {
        "name": "live", "function_version": "2", "additional_version": "1", "weight": "10", "description": "canary"})
    assert response.status_code == 302
    alias = Alias.objects.get(name="live")
    assert alias.version.number == 2 and alias.additional_version_weights == {"1": pytest.approx(0.1)}
    page = signed_in.get("/console/functions/hello/aliases").content.decode()
    assert "Alias live is created." in page and "1 (10%)" in page


def test_point_an_alias_at_another_version_and_drop_the_weight(signed_in, member):
    two_versions(member.tenant)
    alias_create(tenant=member.tenant, function_name="hello", name="live", function_version="2",
                 additional_version_weights={"1": 0.25})
    page = signed_in.get("/console/functions/hello/aliases/live").content.decode()
    assert 'value="25"' in page and '<option value="1" selected>' in page
    response = signed_in.submit("/console/functions/hello/aliases/live",
                                {"function_version": "1", "additional_version": "", "weight": "0"})
    assert response.status_code == 302
    alias = Alias.objects.get(name="live")
    assert alias.version.number == 1 and alias.additional_version is None


@pytest.mark.parametrize("data,field,message", [
    ({"name": "12"}, "name", "letters, digits, '-' or '_', and not all digits."),
    ({"additional_version": "$LATEST"}, "additional_version", "A published version number."),
    ({"additional_version": "2"}, "additional_version", "The additional version must differ from function_version."),
    ({"weight": "150"}, "additional_version", "less than or equal to 1.0"),
    ({"weight": "lots"}, "additional_version", "Must be a number."),
    ({"function_version": "7", "additional_version": ""}, "function_version", "Function not found"),
    ({"function_version": "$LATEST"}, "additional_version", "Weighted routing needs published versions"),
])
def test_bad_input_shows_the_message_beside_the_field_and_creates_nothing(signed_in, member, data, field, message):
    two_versions(member.tenant)
    typed = {"name": "live", "function_version": "2", "additional_version": "1", "weight": "10", **data}
    response = signed_in.submit("/console/functions/hello/aliases", typed)
    assert response.status_code == 400
    assert any(message in error for error in errors_of(response, field=field)), errors_of(response)
    assert not Alias.objects.exists()


def test_an_alias_name_in_use_is_a_conflict_on_the_name(signed_in, member):
    two_versions(member.tenant)
    alias_create(tenant=member.tenant, function_name="hello", name="live", function_version="1")
    response = signed_in.submit("/console/functions/hello/aliases", {"name": "live", "function_version": "2"})
    assert response.status_code == 400
    assert "Alias already exists: hello:live" in errors_of(response, field="name")
    assert Alias.objects.get(name="live").version.number == 1


def test_a_bad_edit_changes_nothing(signed_in, member):
    two_versions(member.tenant)
    alias_create(tenant=member.tenant, function_name="hello", name="live", function_version="2")
    response = signed_in.submit("/console/functions/hello/aliases/live",
                                {"function_version": "2", "additional_version": "2", "weight": "5"})
    assert response.status_code == 400
    assert errors_of(response, field="additional_version")
    assert Alias.objects.get(name="live").additional_version is None


def test_delete_an_alias(signed_in, member):
    two_versions(member.tenant)
    alias_create(tenant=member.tenant, function_name="hello", name="live", function_version="2")
    assert signed_in.submit("/console/functions/hello/aliases/live/delete").status_code == 302
    assert not Alias.objects.exists()
    assert signed_in.submit("/console/functions/hello/aliases/live/delete").status_code == 404
