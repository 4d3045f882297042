"""``lambent quota NAME [--concurrent-executions N|default] [--unreserved-minimum M|default] [--json]``:
show a tenant's concurrency limits, or override them."""

from __future__ import annotations

import json
from argparse import ArgumentParser, ArgumentTypeError
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from lambent.errors import UserError
from lambent.iam import selectors as iam_selectors
from lambent.iam.models import Tenant
from lambent.quotas import selectors, services

DEFAULT = "default"


def _count_or_default(value: str) -> int | str:
    if value == DEFAULT:
        return DEFAULT
    if not value.isdigit():
        raise ArgumentTypeError(f"expected a whole number or {DEFAULT!r}, got {value!r}")
    return int(value)


class Command(BaseCommand):
    help = "Show a tenant's concurrency limits; with options, override them ('default' removes an override)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", help="The tenant's name.")
        parser.add_argument("--concurrent-executions", type=_count_or_default, metavar="N|default",
                            help="Executions at once across the tenant's functions.")
        parser.add_argument("--unreserved-minimum", type=_count_or_default, metavar="M|default",
                            help="Part of the limit that reservations may never take.")
        parser.add_argument("--json", action="store_true", help="Print the limits as one JSON object.")

    def handle(self, *args: Any, name: str, **options: Any) -> None:
        try:
            tenant = iam_selectors.tenant_get(name=name)
            if options["concurrent_executions"] is not None or options["unreserved_minimum"] is not None:
                self._set(tenant, concurrent=options["concurrent_executions"], minimum=options["unreserved_minimum"])
        except UserError as exc:
            raise CommandError(exc.message) from None
        self._show(tenant, as_json=options["json"])

    def _set(self, tenant: Tenant, *, concurrent: int | str | None, minimum: int | str | None) -> None:
        """Change the overrides given; the other one keeps its value."""
        quota = selectors.tenant_quota(tenant=tenant)
        current = (quota.concurrent_executions, quota.unreserved_concurrency_minimum) if quota else (None, None)
        services.quota_set(tenant=tenant, concurrent_executions=_override(concurrent, current[0]),
                           unreserved_concurrency_minimum=_override(minimum, current[1]))

    def _show(self, tenant: Tenant, *, as_json: bool) -> None:
        quota = selectors.tenant_quota(tenant=tenant)
        limits = selectors.effective_limits(quota)
        reserved = sum(selectors.reservations(tenant=tenant).values())
        shown = {
            "tenant": tenant.name, "account_id": tenant.account_id,
            "concurrent_executions": limits.concurrent_executions,
            "concurrent_executions_is_default": quota is None or quota.concurrent_executions is None,
            "unreserved_concurrency_minimum": limits.unreserved_minimum,
            "unreserved_concurrency_minimum_is_default": quota is None or quota.unreserved_concurrency_minimum is None,
            "reserved_concurrent_executions": reserved,
            "unreserved_concurrent_executions": max(limits.concurrent_executions - reserved, 0),
        }
        if as_json:
            self.stdout.write(json.dumps(shown))
            return
        self.stdout.write(f"{'tenant:':<24}{tenant.name}\n{'account id:':<24}{tenant.account_id}")
        for label, key in (("concurrent executions", "concurrent_executions"),
                           ("unreserved minimum", "unreserved_concurrency_minimum")):
            note = "  (default)" if shown[f"{key}_is_default"] else ""
            self.stdout.write(f"{label + ':':<24}{shown[key]}{note}")
        self.stdout.write(f"{'reserved by functions:':<24}{reserved}\n"
                          f"{'unreserved:':<24}{shown['unreserved_concurrent_executions']}")


def _override(given: int | str | None, current: int | None) -> int | None:
    if given is None:
        return current
    return None if given == DEFAULT else int(given)
