from django.apps import AppConfig


class InvocationsConfig(AppConfig):
    name = "lambent.invocations"
    label = "invocations"
