"""``lambent up``: the whole platform in the foreground, as ``make dev`` runs it.

Migrates, creates a ``demo`` tenant the first time (printing its credentials), starts
the embedded Redis when no ``LAMBENT_REDIS_URL`` is given, then runs every process of
the ``Procfile`` with honcho until Ctrl-C, which stops them all.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from honcho.environ import parse_procfile
from honcho.manager import Manager

from lambent.embedded_redis import embedded_redis
from lambent.iam import selectors, services

DEMO_TENANT = "demo"


class Command(BaseCommand):
    help = "Run the whole platform in the foreground (Ctrl-C stops it)."

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        self._ensure_demo_tenant()
        with embedded_redis(settings.EMBEDDED_REDIS_SOCKET) if settings.EMBEDDED_REDIS else contextlib.nullcontext():
            sys.exit(self._run_procfile())

    def _ensure_demo_tenant(self) -> None:
        if selectors.tenant_list().filter(name=DEMO_TENANT).exists():
            self.stdout.write(f"Tenant {DEMO_TENANT!r} exists; `lambent tenant key {DEMO_TENANT}` issues another key.")
            return
        issued = services.tenant_create(name=DEMO_TENANT).credentials
        self.stdout.write(self.style.SUCCESS(f"Created tenant {DEMO_TENANT!r}. Its credentials, shown once:"))
        self.stdout.write(
            f"  access key id:     {issued.access_key_id}\n"
            f"  secret access key: {issued.secret_access_key}\n"
            f"  export LAMBENT_KEY={issued.access_key_id}:{issued.secret_access_key}\n"
        )

    def _run_procfile(self) -> int:
        procfile = parse_procfile((settings.BASE_DIR / "Procfile").read_text())
        env = {**os.environ, "LAMBENT_DATA_DIR": str(settings.DATA_DIR), "PYTHONUNBUFFERED": "1"}
        # The console script's folder first, so the Procfile's `lambent` is this installation's.
        env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
        manager = Manager()
        for name, command in procfile.processes.items():
            manager.add_process(name, command, env=env, cwd=str(settings.BASE_DIR))
        manager.loop()
        # Ctrl-C (130) or SIGTERM (143) asked for the stop that just completed.
        return 0 if manager.returncode in (None, 130, 143) else manager.returncode
