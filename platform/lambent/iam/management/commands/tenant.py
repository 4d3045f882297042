"""``lambent tenant create NAME [--account-id ID] [--json] | list | key NAME``: tenants for operators."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from lambent.errors import UserError
from lambent.iam import selectors, services


class Command(BaseCommand):
    help = "Create and list tenants, and issue access keys for them."

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Create a tenant and print its first credentials.")
        create.add_argument("name")
        create.add_argument("--json", action="store_true", help="Print the credentials as one JSON object.")
        create.add_argument("--account-id", help="The tenant's 12-digit account id (default: a random unused one).")
        actions.add_parser("list", help="List tenants.")
        key = actions.add_parser("key", help="Issue another access key to a tenant's first user.")
        key.add_argument("name")
        key.add_argument("--json", action="store_true", help="Print the credentials as one JSON object.")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        try:
            if action == "create":
                created = services.tenant_create(name=options["name"], account_id=options["account_id"])
                self._print_credentials(created.tenant.account_id, created.credentials, as_json=options["json"])
            elif action == "key":
                tenant = selectors.tenant_get(name=options["name"])
                member = selectors.tenant_first_member(tenant=tenant)
                issued = services.access_key_issue(tenant=tenant, user=member.user)
                self._print_credentials(tenant.account_id, issued, as_json=options["json"])
            else:
                for tenant in selectors.tenant_list():
                    self.stdout.write(f"{tenant.account_id}  {tenant.name}")
        except UserError as exc:
            raise CommandError(exc.message) from None

    def _print_credentials(self, account_id: str, issued: services.IssuedAccessKey, *, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps({
                "account_id": account_id,
                "access_key_id": issued.access_key_id,
                "secret_access_key": issued.secret_access_key,
            }))
            return
        self.stdout.write(
            f"tenant:            {issued.access_key.tenant.name}\n"
            f"account id:        {account_id}\n"
            f"access key id:     {issued.access_key_id}\n"
            f"secret access key: {issued.secret_access_key}   (shown once; keep it safe)\n"
            f"API header:        Authorization: Bearer {issued.access_key_id}:{issued.secret_access_key}"
        )
