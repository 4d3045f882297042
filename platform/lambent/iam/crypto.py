"""Encryption of access-key secrets at rest.

Fernet (AES-128-CBC with HMAC-SHA256) under a key derived by HKDF from
``settings.MASTER_KEY``, so the master key may be any string and the derived key is
used for nothing else. Losing the master key makes every stored secret unusable:
operators back it up with the database.
"""

from __future__ import annotations

import base64
import functools
import secrets
import string

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

_KEY_ID_ALPHABET = string.ascii_uppercase + "234567"


@functools.lru_cache(maxsize=4)
def _fernet(master_key: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"lambent access key secrets").derive(
        master_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt_secret(secret: str) -> str:
    return _fernet(settings.MASTER_KEY).encrypt(secret.encode()).decode()


def decrypt_secret(token: str) -> str | None:
    """The secret, or None if it was encrypted under another master key."""
    try:
        return _fernet(settings.MASTER_KEY).decrypt(token.encode()).decode()
    except InvalidToken:
        return None


def new_access_key_id() -> str:
    """20 characters, ``LKIA`` and 16 of base32's alphabet, shaped like an AWS key id."""
    return "LKIA" + "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(16))


def new_secret_access_key() -> str:
    """40 URL-safe characters (240 bits), the length of an AWS secret access key."""
    return secrets.token_urlsafe(30)
