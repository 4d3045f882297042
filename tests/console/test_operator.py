"""The operators' pages: staff users list and create tenants and change their limits; to anyone
else the pages do not exist."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from lambent.iam.models import Tenant
from lambent.quotas.models import TenantQuota
from lambent.quotas.services import reservation_put
from tests.console.conftest import PASSWORD, errors_of, make_function

pytestmark = pytest.mark.django_db

PAGES = ["/console/operator/tenants", "/console/operator/tenants/acme"]


@pytest.fixture
def operator(browser, member):
    get_user_model().objects.create_user(username="olivia", password=PASSWORD, is_staff=True)
    assert browser.sign_in("olivia").status_code == 302
    return browser


def test_the_tenants_with_their_limits(operator, member, outsider, settings):
    page = operator.get("/console/operator/tenants").content.decode()
    assert "acme" in page and "globex" in page and member.tenant.account_id in page
    assert f"<td>{settings.CONCURRENT_EXECUTIONS}</td>" in page


def test_create_a_tenant_shows_its_first_key_once(operator):
    response = operator.submit("/console/operator/tenants", {"name": "initech"})
    assert response.status_code == 201
    page = response.content.decode()
    key_id = re.search(r'id="created-key-id">([^<]+)<', page).group(1)
    secret = re.search(r'id="created-secret">([^<]+)<', page).group(1)
    assert Tenant.objects.filter(name="initech").exists()
    api = Client().get("/api/v1/functions", HTTP_AUTHORIZATION=f"Bearer {key_id}:{secret}")
    assert api.status_code == 200
    assert secret not in operator.get("/console/operator/tenants").content.decode()


@pytest.mark.parametrize("name,message", [("no spaces", "1-64 letters, digits"),
                                          ("acme", "a tenant named 'acme' or a user named acme-admin already exists")])
def test_a_bad_tenant_name_is_refused_beside_it(operator, name, message):
    response = operator.submit("/console/operator/tenants", {"name": name})
    assert response.status_code == 400
    assert any(message in error for error in errors_of(response, field="name")), errors_of(response)
    assert Tenant.objects.count() == 1


def test_change_a_tenants_concurrency_limit_and_back_to_the_default(operator, member, settings):
    response = operator.submit("/console/operator/tenants/acme", {"concurrent_executions": "250",
                                                                  "unreserved_concurrency_minimum": ""})
    assert response.status_code == 302
    quota = TenantQuota.objects.get(tenant=member.tenant)
    assert (quota.concurrent_executions, quota.unreserved_concurrency_minimum) == (250, None)
    assert '<dd id="limit-in-force">250</dd>' in operator.get("/console/operator/tenants/acme").content.decode()
    operator.submit("/console/operator/tenants/acme", {"concurrent_executions": ""})
    assert TenantQuota.objects.get(tenant=member.tenant).concurrent_executions is None


@pytest.mark.parametrize("typed,message", [("-5", "must be a whole number, 0 or more"),
                                           ("lots", "must be a whole number, 0 or more"),
                                           ("110", "leaves too little for the 20 the tenant's functions reserve")])
def test_a_bad_limit_shows_the_message_and_changes_nothing(operator, member, typed, message):
    make_function(member.tenant)
    reservation_put(tenant=member.tenant, function_name="hello", reserved_concurrent_executions=20)
    response = operator.submit("/console/operator/tenants/acme", {"concurrent_executions": typed,
                                                                  "unreserved_concurrency_minimum": "100"})
    assert response.status_code == 400
    assert any(message in error for error in errors_of(response, field="concurrent_executions")), \
        errors_of(response)
    assert not TenantQuota.objects.exists()


@pytest.mark.parametrize("path", PAGES)
def test_a_tenant_user_gets_404_and_changes_nothing(signed_in, member, path):
    assert signed_in.get(path).status_code == 404
    response = signed_in.submit(path, {"name": "sneaky", "concurrent_executions": "1"})
    assert response.status_code == 404
    assert not Tenant.objects.filter(name="sneaky").exists() and not TenantQuota.objects.exists()
    assert b"Tenants" not in signed_in.get("/console/functions/").content.split(b"<main>")[0]


@pytest.mark.parametrize("path", PAGES)
def test_signed_out_is_sent_to_sign_in(browser, member, path):
    response = browser.get(path)
    assert response.status_code == 302 and response["Location"].startswith("/console/sign-in?next=")


@pytest.mark.parametrize("path,data", [(PAGES[0], {"name": "initech"}), (PAGES[1], {"concurrent_executions": "5"})])
def test_every_operator_form_refuses_a_post_without_its_csrf_token(operator, member, path, data):
    response = operator.post(path, data)
    assert response.status_code == 403 and b"CSRF" in response.content
    assert Tenant.objects.count() == 1 and not TenantQuota.objects.exists()


def test_an_unknown_tenant_is_404(operator):
    assert operator.get("/console/operator/tenants/nowhere").status_code == 404
