"""Code packages are inflated and counted, never believed: what a zip says of its sizes does not
matter, what it really unpacks to does, at upload and on a node alike."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from lambent.functions import archives, limits
from lambent.functions.code_packages import code_storage
from lambent.functions.models import Version
from tests.conftest import b64, function_body, lying_zip, make_zip


def _entries(count: int) -> bytes:
    return make_zip({"app.py": "def handler(e, c):\n    return e\n",
                     **{f"pkg/m{n}.py": "" for n in range(count)}}, compression=zipfile.ZIP_STORED)


def _upload(api, data: bytes):
    return api.post("/api/v1/functions", function_body(zip_file=b64(data)), format="json")


@pytest.mark.parametrize(("data", "said"), [
    (lying_zip(), "Not a valid zip archive"),
    (make_zip({"app.py": "def handler(e, c):\n    return e\n", "zeros.bin": b"\0" * 3_000_000}), "zip bomb"),
    (_entries(archives.MAX_ENTRIES), f"the limit is {archives.MAX_ENTRIES}"),
    (make_zip({"app.py": "x", "../escape.py": "x"}), "outside its root"),
    (make_zip({"app.py": "def handler(e, c):\n    return e\n"}, compression=zipfile.ZIP_BZIP2), "neither stored"),
])
def test_a_package_that_breaks_a_limit_is_a_400_at_upload(api, data, said):
    response = _upload(api, data)
    assert response.status_code == 400, response.content
    assert said in response.json()["fields"]["zip_file"][0]


def test_the_unzipped_limit_counts_inflated_bytes_not_the_directory(monkeypatch):
    data = make_zip({"a.txt": "a" * 5000, "b.txt": "b" * 5000}, compression=zipfile.ZIP_STORED)
    monkeypatch.setattr(limits, "CODE_UNZIPPED_MAX_BYTES", 9999)
    with pytest.raises(archives.ArchiveError, match="unpacks to more than 9999 bytes"):
        archives.read(data)
    monkeypatch.setattr(limits, "CODE_UNZIPPED_MAX_BYTES", 10000)
    assert archives.read(data).unzipped_size == 10000


def test_the_stored_unzipped_size_is_what_the_zip_really_unpacks_to(api):
    response = _upload(api, make_zip({"app.py": "def handler(e, c):\n    return e\n" + "#" * 1000}))
    assert response.status_code == 201, response.content
    version = Version.objects.get(function__name="hello")
    assert version.code.unzipped_size == len("def handler(e, c):\n    return e\n") + 1000


def test_a_stored_package_that_will_not_unpack_is_the_function_s_init_error(api, create_function, fake_executor,
                                                                            settings):
    """A package stored before the limits existed: every invoke is a clean function error, never a 5xx."""
    # Code of its own: stored files outlive a test's database, and other tests use the usual zip.
    create_function("hello", zip_file=b64(make_zip({"app.py": "def handler(e, c):\n    return 'lies'\n"})))
    artifact = Version.objects.get(function__name="hello").code
    storage = code_storage()
    storage.delete(artifact.storage_name)
    storage.save(artifact.storage_name, io.BytesIO(lying_zip()))
    for _ in range(2):
        response = api.post("/api/v1/functions/hello/invoke", {}, format="json")
        assert response.status_code == 200, response.content
        assert response["X-Lambent-Function-Error"] == "Unhandled"
        error = json.loads(response.content)
        assert error["errorType"] == "Runtime.InvalidZipFile"
        assert "Not a valid zip archive" in error["errorMessage"]
        assert str(settings.DATA_DIR) not in response.content.decode()
