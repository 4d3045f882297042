"""Authentication of the native API: ``Authorization: Bearer <access key id>:<secret>``.

The same access keys will sign Lambda-compatible requests with SigV4; the native API
takes the pair directly, over TLS in production, because it keeps curl sessions and
scripts one header long. Failing to prove who you are is 401; proving it with a key
that may no longer act in its tenant (deactivated key or user, membership removed) is 403.

``authenticate`` holds the rules; the DRF classes below and the asynchronous invoke view
both call it.
"""

from __future__ import annotations

import hmac
from typing import Any

from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from lambent.errors import AccessDenied, Unauthenticated
from lambent.iam import crypto, selectors
from lambent.iam.models import AccessKey

SCHEME = "Bearer"
USAGE = f"'Authorization: {SCHEME} <access key id>:<secret>'"


def authenticate(header: str) -> AccessKey:
    """The live access key the header proves, with its user and tenant; raises
    ``Unauthenticated`` (401) or ``AccessDenied`` (403)."""
    key = _verified_key(header)
    check_may_act(key)
    return key


def _verified_key(header: str) -> AccessKey:
    scheme, _, credentials = header.partition(" ")
    if scheme != SCHEME:
        raise Unauthenticated(f"Authentication required: {USAGE}.")
    key_id, separator, secret = credentials.strip().partition(":")
    if not separator or not key_id or not secret:
        raise Unauthenticated(f"Malformed credentials: expected {USAGE}.")
    key = selectors.access_key_for_authentication(access_key_id=key_id)
    stored = crypto.decrypt_secret(key.encrypted_secret) if key is not None else None
    if key is None or stored is None or not hmac.compare_digest(stored.encode(), secret.encode()):
        raise Unauthenticated("Invalid access key id or secret.")
    return key


class AccessKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, AccessKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header.startswith(f"{SCHEME} ") and header != SCHEME:
            return None
        try:
            key = _verified_key(header)
        except Unauthenticated as exc:
            raise exceptions.AuthenticationFailed(exc.message) from None
        return key.user, key

    def authenticate_header(self, request: Request) -> str:
        return f'{SCHEME} realm="lambent"'


class IsTenantMember(permissions.BasePermission):
    """The access key, its user and the user's membership in the key's tenant are all live."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if not isinstance(request.auth, AccessKey):
            raise exceptions.NotAuthenticated(f"Authentication required: {USAGE}.")
        try:
            check_may_act(request.auth)
        except AccessDenied as exc:
            raise exceptions.PermissionDenied(exc.message) from None
        return True


def check_may_act(key: AccessKey) -> None:
    if not key.is_active:
        raise AccessDenied(f"Access key {key.access_key_id} is inactive.")
    if not key.user.is_active:
        raise AccessDenied(f"The user of access key {key.access_key_id} is disabled.")
    if not selectors.is_member(tenant=key.tenant, user_id=key.user.pk):
        raise AccessDenied(
            f"The user of access key {key.access_key_id} is no longer a member of tenant {key.tenant.name}."
        )
