"""Code kept in the database (``LAMBENT_CODE_STORAGE=database``): stored once by its sha256 whoever
uploads it, unpacked by the executor from there, downloaded through a code link, never on disk."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from django.core.files.storage import storages

from lambent.functions.code_packages import read_code
from lambent.functions.models import CodeArtifact, StoredCode
from tests.conftest import b64, make_zip


@pytest.fixture
def in_database(settings):
    settings.STORAGES = {**settings.STORAGES, "code": {"BACKEND": "lambent.functions.code_storage.DatabaseStorage"}}
    return storages["code"]


def test_code_is_stored_once_in_the_database_and_run_from_there(transactional_db, api, create_function, fake_executor,
                                                                  in_database, settings):
    zipped = make_zip({"app.py": "def handler(event, context):\n    return {'doubled': event['n'] * 2}\n"})
    create_function("one", zip_file=b64(zipped))
    create_function("two", zip_file=b64(zipped))

    artifact = CodeArtifact.objects.get()
    assert artifact.sha256 == hashlib.sha256(zipped).hexdigest()
    assert list(StoredCode.objects.values_list("name", flat=True)) == [artifact.storage_name]
    assert read_code(artifact.sha256) == zipped and in_database.size(artifact.storage_name) == len(zipped)
    assert not (settings.DATA_DIR / "code" / artifact.storage_name).exists()
    response = api.post("/api/v1/functions/two/invoke", {"n": 21}, format="json")
    assert response.status_code == 200 and json.loads(response.content) == {"doubled": 42}


def test_stored_code_is_downloaded_through_its_link_and_never_written_through_storage(api, create_function,
                                                                                       in_database):
    zipped = make_zip()
    create_function("hello", zip_file=b64(zipped))
    name = CodeArtifact.objects.get().storage_name
    assert in_database.save(name, io.BytesIO(b"other bytes")) == name  # a content address keeps its bytes
    assert read_code(CodeArtifact.objects.get().sha256) == zipped
    with pytest.raises(ValueError, match="read-only"):
        in_database.open(name, "wb")
    with pytest.raises(FileNotFoundError):
        in_database.open("00/" + "0" * 64 + ".zip")
    in_database.delete(name)
    assert not in_database.exists(name)
