from django.apps import AppConfig


class IamConfig(AppConfig):
    name = "lambent.iam"
    label = "iam"
    verbose_name = "Identity and access"

    def ready(self) -> None:
        from lambent.iam import schema  # noqa: F401  (registers the OpenAPI description of the auth scheme)
