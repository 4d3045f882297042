"""Tenants and access keys: ids, the once-shown secret, encryption at rest."""

import re

import pytest
from django.test import override_settings

from lambent.errors import Conflict, InvalidParameter
from lambent.iam import crypto, services
from lambent.iam.models import AccessKey, Tenant


def test_tenant_create_makes_an_account_id_a_member_and_a_key(db):
    created = services.tenant_create(name="acme")
    assert re.fullmatch(r"\d{12}", created.tenant.account_id)
    assert created.tenant.memberships.get().user.username == "acme-admin"
    assert re.fullmatch(r"LKIA[A-Z2-7]{16}", created.credentials.access_key_id)
    assert len(created.credentials.secret_access_key) == 40


def test_account_ids_and_key_ids_are_unique(db):
    tenants = [services.tenant_create(name=f"t{i}") for i in range(20)]
    assert len({t.tenant.account_id for t in tenants}) == 20
    assert len({t.credentials.access_key_id for t in tenants}) == 20


def test_secret_is_stored_encrypted_not_in_clear(db):
    issued = services.tenant_create(name="acme").credentials
    stored = AccessKey.objects.get(access_key_id=issued.access_key_id).encrypted_secret
    assert issued.secret_access_key not in stored
    assert crypto.decrypt_secret(stored) == issued.secret_access_key


def test_another_master_key_cannot_read_the_secrets(db):
    issued = services.tenant_create(name="acme").credentials
    stored = AccessKey.objects.get(access_key_id=issued.access_key_id).encrypted_secret
    with override_settings(MASTER_KEY="another master key"):
        assert crypto.decrypt_secret(stored) is None


def test_duplicate_tenant_is_a_conflict_and_changes_nothing(db):
    services.tenant_create(name="acme")
    with pytest.raises(Conflict):
        services.tenant_create(name="acme")
    assert Tenant.objects.count() == 1
    assert AccessKey.objects.count() == 1


@pytest.mark.parametrize("name", ["", "-leading-dash", "has space", "x" * 65])
def test_invalid_tenant_names_are_refused(db, name):
    with pytest.raises(InvalidParameter) as raised:
        services.tenant_create(name=name)
    assert "name" in raised.value.fields
    assert not Tenant.objects.exists()


def test_second_key_works_beside_the_first(db):
    created = services.tenant_create(name="acme")
    member = created.tenant.memberships.get().user
    second = services.access_key_issue(tenant=created.tenant, user=member)
    assert second.access_key_id != created.credentials.access_key_id
    assert created.tenant.access_keys.count() == 2
