"""The invocation ledger (read, cancel, redrive) and the asynchronous configuration of functions.

A read of the ledger first writes the rows of synchronous invocations this process holds
(``ledger_writer.write_waiting``), so that an invocation that has answered is found.

Invoking is ``invoke.py``, an asynchronous view on the hot path.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from lambent.api.schema import errors, path_parameters
from lambent.api.views import TenantAPIView
from lambent.functions import limits
from lambent.invocations import asynchronous, event_configs, ledger_writer, selectors
from lambent.invocations.api import serializers as s

NO_CONTENT = OpenApiResponse(description="Deleted.")

path_parameters("invocations", request_id={"type": "string", "format": "uuid"})
QUALIFIER = OpenApiParameter("qualifier", str, description="$LATEST (the default), a version or an alias.",
                             pattern=f"^({limits.QUALIFIER_PATTERN[1:-1]}|)$")


class InvocationsView(TenantAPIView):
    """The tenant's invocations, newest first, filtered by function, status and acceptance time."""

    @extend_schema(parameters=[s.InvocationFilterSerializer],
                   responses={200: s.InvocationSerializer(many=True), **errors(404)},
                   summary="List invocations (404: the function filtered on does not exist)")
    def get(self, request: Request) -> Response:
        filters = s.InvocationFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        ledger_writer.write_waiting()
        invocations = selectors.invocation_list(tenant=self.tenant, function_name=data.get("function"),
                                                status=data.get("status"), since=data.get("since"),
                                                until=data.get("until"))
        return self.paginated(request, invocations, s.InvocationSerializer, ordering="-id")


class FunctionInvocationsView(TenantAPIView):
    """A function's invocations, newest first."""

    @extend_schema(responses=s.InvocationSerializer(many=True), summary="List a function's invocations")
    def get(self, request: Request, name: str) -> Response:
        ledger_writer.write_waiting()
        invocations = selectors.invocation_list(tenant=self.tenant, function_name=name)
        return self.paginated(request, invocations, s.InvocationSerializer, ordering="-id")


class InvocationView(TenantAPIView):
    """One invocation in the ledger, with every attempt."""

    @extend_schema(responses=s.InvocationDetailSerializer, summary="Get an invocation by request id")
    def get(self, request: Request, request_id: str) -> Response:
        ledger_writer.write_waiting()
        invocation = selectors.invocation_get(tenant=self.tenant, request_id=request_id)
        return Response(s.InvocationDetailSerializer(invocation).data)


class InvocationCancelView(TenantAPIView):
    @extend_schema(request=None, responses={200: s.InvocationDetailSerializer, **errors(409)},
                   summary="Cancel a queued or retrying asynchronous invocation")
    def post(self, request: Request, request_id: str) -> Response:
        invocation = asynchronous.cancel(tenant=self.tenant, request_id=request_id)
        return Response(s.InvocationDetailSerializer(invocation).data)


class InvocationRedriveView(TenantAPIView):
    @extend_schema(request=s.RedriveSerializer, responses={202: s.InvocationDetailSerializer, **errors(409, 503)},
                   summary="Queue a failed or expired asynchronous invocation again")
    def post(self, request: Request, request_id: str) -> Response:
        body = s.RedriveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        invocation = asynchronous.redrive(tenant=self.tenant, request_id=request_id,
                                          qualifier=body.validated_data.get("qualifier"))
        return Response(s.InvocationDetailSerializer(invocation).data, status=status.HTTP_202_ACCEPTED)


class EventInvokeConfigView(TenantAPIView):
    """How asynchronous invocations of one qualifier are retried, aged out and recorded."""

    @extend_schema(parameters=[QUALIFIER], responses=s.EventInvokeConfigSerializer,
                   summary="Get the event invoke config of a qualifier")
    def get(self, request: Request, name: str) -> Response:
        config = event_configs.event_invoke_config_get(tenant=self.tenant, function_name=name,
                                                       qualifier=request.query_params.get("qualifier"))
        return Response(s.EventInvokeConfigSerializer(config).data)

    @extend_schema(parameters=[QUALIFIER], request=s.EventInvokeConfigSerializer,
                   responses=s.EventInvokeConfigSerializer, summary="Set the event invoke config of a qualifier")
    def put(self, request: Request, name: str) -> Response:
        return self._write(request, name, replace=True)

    @extend_schema(parameters=[QUALIFIER], request=s.EventInvokeConfigSerializer,
                   responses=s.EventInvokeConfigSerializer, summary="Change fields of an event invoke config")
    def patch(self, request: Request, name: str) -> Response:
        return self._write(request, name, replace=False)

    @extend_schema(parameters=[QUALIFIER], responses={204: NO_CONTENT}, summary="Delete an event invoke config")
    def delete(self, request: Request, name: str) -> Response:
        event_configs.event_invoke_config_delete(tenant=self.tenant, function_name=name,
                                                 qualifier=request.query_params.get("qualifier"))
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _write(self, request: Request, name: str, *, replace: bool) -> Response:
        body = s.EventInvokeConfigSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        config = event_configs.event_invoke_config_put(
            tenant=self.tenant, function_name=name, qualifier=request.query_params.get("qualifier"),
            changes=body.changes(), replace=replace)
        return Response(s.EventInvokeConfigSerializer(config).data)


class EventInvokeConfigsView(TenantAPIView):
    @extend_schema(responses=s.EventInvokeConfigSerializer(many=True),
                   summary="List a function's event invoke configs")
    def get(self, request: Request, name: str) -> Response:
        configs = event_configs.event_invoke_config_list(tenant=self.tenant, function_name=name)
        return self.paginated(request, configs, s.EventInvokeConfigSerializer, ordering="qualifier")


class DeadLetterConfigView(TenantAPIView):
    """Where the events of a function's failed asynchronous invocations go."""

    @extend_schema(responses=s.DeadLetterConfigSerializer, summary="Get a function's dead-letter target")
    def get(self, request: Request, name: str) -> Response:
        config = event_configs.dead_letter_config_get(tenant=self.tenant, function_name=name)
        return Response(s.DeadLetterConfigSerializer(config).data)

    @extend_schema(request=s.DeadLetterConfigSerializer, responses=s.DeadLetterConfigSerializer,
                   summary="Set a function's dead-letter target")
    def put(self, request: Request, name: str) -> Response:
        body = s.DeadLetterConfigSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        config = event_configs.dead_letter_config_put(tenant=self.tenant, function_name=name,
                                                      target=body.validated_data["target"])
        return Response(s.DeadLetterConfigSerializer(config).data)

    @extend_schema(responses={204: NO_CONTENT}, summary="Remove a function's dead-letter target")
    def delete(self, request: Request, name: str) -> Response:
        event_configs.dead_letter_config_delete(tenant=self.tenant, function_name=name)
        return Response(status=status.HTTP_204_NO_CONTENT)
