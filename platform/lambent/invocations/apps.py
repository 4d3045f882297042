from django.apps import AppConfig


class InvocationsConfig(AppConfig):
    name = "lambent.invocations"
    label = "invocations"

    def ready(self) -> None:
        from lambent.invocations import hot_cache  # noqa: F401  (connects the invalidation signals)
