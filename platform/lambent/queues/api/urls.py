from django.urls import path

from lambent.queues.api import views

urlpatterns = [
    path("queues", views.QueuesView.as_view(), name="queues"),
    path("queues/<str:name>", views.QueueView.as_view(), name="queue"),
    path("queues/<str:name>/messages", views.MessagesView.as_view(), name="queue-messages"),
    # Before the receipt-handle route; a receipt handle is never "receive".
    path("queues/<str:name>/messages/receive", views.MessagesReceiveView.as_view(), name="queue-messages-receive"),
    path("queues/<str:name>/messages/<str:receipt_handle>", views.MessageView.as_view(), name="queue-message"),
]
