from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "lambent.console"
    label = "console"
