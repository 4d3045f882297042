"""``lambent user create USERNAME --tenant NAME [--password-file FILE] | add USERNAME --tenant NAME``:
the people who sign in to the web console (``/console/``), for operators.

The password is asked for twice at a prompt, or read from the first line of a file (``-`` for
standard input) so that scripts need not put it on a command line, where ``ps`` shows it.
"""

from __future__ import annotations

import getpass
import sys
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from lambent.errors import InvalidParameter, UserError
from lambent.iam import selectors, services


class Command(BaseCommand):
    help = "Create console users in a tenant, or let a user act in one more tenant."

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Create a user who signs in to the console, in a tenant.")
        create.add_argument("username")
        create.add_argument("--tenant", required=True, help="The tenant the user belongs to.")
        create.add_argument("--password-file", help="Read the password from this file's first line ('-': stdin).")
        add = actions.add_parser("add", help="Make an existing user a member of one more tenant.")
        add.add_argument("username")
        add.add_argument("--tenant", required=True)

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        try:
            tenant = selectors.tenant_get(name=options["tenant"])
            if action == "create":
                password = _password(options["password_file"])
                user = services.user_create(tenant=tenant, username=options["username"], password=password)
                self.stdout.write(f"user {user.username} created in tenant {tenant.name}; sign in at /console/")
            else:
                services.membership_add(tenant=tenant, username=options["username"])
                self.stdout.write(f"user {options['username']} is a member of tenant {tenant.name}")
        except InvalidParameter as exc:
            raise CommandError("; ".join(f"{field}: {' '.join(messages)}"
                                         for field, messages in exc.fields.items()) or exc.message) from None
        except UserError as exc:
            raise CommandError(exc.message) from None


def _password(path: str | None) -> str:
    if path == "-":
        return sys.stdin.readline().rstrip("\n")
    if path:
        try:
            lines = Path(path).read_text().splitlines()
        except OSError as exc:
            raise CommandError(f"cannot read the password file: {exc}") from None
        return lines[0] if lines else ""
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password (again): "):
        raise CommandError("the two passwords differ")
    return first
