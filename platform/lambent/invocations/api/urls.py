from django.urls import path

from lambent.invocations.api import invoke, views

urlpatterns = [
    path("functions/<str:name>/invoke", invoke.invoke, name="invoke"),
    path("functions/<str:name>/invocations", views.FunctionInvocationsView.as_view(), name="function-invocations"),
    path("invocations/<str:request_id>", views.InvocationView.as_view(), name="invocation"),
]
