from django.urls import path

from lambent.invocations.api import invoke, views

urlpatterns = [
    path("functions/<str:name>/invoke", invoke.invoke, name="invoke"),
    path("functions/<str:name>/invocations", views.FunctionInvocationsView.as_view(), name="function-invocations"),
    path("functions/<str:name>/event-invoke-config", views.EventInvokeConfigView.as_view(),
         name="event-invoke-config"),
    path("functions/<str:name>/event-invoke-configs", views.EventInvokeConfigsView.as_view(),
         name="event-invoke-configs"),
    path("functions/<str:name>/dead-letter-config", views.DeadLetterConfigView.as_view(), name="dead-letter-config"),
    path("invocations", views.InvocationsView.as_view(), name="invocations"),
    path("invocations/<str:request_id>", views.InvocationView.as_view(), name="invocation"),
    path("invocations/<str:request_id>/cancel", views.InvocationCancelView.as_view(), name="invocation-cancel"),
    path("invocations/<str:request_id>/redrive", views.InvocationRedriveView.as_view(), name="invocation-redrive"),
]
