"""The Scheduler API at the server's root: its paths go to the one dispatching view."""

from django.urls import re_path

from lambent.events.scheduler_api import views

urlpatterns = [
    re_path(r"^(?:schedules|schedule-groups|tags)(?:/|$)", views.dispatch, name="scheduler-api"),
]
