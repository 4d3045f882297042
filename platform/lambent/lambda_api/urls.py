"""The Lambda API at the server's root: every dated path goes to the one dispatching view."""

from django.urls import path, re_path

from lambent.lambda_api import code_links, views

urlpatterns = [
    re_path(r"^\d{4}-\d{2}-\d{2}/", views.dispatch, name="lambda-api"),
    path("lambda-code/<str:token>", code_links.code_download, name="lambda-code"),
]
