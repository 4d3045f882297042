"""Code packages: validating a zip and keeping it, once, by its sha256.

Every entry of an upload is inflated and counted (``lambent.functions.archives``, which
believes nothing the zip says of itself): it proves the zip is real and within the limits
before it is stored, gives the size it really unpacks to, and lists the files a runtime
checks a handler against.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages

from lambent.errors import InvalidParameter
from lambent.functions import archives, limits
from lambent.functions.models import CodeArtifact

FIELD = "zip_file"


@dataclass(frozen=True)
class CodePackage:
    data: bytes
    sha256: str
    unzipped_size: int
    files: frozenset[str]

    @property
    def size(self) -> int:
        return len(self.data)


def check_zipped_size(size: int) -> None:
    """Refuse an upload by its size alone, before reading it."""
    if size > limits.CODE_ZIPPED_MAX_BYTES:
        raise InvalidParameter.field(
            FIELD, f"The zip is {size} bytes; the limit is {limits.CODE_ZIPPED_MAX_BYTES} bytes zipped."
        )


def inspect_zip(data: bytes) -> CodePackage:
    check_zipped_size(len(data))
    if not data:
        raise InvalidParameter.field(FIELD, "The zip is empty.")
    try:
        contents = archives.read(data)
    except archives.ArchiveError as exc:
        raise InvalidParameter.field(FIELD, str(exc)) from None
    return CodePackage(data=data, sha256=hashlib.sha256(data).hexdigest(), unzipped_size=contents.unzipped_size,
                       files=contents.files)


def code_storage() -> Storage:
    return storages["code"]


def code_store(package: CodePackage) -> CodeArtifact:
    """The artifact for this content, written to storage the first time it is seen."""
    artifact, _ = CodeArtifact.objects.get_or_create(
        sha256=package.sha256, defaults={"size": package.size, "unzipped_size": package.unzipped_size}
    )
    storage = code_storage()
    if not storage.exists(artifact.storage_name):
        saved = storage.save(artifact.storage_name, ContentFile(package.data))
        if saved != artifact.storage_name:  # written meanwhile by a concurrent upload of the same code
            storage.delete(saved)
    return artifact


def code_files(artifact: CodeArtifact) -> frozenset[str]:
    """The file names of stored code, read from the zip's central directory."""
    with code_storage().open(artifact.storage_name, "rb") as handle, zipfile.ZipFile(handle) as archive:
        return frozenset(member.filename for member in archive.infolist() if not member.is_dir())


def read_code(sha256: str) -> bytes:
    """The stored zip with this sha256: what executors unpack into a sandbox's /var/task."""
    with code_storage().open(CodeArtifact(sha256=sha256).storage_name, "rb") as handle:
        data: bytes = handle.read()
    return data
