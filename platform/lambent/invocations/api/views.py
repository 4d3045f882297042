"""Reading the invocation ledger (invoking is ``invoke.py``, an asynchronous view)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from lambent.api.views import TenantAPIView
from lambent.invocations import selectors
from lambent.invocations.api.serializers import InvocationSerializer


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
