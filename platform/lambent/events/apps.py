from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "lambent.events"
    label = "events"
