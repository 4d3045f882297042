from django.apps import AppConfig


class LambentConfig(AppConfig):
    """The project package as an app, for its management commands (``lambent up``, ``lambent api``)."""

    name = "lambent"
    verbose_name = "Lambent"
