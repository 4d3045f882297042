"""The functions list (search, sort, pages), creating a function from typed code or a zip, and
deleting one with its confirmation; bad input shows the API's message and creates nothing."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from lambent.functions.models import Function
from lambent.functions.selectors import latest_get
from lambent.functions.services import function_update_configuration
from tests.conftest import make_zip
from tests.console.conftest import errors_of, make_function

pytestmark = pytest.mark.django_db


def names_listed(response) -> list[str]:
    return re.findall(r'<a href="/console/functions/([^/]+)/test">', response.content.decode())


def test_the_list_shows_the_tenants_functions_only(signed_in, member, outsider):
    make_function(member.tenant, "mine")
    make_function(outsider.tenant, "theirs")
    response = signed_in.get("/console/functions/")
    assert names_listed(response) == ["mine"]
    assert "python3.12" in response.content.decode()


def test_search_by_name_or_description(signed_in, member):
    for name in ("orders-api", "orders-worker", "billing"):
        make_function(member.tenant, name)
    function_update_configuration(tenant=member.tenant, name="billing", changes={"description": "Sends ORDERS out"})
    assert names_listed(signed_in.get("/console/functions/?q=worker")) == ["orders-worker"]
    assert names_listed(signed_in.get("/console/functions/?q=orders")) == ["billing", "orders-api", "orders-worker"]
    response = signed_in.get("/console/functions/?q=nothing-like-it")
    assert names_listed(response) == [] and "No function matches" in response.content.decode()


def test_sort_by_name_and_by_last_modified(signed_in, member):
    for name in ("b", "a", "c"):
        make_function(member.tenant, name)
    function_update_configuration(tenant=member.tenant, name="a", changes={"timeout": 9})
    assert names_listed(signed_in.get("/console/functions/?sort=-name")) == ["c", "b", "a"]
    assert names_listed(signed_in.get("/console/functions/?sort=-modified"))[0] == "a"
    assert names_listed(signed_in.get("/console/functions/?sort=modified"))[-1] == "a"
    assert names_listed(signed_in.get("/console/functions/?sort=password")) == ["a", "b", "c"]  # unknown: by name


def test_pages_of_twenty(signed_in, member):
    for number in range(23):
        make_function(member.tenant, f"fn-{number:02d}")
    first = signed_in.get("/console/functions/")
    assert len(names_listed(first)) == 20 and "Page 1 of 2" in first.content.decode()
    second = signed_in.get("/console/functions/?page=2")
    assert names_listed(second) == ["fn-20", "fn-21", "fn-22"]
    assert names_listed(signed_in.get("/console/functions/?page=99")) == ["fn-20", "fn-21", "fn-22"]


def test_create_from_typed_code(signed_in, member):
    code = "def main(event, context):\n    return 'typed'\n"
    response = signed_in.submit("/console/functions/new", {"name": "typed", "runtime": "python3.12",
                                                           "handler": "lib.tool.main", "source": "editor",
                                                           "code": code})
    assert response.status_code == 302 and response["Location"] == "/console/functions/typed/test"
    latest = latest_get(tenant=member.tenant, function_name="typed")
    assert latest.handler == "lib.tool.main" and latest.runtime == "python3.12"
    from lambent.functions.code_packages import code_files
    assert code_files(latest.code) == frozenset({"lib/tool.py"})


def test_create_from_an_uploaded_zip(signed_in, member):
    upload = SimpleUploadedFile("code.zip", make_zip({"app.py": "def handler(e, c):\n    return 1\n"}),
                                content_type="application/zip")
    response = signed_in.submit("/console/functions/new", {"name": "zipped", "runtime": "python3.11",
                                                           "handler": "app.handler", "source": "zip",
                                                           "zip_file": upload})
    assert response.status_code == 302
    assert latest_get(tenant=member.tenant, function_name="zipped").runtime == "python3.11"


@pytest.mark.parametrize("changes,field,message", [
    ({"name": "no spaces"}, "name", "1-64 letters, digits, '-' or '_'."),
    ({"runtime": "cobol"}, "runtime", '"cobol" is not a valid choice.'),
    ({"handler": "nodot"}, "handler", "must be '<module>.<function>'"),
    ({"code": "   "}, "code", "Type the handler's code."),
    ({"source": "zip"}, "zip_file", "Choose a zip file to upload."),
])
def test_bad_input_shows_the_message_beside_the_field_and_creates_nothing(signed_in, member, changes, field,
                                                                          message):
    data = {"name": "bad", "runtime": "python3.12", "handler": "app.handler", "source": "editor",
            "code": "def handler(e, c):\n    return 1\n", **changes}
    response = signed_in.submit("/console/functions/new", data)
    assert response.status_code == 400
    assert any(message in error for error in errors_of(response, field=field)), errors_of(response)
    assert not Function.objects.filter(tenant=member.tenant).exists()


def test_a_handler_the_zip_lacks_is_refused_beside_the_handler(signed_in, member):
    upload = SimpleUploadedFile("code.zip", make_zip({"main.py": "def handler(e, c):\n    return 1\n"}))
    response = signed_in.submit("/console/functions/new", {"name": "lost", "runtime": "python3.12",
                                                           "handler": "app.handler", "source": "zip",
                                                           "zip_file": upload})
    assert response.status_code == 400
    assert any("the code has no app.py" in error for error in errors_of(response, field="handler"))
    assert not Function.objects.exists()


def test_a_zip_that_is_not_one_is_refused(signed_in, member):
    upload = SimpleUploadedFile("code.zip", b"not a zip at all", content_type="application/zip")
    response = signed_in.submit("/console/functions/new", {"name": "broken", "runtime": "python3.12",
                                                           "handler": "app.handler", "source": "zip",
                                                           "zip_file": upload})
    assert response.status_code == 400 and errors_of(response)
    assert not Function.objects.exists()


def test_a_name_in_use_is_a_conflict_on_the_name(signed_in, member):
    make_function(member.tenant, "taken")
    response = signed_in.submit("/console/functions/new", {"name": "taken", "runtime": "python3.12",
                                                           "handler": "app.handler", "source": "editor",
                                                           "code": "def handler(e, c):\n    return 1\n"})
    assert response.status_code == 400
    assert "Function already exists: taken" in errors_of(response)


def test_delete_asks_for_the_name_first(signed_in, member):
    make_function(member.tenant, "doomed")
    page = signed_in.get("/console/functions/doomed/delete")
    assert page.status_code == 200 and "Type <strong>doomed</strong> to confirm" in page.content.decode()
    response = signed_in.submit("/console/functions/doomed/delete", {"confirm": "doom"})
    assert response.status_code == 400
    assert Function.objects.filter(name="doomed").exists()
    response = signed_in.submit("/console/functions/doomed/delete", {"confirm": "doomed"})
    assert response.status_code == 302 and response["Location"] == "/console/functions/"
    assert not Function.objects.filter(name="doomed").exists()
