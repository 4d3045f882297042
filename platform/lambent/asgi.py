"""The ASGI application the ``api`` process serves (``lambent api``)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lambent.settings")

application = get_asgi_application()
