"""Authentication of the native API: ``Authorization: Bearer <access key id>:<secret>``.

The same access keys will sign Lambda-compatible requests with SigV4; the native API
takes the pair directly, over TLS in production, because it keeps curl sessions and
scripts one header long. Failing to prove who you are is 401; proving it with a key
that may no longer act in its tenant (deactivated key or user, membership removed) is 403.
"""

from __future__ import annotations

import hmac
from typing import Any

from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from lambent.iam import crypto, selectors
from lambent.iam.models import AccessKey

SCHEME = "Bearer"


class AccessKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, AccessKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, credentials = header.partition(" ")
        if scheme != SCHEME:
            return None
        key_id, separator, secret = credentials.strip().partition(":")
        if not separator or not key_id or not secret:
            raise exceptions.AuthenticationFailed(
                f"Malformed credentials: expected 'Authorization: {SCHEME} <access key id>:<secret>'."
            )
        key = selectors.access_key_for_authentication(access_key_id=key_id)
        stored = crypto.decrypt_secret(key.encrypted_secret) if key is not None else None
        if key is None or stored is None or not hmac.compare_digest(stored.encode(), secret.encode()):
            raise exceptions.AuthenticationFailed("Invalid access key id or secret.")
        return key.user, key

    def authenticate_header(self, request: Request) -> str:
        return f'{SCHEME} realm="lambent"'


class IsTenantMember(permissions.BasePermission):
    """The access key, its user and the user's membership in the key's tenant are all live."""

    message = "This access key may not act in its tenant."

    def has_permission(self, request: Request, view: Any) -> bool:
        key = request.auth
        if not isinstance(key, AccessKey):
            raise exceptions.NotAuthenticated(
                f"Authentication required: 'Authorization: {SCHEME} <access key id>:<secret>'."
            )
        if not key.is_active:
            raise exceptions.PermissionDenied(f"Access key {key.access_key_id} is inactive.")
        if not key.user.is_active:
            raise exceptions.PermissionDenied(f"The user of access key {key.access_key_id} is disabled.")
        if not selectors.is_member(tenant=key.tenant, user_id=key.user.pk):
            raise exceptions.PermissionDenied(
                f"The user of access key {key.access_key_id} is no longer a member of tenant {key.tenant.name}."
            )
        return True
