"""The Celery app of the worker and beat processes.

Configuration comes from Django's settings (the ``CELERY_*`` names); tasks live in the
``worker`` package, found by autodiscovery.
"""

import os

from celery import Celery

import lambent.broker  # noqa: F401 - registers the broker transport the broker URL names

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lambent.settings")

app = Celery("lambent")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["worker"])
