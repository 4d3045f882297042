from django.apps import AppConfig


class FunctionsConfig(AppConfig):
    name = "lambent.functions"
    label = "functions"
