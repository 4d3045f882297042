from django.urls import path

from lambent.events.api import views

urlpatterns = [
    path("schedules", views.SchedulesView.as_view(), name="schedules"),
    path("schedules/<str:name>", views.ScheduleView.as_view(), name="schedule"),
    path("schedules/<str:name>/firings", views.FiringsView.as_view(), name="schedule-firings"),
]
