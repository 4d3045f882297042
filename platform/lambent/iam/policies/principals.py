"""Who is asking: a user acting in a tenant, and the IAM-style ARNs that name users and tenants."""

from __future__ import annotations

from dataclasses import dataclass

from lambent.iam.models import AccessKey, Tenant


def user_arn(*, account_id: str, username: str) -> str:
    return f"arn:aws:iam::{account_id}:user/{username}"


def tenant_arn(*, account_id: str) -> str:
    """The whole tenant, as a policy's Principal names an account."""
    return f"arn:aws:iam::{account_id}:root"


@dataclass(frozen=True)
class Principal:
    """A user acting in one tenant (an access key acts for its user in its tenant)."""

    tenant: Tenant
    user_id: int
    username: str

    @classmethod
    def of_key(cls, key: AccessKey) -> Principal:
        """Who a request signed with ``key`` acts as: its user, in its tenant."""
        return cls(tenant=key.tenant, user_id=key.user_id, username=key.user.username)

    @property
    def account_id(self) -> str:
        return self.tenant.account_id

    @property
    def arn(self) -> str:
        return user_arn(account_id=self.tenant.account_id, username=self.username)
