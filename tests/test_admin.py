"""Operators can browse every model in the Django admin."""

import pytest
from django.contrib import admin


@pytest.fixture
def operator_client(client, django_user_model):
    operator = django_user_model.objects.create_superuser("operator", "op@example.com", "pw")
    client.force_login(operator)
    return client


def test_every_registered_model_has_working_pages(operator_client, tenant, create_function, api):
    create_function()
    api.post("/api/v1/functions/hello/versions", format="json")
    api.post("/api/v1/functions/hello/aliases", {"name": "live", "function_version": "1"}, format="json")
    api.put("/api/v1/functions/hello/event-invoke-config", {"maximum_retry_attempts": 1}, format="json")
    api.put("/api/v1/functions/hello/dead-letter-config", {"target": "https://example.com/dead"}, format="json")
    assert api.post("/api/v1/functions/hello/invoke?type=event", {}, format="json").status_code == 202
    for model in admin.site._registry:
        opts = model._meta
        changelist = operator_client.get(f"/admin/{opts.app_label}/{opts.model_name}/")
        assert changelist.status_code == 200, opts.label
        first = model.objects.first()
        if first is not None:
            detail = operator_client.get(f"/admin/{opts.app_label}/{opts.model_name}/{first.pk}/change/")
            assert detail.status_code == 200, opts.label


def test_admin_shows_tenants_but_never_secrets(operator_client, tenant):
    page = operator_client.get("/admin/iam/accesskey/").content.decode()
    assert tenant.credentials.access_key_id in page
    assert tenant.credentials.secret_access_key not in page


def test_a_tenant_added_in_the_admin_gets_its_first_user_and_keys_can_be_issued_there(operator_client):
    from lambent.iam.authentication import authenticate
    from lambent.iam.models import AccessKey, Tenant

    added = operator_client.post("/admin/iam/tenant/add/", {"name": "initech", "memberships-TOTAL_FORMS": "0",
                                                             "memberships-INITIAL_FORMS": "0"})
    assert added.status_code == 302, added.content.decode()[:2000]
    tenant = Tenant.objects.get(name="initech")
    assert [m.user.username for m in tenant.memberships.all()] == ["initech-admin"]
    issued = operator_client.post("/admin/iam/tenant/", {"action": "issue_access_key", "_selected_action": [tenant.pk]},
                                  follow=True)
    page = issued.content.decode()
    key = AccessKey.objects.get(tenant=tenant)
    assert key.access_key_id in page
    secret = page.split("secret access key ", 1)[1].split(" ", 1)[0]
    assert authenticate(f"Bearer {key.access_key_id}:{secret}") == key
