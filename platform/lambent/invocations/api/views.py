"""Invoking a function, and reading the invocation ledger."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from lambent.api.views import TenantAPIView
from lambent.invocations import selectors, services
from lambent.invocations.api.serializers import InvocationSerializer
from lambent.invocations.logs import tail_base64


class InvokeView(TenantAPIView):
    """Run the function and answer with its result."""

    @extend_schema(
        summary="Invoke a function synchronously",
        request={"application/json": OpenApiTypes.OBJECT},
        parameters=[
            OpenApiParameter("qualifier", str, description="A version number, an alias, or $LATEST (the default)."),
            OpenApiParameter("log", str, enum=["tail"], description="tail: the last 4 KB of the log, base64, "
                                                                     "in the X-Lambent-Log-Result header."),
        ],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description=(
            "The function's result; on a function error, Lambda's error JSON and the header "
            "X-Lambent-Function-Error: Handled or Unhandled."))},
    )
    def post(self, request: Request, name: str) -> HttpResponse:
        outcome = services.invoke_sync(
            tenant=self.tenant, function_name=name, qualifier=request.query_params.get("qualifier"),
            payload=request.body, client_context=request.headers.get("X-Lambent-Client-Context"),
        )
        response = HttpResponse(outcome.payload, content_type="application/json")
        response["X-Lambent-Request-Id"] = str(outcome.invocation.request_id)
        response["X-Lambent-Executed-Version"] = outcome.invocation.executed_version
        if outcome.function_error:
            response["X-Lambent-Function-Error"] = outcome.function_error
        if request.query_params.get("log") == "tail":
            response["X-Lambent-Log-Result"] = tail_base64(outcome.invocation.log_tail)
        return response


class InvocationView(TenantAPIView):
    """One invocation in the ledger."""

    @extend_schema(responses=InvocationSerializer, summary="Get an invocation by request id")
    def get(self, request: Request, request_id: str) -> Response:
        return Response(InvocationSerializer(selectors.invocation_get(tenant=self.tenant, request_id=request_id)).data)


class FunctionInvocationsView(TenantAPIView):
    """A function's invocations, newest first."""

    @extend_schema(responses=InvocationSerializer(many=True), summary="List a function's invocations")
    def get(self, request: Request, name: str) -> Response:
        invocations = selectors.invocation_list(tenant=self.tenant, function_name=name)
        return self.paginated(request, invocations, InvocationSerializer, ordering="-id")
