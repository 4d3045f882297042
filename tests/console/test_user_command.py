"""``lambent user create`` and ``lambent user add``: console users made by an operator."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from lambent.iam.models import Membership

pytestmark = pytest.mark.django_db


def test_create_with_a_password_file_then_sign_in(tmp_path, make_tenant, browser):
    make_tenant("acme")
    secret = tmp_path / "password"
    secret.write_text("a long enough password\n")
    out = io.StringIO()
    call_command("user", "create", "bob", "--tenant", "acme", "--password-file", str(secret), stdout=out)
    assert "user bob created in tenant acme" in out.getvalue()
    assert Membership.objects.filter(user__username="bob", tenant__name="acme").exists()
    assert browser.sign_in("bob", "a long enough password").status_code == 302


def test_create_from_the_prompt_asks_twice(monkeypatch, make_tenant):
    make_tenant("acme")
    answers = iter(["a long enough password", "a different password"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    with pytest.raises(CommandError, match="the two passwords differ"):
        call_command("user", "create", "bob", "--tenant", "acme")
    assert not get_user_model().objects.filter(username="bob").exists()


@pytest.mark.parametrize("args,message", [
    (["create", "bob", "--tenant", "nowhere"], "tenant 'nowhere' not found"),
    (["create", "acme-admin", "--tenant", "acme"], "a user named 'acme-admin' already exists"),
    (["create", "bad name!", "--tenant", "acme"], "username: Enter a valid username"),
])
def test_create_refuses(tmp_path, make_tenant, args, message):
    make_tenant("acme")
    secret = tmp_path / "password"
    secret.write_text("a long enough password")
    with pytest.raises(CommandError, match=message):
        call_command("user", *args, "--password-file", str(secret))


def test_a_weak_password_is_refused_with_the_validators_words(tmp_path, make_tenant):
    make_tenant("acme")
    secret = tmp_path / "password"
    secret.write_text("12345678")
    with pytest.raises(CommandError, match="password: This password is too common"):
        call_command("user", "create", "bob", "--tenant", "acme", "--password-file", str(secret))
    assert not get_user_model().objects.filter(username="bob").exists()


def test_add_makes_a_user_a_member_of_another_tenant(make_tenant):
    make_tenant("acme")
    make_tenant("initech")
    call_command("user", "add", "acme-admin", "--tenant", "initech", stdout=io.StringIO())
    assert set(Membership.objects.filter(user__username="acme-admin").values_list("tenant__name", flat=True)) == \
        {"acme", "initech"}
    with pytest.raises(CommandError, match="user 'nobody' not found"):
        call_command("user", "add", "nobody", "--tenant", "acme")
