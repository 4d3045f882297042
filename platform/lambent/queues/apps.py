from django.apps import AppConfig


class QueuesConfig(AppConfig):
    name = "lambent.queues"
    label = "queues"
