"""Views of queues and their messages: parse, call one service or selector, answer."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from lambent.api.schema import NO_NUL, errors, path_parameters
from lambent.api.views import TenantAPIView
from lambent.queues import limits, selectors, services
from lambent.queues.api import serializers as s

NO_CONTENT = OpenApiResponse(description="Deleted.")

path_parameters("queues", name={"type": "string", "pattern": limits.NAME_PATTERN},
                receipt_handle={"type": "string", "pattern": NO_NUL, "minLength": 1})


class QueuesView(TenantAPIView):
    """The tenant's queues."""

    @extend_schema(responses=s.QueueSerializer(many=True), summary="List queues")
    def get(self, request: Request) -> Response:
        return self.paginated(request, selectors.queue_list(tenant=self.tenant), s.QueueSerializer, ordering="name")

    @extend_schema(request=s.QueueCreateSerializer, responses={201: s.QueueSerializer, **errors(409)},
                   summary="Create a queue")
    def post(self, request: Request) -> Response:
        serializer = s.QueueCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        queue = services.queue_create(tenant=self.tenant, **serializer.validated_data)
        shown = selectors.queue_detail(tenant=self.tenant, name=queue.name)
        return Response(s.QueueSerializer(shown).data, status=status.HTTP_201_CREATED)


class QueueView(TenantAPIView):
    """One queue."""

    @extend_schema(responses=s.QueueSerializer, summary="Get a queue with its message counts")
    def get(self, request: Request, name: str) -> Response:
        return Response(s.QueueSerializer(selectors.queue_detail(tenant=self.tenant, name=name)).data)

    @extend_schema(request=s.QueueUpdateSerializer, responses=s.QueueSerializer, summary="Change a queue's settings")
    def patch(self, request: Request, name: str) -> Response:
        serializer = s.QueueUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.queue_update(tenant=self.tenant, name=name, **serializer.validated_data)
        return Response(s.QueueSerializer(selectors.queue_detail(tenant=self.tenant, name=name)).data)

    @extend_schema(responses={204: NO_CONTENT}, summary="Delete a queue with its messages")
    def delete(self, request: Request, name: str) -> Response:
        services.queue_delete(tenant=self.tenant, name=name)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MessagesView(TenantAPIView):
    """A queue's messages; POST sends one."""

    @extend_schema(request=s.MessageSendSerializer, responses={201: s.MessageSentSerializer},
                   summary="Send a message")
    def post(self, request: Request, name: str) -> Response:
        serializer = s.MessageSendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        queue = selectors.queue_get(tenant=self.tenant, name=name)
        message = services.message_send(tenant=self.tenant, queue=queue, **serializer.validated_data)
        return Response(s.MessageSentSerializer(message).data, status=status.HTTP_201_CREATED)


class MessagesReceiveView(TenantAPIView):
    """Receiving hides messages for the visibility timeout; delete each one once handled."""

    @extend_schema(request=s.MessagesReceiveSerializer, responses=s.ReceivedMessagesSerializer,
                   summary="Receive messages")
    def post(self, request: Request, name: str) -> Response:
        serializer = s.MessagesReceiveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        queue = selectors.queue_get(tenant=self.tenant, name=name)
        messages = services.messages_receive(tenant=self.tenant, queue=queue, **serializer.validated_data)
        return Response(s.ReceivedMessagesSerializer({"messages": messages}).data)


class MessageView(TenantAPIView):
    """A received message, named by its latest receipt handle."""

    @extend_schema(responses={204: NO_CONTENT}, summary="Delete a received message")
    def delete(self, request: Request, name: str, receipt_handle: str) -> Response:
        queue = selectors.queue_get(tenant=self.tenant, name=name)
        services.message_delete(tenant=self.tenant, queue=queue, receipt_handle=receipt_handle)
        return Response(status=status.HTTP_204_NO_CONTENT)
