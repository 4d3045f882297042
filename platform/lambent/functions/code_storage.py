"""Code packages kept in the database (``LAMBENT_CODE_STORAGE=database``), for installations whose
processes share no file system: on Kubernetes the api that stores a zip and the executor that
unpacks it run in different pods, maybe on different nodes, and every one of them reaches the
database already. A Django ``Storage``, so nothing else tells it from the file system's.

Names are content addresses (``CodeArtifact.storage_name``: the sha256): a name stored once holds
those bytes for ever, so saving a name already there changes nothing, and two uploads of the same
code at once store it once. A row holds a whole zip (50 MB at most zipped, see
``lambent.functions.limits``), read whole, as the executor reads a package once per sandbox host.
"""

from __future__ import annotations

from typing import Any

from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage
from django.db.models.functions import Length

from lambent.functions.models import StoredCode


class DatabaseStorage(Storage):
    def _open(self, name: str, mode: str = "rb") -> File[Any]:
        if mode not in ("r", "rb"):
            raise ValueError(f"stored code is read-only: cannot open it with mode {mode!r}")
        data = StoredCode.objects.filter(name=name).values_list("data", flat=True).first()
        if data is None:
            raise FileNotFoundError(f"no stored code named {name}")
        return ContentFile(bytes(data), name=name)

    def _save(self, name: str, content: File[Any]) -> str:
        StoredCode.objects.get_or_create(name=name, defaults={"data": b"".join(content.chunks())})
        return name

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return name  # a content address: the same name is the same bytes

    def exists(self, name: str) -> bool:
        return StoredCode.objects.filter(name=name).exists()

    def delete(self, name: str) -> None:
        StoredCode.objects.filter(name=name).delete()

    def size(self, name: str) -> int:
        size = StoredCode.objects.filter(name=name).values_list(Length("data"), flat=True).first()
        if size is None:
            raise FileNotFoundError(f"no stored code named {name}")
        return int(size)
