"""SHA-256 without ``hashlib``, whose import loads OpenSSL (~4 ms here): CPython's own C module.

Only the attach handshake and the code fetched at specialization need it; both import this lazily.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from _hashlib import HASH


def sha256() -> "HASH":
    """A new SHA-256 hash object (``update``, ``digest``, ``hexdigest``)."""
    for name in ("_sha2", "_sha256"):  # the module's name from 3.12 on, and before
        try:
            module = __import__(name)
        except ImportError:
            continue
        return module.sha256()  # type: ignore[no-any-return]
    import _hashlib  # a build without CPython's own: OpenSSL's

    return _hashlib.openssl_sha256()
