"""The access keys page: a key issued shows its secret once and works against the API at once;
deactivated it is refused, deleted it is gone; another tenant's keys are not found."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from lambent.iam.models import AccessKey

pytestmark = pytest.mark.django_db


def api_status(key_id: str, secret: str) -> int:
    response = Client().get("/api/v1/functions", HTTP_AUTHORIZATION=f"Bearer {key_id}:{secret}")
    return int(response.status_code)


def issue(signed_in) -> tuple[str, str]:
    response = signed_in.submit("/console/access-keys")
    assert response.status_code == 201
    page = response.content.decode()
    key_id = re.search(r'id="issued-key-id">([^<]+)<', page).group(1)
    secret = re.search(r'id="issued-secret">([^<]+)<', page).group(1)
    return key_id, secret


def test_issue_shows_the_secret_once_and_the_key_works(signed_in, member):
    key_id, secret = issue(signed_in)
    key = AccessKey.objects.get(access_key_id=key_id)
    assert key.user.username == "alice" and key.tenant == member.tenant and key.is_active
    assert secret not in key.encrypted_secret
    assert api_status(key_id, secret) == 200
    again = signed_in.get("/console/access-keys")
    assert key_id in again.content.decode() and secret not in again.content.decode()
    assert "no-store" in again["Cache-Control"]


def test_the_tenants_keys_are_listed_with_their_users(signed_in, member):
    page = signed_in.get("/console/access-keys").content.decode()
    assert member.new_tenant.credentials.access_key_id in page and "acme-admin" in page
    assert member.new_tenant.credentials.secret_access_key not in page


def test_deactivate_then_delete(signed_in, member):
    key_id, secret = issue(signed_in)
    response = signed_in.submit(f"/console/access-keys/{key_id}/deactivate")
    assert response.status_code == 302 and response["Location"] == "/console/access-keys"
    assert not AccessKey.objects.get(access_key_id=key_id).is_active
    assert api_status(key_id, secret) == 403
    assert signed_in.submit(f"/console/access-keys/{key_id}/delete").status_code == 302
    assert not AccessKey.objects.filter(access_key_id=key_id).exists()
    assert api_status(key_id, secret) == 401
    assert signed_in.submit(f"/console/access-keys/{key_id}/delete").status_code == 404
    assert signed_in.get(f"/console/access-keys/{key_id}/deactivate").status_code == 405


def test_another_tenants_key_is_404_and_stays_active(signed_in, outsider):
    theirs = outsider.new_tenant.credentials.access_key_id
    assert theirs not in signed_in.get("/console/access-keys").content.decode()
    assert signed_in.submit(f"/console/access-keys/{theirs}/deactivate").status_code == 404
    assert signed_in.submit(f"/console/access-keys/{theirs}/delete").status_code == 404
    assert AccessKey.objects.get(access_key_id=theirs).is_active


@pytest.mark.parametrize("path", ["/console/access-keys", "/console/access-keys/AKX/deactivate",
                                  "/console/access-keys/AKX/delete"])
def test_signed_out_is_sent_to_sign_in_and_issues_nothing(browser, member, path):
    response = browser.post(path)
    assert response.status_code in (302, 403)  # sent to sign in, or refused its missing CSRF token
    assert AccessKey.objects.count() == 1
    response = browser.submit(path)
    assert response.status_code == 302 and response["Location"].startswith("/console/sign-in?next=")
    assert AccessKey.objects.count() == 1


@pytest.mark.parametrize("action", ["", "/deactivate", "/delete"])
def test_every_key_form_refuses_a_post_without_its_csrf_token(signed_in, member, action):
    key_id = member.new_tenant.credentials.access_key_id
    path = f"/console/access-keys/{key_id}{action}" if action else "/console/access-keys"
    response = signed_in.post(path)
    assert response.status_code == 403 and b"CSRF" in response.content
    assert list(AccessKey.objects.values_list("access_key_id", "is_active")) == [(key_id, True)]
