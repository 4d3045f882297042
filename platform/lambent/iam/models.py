"""Tenants, memberships, access keys, groups and identity policies.

A tenant is what AWS calls an account: every function, version, alias and invocation
belongs to exactly one, and one tenant never sees another's. Users are Django's; a
membership lets a user act in a tenant, and an access key lets a program act as a user
within one tenant. Groups and customer-managed policies belong to a tenant too; what they
mean is decided in ``lambent.iam.policies``.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
ACCOUNT_ID_PATTERN = r"^\d{12}$"
#: IAM's names of groups and policies: 1-128 ASCII letters, digits and ``+=,.@_-``.
IAM_NAME_PATTERN = r"^[A-Za-z0-9_+=,.@-]{1,128}$"
_IAM_NAME = RegexValidator(IAM_NAME_PATTERN, "1-128 letters, digits or '+=,.@_-'.")


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
    account_id = models.CharField(max_length=12, unique=True, default=new_account_id, editable=False,
                                  validators=[RegexValidator(ACCOUNT_ID_PATTERN, "12 digits.")])
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


class Group(models.Model):
    """A set of a tenant's users sharing the policies attached to it."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="groups")
    name = models.CharField(max_length=128, validators=[_IAM_NAME])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="iam_group_unique")]

    def __str__(self) -> str:
        return f"{self.name} in {self.tenant.name}"


class GroupMembership(models.Model):
    """A user in a group; the user is a member of the group's tenant (the services see to it)."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="group_memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="group_memberships")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "user"], name="iam_group_membership_unique")]


class Policy(models.Model):
    """A customer-managed identity policy: one document, replaced in place, ``revision`` counting
    the replacements (no version history)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="policies")
    name = models.CharField(max_length=128, validators=[_IAM_NAME])
    description = models.CharField(max_length=1000, blank=True, default="")
    document = models.JSONField()
    revision = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "policies"
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="iam_policy_unique")]

    def __str__(self) -> str:
        return f"{self.name} in {self.tenant.name}"


class PolicyAttachment(models.Model):
    """A policy attached to a user or a group of the tenant: a customer-managed one (``policy``) or
    one the platform ships, by name (``managed_name``)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="policy_attachments")
    # CASCADE, not PROTECT, so that a tenant goes with everything it holds; the API refuses to delete
    # an attached policy (``policy_delete``), the admin lists the attachments its deletion takes.
    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, null=True, blank=True, related_name="attachments")
    managed_name = models.CharField(max_length=128, blank=True, default="")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True,
                             related_name="policy_attachments")
    group = models.ForeignKey(Group, on_delete=models.CASCADE, null=True, blank=True, related_name="attachments")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(name="iam_attachment_one_policy", condition=(
                models.Q(policy__isnull=True) & ~models.Q(managed_name="")) | (
                models.Q(policy__isnull=False) & models.Q(managed_name=""))),
            models.CheckConstraint(name="iam_attachment_one_target", condition=(
                models.Q(user__isnull=True) & models.Q(group__isnull=False)) | (
                models.Q(user__isnull=False) & models.Q(group__isnull=True))),
            # One attachment of a policy per user or group (a NULL never equals another, hence per kind).
            *(models.UniqueConstraint(fields=[target, "policy"], condition=models.Q(**{f"{target}__isnull": False},
                                                                                  policy__isnull=False),
                                      name=f"iam_attachment_unique_{target}_policy") for target in ("user", "group")),
            *(models.UniqueConstraint(fields=[target, "managed_name"],
                                      condition=models.Q(**{f"{target}__isnull": False}) & ~models.Q(managed_name=""),
                                      name=f"iam_attachment_unique_{target}_managed") for target in ("user", "group")),
        ]

    @property
    def policy_name(self) -> str:
        return self.policy.name if self.policy is not None else self.managed_name
