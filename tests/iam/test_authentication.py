"""Who may call the native API: 401 without valid credentials, 403 when they may not act."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from lambent.iam.models import AccessKey, Membership

URL = "/api/v1/functions"


def client_with(header: str | None) -> APIClient:
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    return client


def test_valid_credentials_are_accepted(api):
    assert api.get(URL).status_code == 200


@pytest.mark.parametrize(
    "header",
    [None, "Basic dXNlcjpwYXNz", "Bearer", "Bearer LKIAAAAAAAAAAAAAAAAA", "Bearer :secret", "Bearer id:"],
    ids=["missing", "other-scheme", "empty", "no-secret", "no-key-id", "empty-secret"],
)
def test_missing_or_malformed_credentials_answer_401(db, header):
    response = client_with(header).get(URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["type"] == "UnauthorizedException"


def test_unknown_key_answers_401(tenant):
    response = client_with(f"Bearer LKIAUNKNOWNUNKNOWN00:{tenant.credentials.secret_access_key}").get(URL)
    assert response.status_code == 401


def test_wrong_secret_answers_401(tenant):
    response = client_with(f"Bearer {tenant.credentials.access_key_id}:not-the-secret").get(URL)
    assert response.status_code == 401
    assert "Invalid access key id or secret" in response.json()["message"]


def test_inactive_key_answers_403(tenant, api):
    AccessKey.objects.filter(pk=tenant.credentials.access_key.pk).update(is_active=False)
    response = api.get(URL)
    assert response.status_code == 403
    assert "inactive" in response.json()["message"]


def test_disabled_user_answers_403(tenant, api):
    get_user_model().objects.filter(pk=tenant.credentials.access_key.user_id).update(is_active=False)
    assert api.get(URL).status_code == 403


def test_user_removed_from_tenant_answers_403(tenant, api):
    Membership.objects.filter(tenant=tenant.tenant).delete()
    response = api.get(URL)
    assert response.status_code == 403
    assert "no longer a member" in response.json()["message"]


def test_a_failed_authentication_changes_nothing(tenant):
    from tests.conftest import function_body

    response = client_with(f"Bearer {tenant.credentials.access_key_id}:wrong").post(URL, function_body(), format="json")
    assert response.status_code == 401
    assert not tenant.tenant.functions.exists()


def test_schema_and_docs_need_no_credentials(db):
    client = APIClient()
    schema = client.get("/api/v1/schema")
    assert schema.status_code == 200
    assert b"/api/v1/functions/{name}/aliases/{alias}" in schema.content
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
