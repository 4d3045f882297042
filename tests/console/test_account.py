"""Signing in and out, the failed-sign-in limit, changing the password, switching tenants."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from lambent.console.models import SignInFailure
from lambent.iam import services as iam_services
from tests.console.conftest import PASSWORD, ConsoleClient, errors_of

pytestmark = pytest.mark.django_db


def test_the_sign_in_page_is_html_and_sets_the_csrf_cookie(browser):
    response = browser.get("/console/sign-in")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert 'name="csrfmiddlewaretoken"' in response.content.decode()
    assert "csrftoken" in browser.cookies


def test_signing_in_goes_to_the_functions_or_to_next(browser, member):
    response = browser.sign_in(member.username)
    assert response.status_code == 302 and response["Location"] == "/console/functions/"
    assert browser.get("/console/functions/").status_code == 200
    browser.logout()
    response = browser.submit("/console/sign-in", {"username": member.username, "password": PASSWORD,
                                                    "next": "/console/functions/new"})
    assert response["Location"] == "/console/functions/new"


def test_an_outside_next_is_ignored(browser, member):
    response = browser.submit("/console/sign-in", {"username": member.username, "password": PASSWORD,
                                                    "next": "https://evil.example/steal"})
    assert response["Location"] == "/console/functions/"


def test_a_wrong_password_says_so_and_signs_nobody_in(browser, member):
    response = browser.sign_in(member.username, "not the password")
    assert response.status_code == 400
    assert any("correct username and password" in error for error in errors_of(response))
    assert browser.get("/console/functions/").status_code == 302
    assert SignInFailure.objects.filter(username="alice").count() == 1


def test_too_many_failures_lock_that_username_from_that_address(browser, member, settings):
    settings.CONSOLE_SIGN_IN_FAILURES = 3
    for _ in range(3):
        assert browser.sign_in(member.username, "guess").status_code == 400
    response = browser.sign_in(member.username)  # the right password, too late
    assert response.status_code == 429
    assert any("Too many failed sign-ins as alice" in error and "try again in 15 minutes" in error
               for error in errors_of(response))
    assert browser.get("/console/functions/").status_code == 302
    elsewhere = ConsoleClient()
    response = elsewhere.submit("/console/sign-in", {"username": member.username, "password": PASSWORD},
                                REMOTE_ADDR="10.0.0.9")
    assert response.status_code == 302  # another address is not held back


def test_failures_leave_the_window_and_a_success_clears_them(browser, member, settings):
    settings.CONSOLE_SIGN_IN_FAILURES = 2
    assert browser.sign_in(member.username, "guess").status_code == 400
    assert browser.sign_in(member.username).status_code == 302
    assert not SignInFailure.objects.exists()
    browser.logout()
    settings.CONSOLE_SIGN_IN_WINDOW_SECONDS = 1
    for _ in range(2):
        browser.sign_in(member.username, "guess")
    assert browser.sign_in(member.username).status_code == 429
    SignInFailure.objects.update(at="2000-01-01T00:00:00Z")
    assert browser.sign_in(member.username).status_code == 302


def test_signing_out_takes_a_post_and_ends_the_session(signed_in):
    assert signed_in.get("/console/sign-out").status_code == 405
    response = signed_in.submit("/console/sign-out")
    assert response.status_code == 302 and response["Location"] == "/console/sign-in"
    assert signed_in.get("/console/functions/").status_code == 302


def test_changing_the_password(signed_in, member):
    response = signed_in.submit("/console/password", {"old_password": "wrong", "new_password1": "a new secret 42",
                                                      "new_password2": "a new secret 42"})
    assert response.status_code == 400
    assert any("old password was entered incorrectly" in error for error in errors_of(response))
    response = signed_in.submit("/console/password", {"old_password": PASSWORD, "new_password1": "short",
                                                      "new_password2": "short"})
    assert any("too short" in error for error in errors_of(response))
    user = get_user_model().objects.get(username="alice")
    assert user.check_password(PASSWORD)
    response = signed_in.submit("/console/password", {"old_password": PASSWORD, "new_password1": "a new secret 42",
                                                      "new_password2": "a new secret 42"})
    assert response.status_code == 302
    assert signed_in.get("/console/functions/").status_code == 200  # this session stays signed in
    user.refresh_from_db()
    assert user.check_password("a new secret 42")


def test_a_user_of_two_tenants_switches_between_them(signed_in, member, make_tenant):
    other = make_tenant("initech").tenant
    iam_services.membership_add(tenant=other, username=member.username)
    assert "in acme" in signed_in.get("/console/functions/").content.decode()
    response = signed_in.submit("/console/tenant", {"tenant": "initech"})
    assert response.status_code == 302
    assert "in initech" in signed_in.get("/console/functions/").content.decode()


def test_switching_to_a_tenant_one_is_not_a_member_of_is_404(signed_in, outsider):
    response = signed_in.submit("/console/tenant", {"tenant": outsider.tenant.name})
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert "in acme" in signed_in.get("/console/functions/").content.decode()


def test_a_user_of_no_tenant_gets_an_html_403(browser, db):
    get_user_model().objects.create_user(username="loner", password=PASSWORD)
    assert browser.sign_in("loner").status_code == 302
    response = browser.get("/console/functions/")
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    assert "not a member of any tenant" in response.content.decode()
