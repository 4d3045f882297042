"""Fixtures of the console's tests: tenants with console users, and browsers of the test client
that enforce CSRF as a real one meets it (``ConsoleClient.submit`` sends the form's token)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from lambent.iam import services as iam_services
from lambent.iam.models import Tenant
from lambent.iam.services import NewTenant
from tests.conftest import make_zip

PASSWORD = "correct horse battery staple"
ECHO_SOURCE = ("import os\n\ndef handler(event, context):\n"
               "    return {'event': event, 'greeting': os.environ.get('GREETING')}\n")


class ConsoleClient(Client):
    """Django's test client with CSRF checks on; ``submit`` posts with the token of the page's form."""

    def __init__(self) -> None:
        super().__init__(enforce_csrf_checks=True)

    def token(self, url: str = "/console/sign-in") -> str:
        if "csrftoken" not in self.cookies:
            self.get(url)
        return self.cookies["csrftoken"].value

    def submit(self, url: str, data: dict[str, Any] | None = None, **extra: Any) -> Any:
        return self.post(url, {**(data or {}), "csrfmiddlewaretoken": self.token()}, **extra)

    def sign_in(self, username: str, password: str = PASSWORD) -> Any:
        return self.submit("/console/sign-in", {"username": username, "password": password})


@dataclass
class Member:
    """A tenant and a console user of it."""

    new_tenant: NewTenant
    username: str

    @property
    def tenant(self) -> Tenant:
        return self.new_tenant.tenant


@pytest.fixture
def make_member(make_tenant: Callable[[str], NewTenant]) -> Callable[[str, str], Member]:
    def make(tenant_name: str, username: str) -> Member:
        new_tenant = make_tenant(tenant_name)
        iam_services.user_create(tenant=new_tenant.tenant, username=username, password=PASSWORD)
        return Member(new_tenant=new_tenant, username=username)
    return make


@pytest.fixture
def member(make_member: Callable[[str, str], Member]) -> Member:
    return make_member("acme", "alice")


@pytest.fixture
def outsider(make_member: Callable[[str, str], Member]) -> Member:
    return make_member("globex", "mallory")


@pytest.fixture
def browser() -> ConsoleClient:
    return ConsoleClient()


@pytest.fixture
def signed_in(browser: ConsoleClient, member: Member) -> ConsoleClient:
    assert browser.sign_in(member.username).status_code == 302
    return browser


def make_function(tenant: Tenant, name: str = "hello", source: str = ECHO_SOURCE, **configuration: Any) -> None:
    from lambent.functions import services
    from lambent.functions.configuration import FunctionConfiguration

    services.function_create(tenant=tenant, name=name, zip_file=make_zip({"app.py": source}),
                             configuration=FunctionConfiguration(runtime="python3.12", handler="app.handler",
                                                                 **configuration))


def errors_of(response: Any, *, field: str | None = None) -> list[str]:
    """The messages the page shows as errors, as text; with ``field``, those beside that field only."""
    page = response.content.decode()
    if field is not None:
        start = page.index(f'for="id_{field}"')
        page = page[start:page.index("</div>", start)]
    return [html.unescape(re.sub(r"\s+", " ", text).strip())
            for text in re.findall(r'<p class="error" role="alert">(.*?)</p>', page, re.S)]
