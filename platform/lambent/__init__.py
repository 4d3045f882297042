"""Lambent: a self-hosted, multi-tenant Function-as-a-Service platform.

This package is the Django project (settings, URLs, ASGI, the Celery app, the ``lambent``
command) and the parent of one app per domain concept: ``iam``, ``functions``,
``invocations``. It lives in ``platform/``, a source root that is never a package itself
(see tests/test_layout.py for why).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lambent")
except PackageNotFoundError:  # run from a checkout that was never installed (manage.py)
    __version__ = "unknown"
