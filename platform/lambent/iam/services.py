"""Writes of the iam app: creating tenants and users, and issuing access keys."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from lambent.errors import Conflict, InvalidParameter, NotFound
from lambent.iam import crypto
from lambent.iam.models import AccessKey, Membership, PolicyAttachment, Tenant
from lambent.iam.policies import managed


@dataclass(frozen=True)
class IssuedAccessKey:
    """An access key together with its secret, which exists in clear only here."""

    access_key: AccessKey
    secret_access_key: str

    @property
    def access_key_id(self) -> str:
        return self.access_key.access_key_id


@dataclass(frozen=True)
class NewTenant:
    tenant: Tenant
    credentials: IssuedAccessKey


def tenant_create(*, name: str, account_id: str | None = None) -> NewTenant:
    """A tenant, its first user (``<name>-admin``, with full access) and that user's first access key.
    ``account_id`` (12 digits, unused) lets ARNs match an existing AWS account's; random by default."""
    tenant = Tenant(name=name) if account_id is None else Tenant(name=name, account_id=account_id)
    try:
        tenant.full_clean(validate_unique=False)
    except ValidationError as exc:
        raise InvalidParameter(fields=exc.message_dict) from None
    if account_id is not None and Tenant.objects.filter(account_id=account_id).exists():
        raise Conflict(f"account id {account_id} belongs to another tenant")
    try:
        with transaction.atomic():
            tenant.save()
            user = tenant_first_user_create(tenant=tenant)
            credentials = access_key_issue(tenant=tenant, user=user)
    except IntegrityError:
        raise Conflict(f"a tenant named {name!r} or a user named {name}-admin already exists") from None
    return NewTenant(tenant=tenant, credentials=credentials)


def tenant_first_user_create(*, tenant: Tenant) -> User:
    """The tenant's first user, ``<name>-admin``, a member of it with ``LambentFullAccess`` attached:
    what access keys are issued to (a tenant made in the admin gets one too). Raises
    ``IntegrityError`` if the name is taken."""
    user: User = get_user_model().objects.create_user(username=f"{tenant.name}-admin")
    Membership.objects.create(user=user, tenant=tenant)
    PolicyAttachment.objects.create(tenant=tenant, user=user, managed_name=managed.FULL_ACCESS)
    return user


def access_key_issue(*, tenant: Tenant, user: User) -> IssuedAccessKey:
    """A new access key for a member of the tenant; its secret is returned only now."""
    if not Membership.objects.filter(tenant=tenant, user=user).exists():
        raise NotFound(f"user {user} is not a member of tenant {tenant.name}")
    secret = crypto.new_secret_access_key()
    key = AccessKey.objects.create(
        access_key_id=crypto.new_access_key_id(),
        encrypted_secret=crypto.encrypt_secret(secret),
        user=user,
        tenant=tenant,
    )
    return IssuedAccessKey(access_key=key, secret_access_key=secret)


def access_key_deactivate(*, tenant: Tenant, access_key_id: str) -> AccessKey:
    updated = AccessKey.objects.filter(tenant=tenant, access_key_id=access_key_id).update(is_active=False)
    if not updated:
        raise NotFound(f"access key {access_key_id} not found")
    return AccessKey.objects.get(tenant=tenant, access_key_id=access_key_id)


def access_key_delete(*, tenant: Tenant, access_key_id: str) -> None:
    """Forget the key: requests signed with it are refused from now on, as for a deactivated one."""
    deleted, _ = AccessKey.objects.filter(tenant=tenant, access_key_id=access_key_id).delete()
    if not deleted:
        raise NotFound(f"access key {access_key_id} not found")


def tenant_lock(tenant: Tenant) -> None:
    """Serialize writes that check a limit of the whole tenant (its quotas, its code storage),
    inside the caller's transaction: a row lock on PostgreSQL; SQLite's transactions already
    take the database's write lock when they begin."""
    Tenant.objects.select_for_update().filter(pk=tenant.pk).first()


def user_create(*, tenant: Tenant, username: str, password: str) -> User:
    """A user who signs in to the console with ``password``, a member of ``tenant``. The password
    must pass ``AUTH_PASSWORD_VALIDATORS``, as it must when changed in the console."""
    model = get_user_model()
    user: User = model(username=username)
    problems: dict[str, list[str]] = {}
    try:
        user.clean_fields(exclude=["password"])
    except ValidationError as exc:
        problems.update(exc.message_dict)
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        problems["password"] = list(exc.messages)
    if problems:
        raise InvalidParameter(fields=problems)
    try:
        with transaction.atomic():
            user.set_password(password)
            user.save()
            Membership.objects.create(user=user, tenant=tenant)
    except IntegrityError:
        raise Conflict(f"a user named {username!r} already exists") from None
    return user


def membership_add(*, tenant: Tenant, username: str) -> Membership:
    """Let an existing user act in one more tenant too (the console lets them switch)."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise NotFound(f"user {username!r} not found")
    membership, _ = Membership.objects.get_or_create(user=user, tenant=tenant)
    return membership
