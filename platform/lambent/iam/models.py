"""Tenants, memberships and access keys.

A tenant is what AWS calls an account: every function, version, alias and invocation
belongs to exactly one, and one tenant never sees another's. Users are Django's; a
membership lets a user act in a tenant, and an access key lets a program act as a user
within one tenant.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"


def new_account_id() -> str:
    """A random 12-digit account id, as AWS account ids are."""
    return f"{secrets.randbelow(10**12):012d}"


class Tenant(models.Model):
    """A customer of the platform and the unit of isolation, like an AWS account."""

    name = models.CharField(
        max_length=64,
        unique=True,
        validators=[RegexValidator(NAME_PATTERN, "1-64 letters, digits, '-' or '_', starting with a letter or digit.")],
    )
    account_id = models.CharField(max_length=12, unique=True, default=new_account_id, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.account_id})"


class Membership(models.Model):
    """A user's right to act in a tenant."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="iam_membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant.name}"


class AccessKey(models.Model):
    """Programmatic credentials of one user in one tenant.

    The secret is shown once, when the key is issued, and stored encrypted with the
    master key rather than hashed: verifying an AWS Signature Version 4 needs the
    secret itself on the server side.
    """

    access_key_id = models.CharField(max_length=20, unique=True, editable=False)
    encrypted_secret = models.TextField(editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_keys")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="access_keys")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.access_key_id
