"""Views of the account's limits and of functions' reserved concurrency: parse, call one
service or selector, answer."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from lambent.api.views import TenantAPIView
from lambent.quotas import selectors, services
from lambent.quotas.api import serializers as s

NO_CONTENT = OpenApiResponse(description="Deleted; the function shares the unreserved pool again.")


class AccountView(TenantAPIView):
    """The tenant's limits and usage, as Lambda's GetAccountSettings."""

    @extend_schema(responses=s.AccountSerializer, summary="Get the account's limits and usage")
    def get(self, request: Request) -> Response:
        return Response(s.AccountSerializer(selectors.account(tenant=self.tenant)).data)


class FunctionConcurrencyView(TenantAPIView):
    """A function's reserved concurrency; like Lambda's GetFunctionConcurrency, ``{}`` when it has none."""

    @extend_schema(responses=s.ReservedConcurrencySerializer, summary="Get a function's reserved concurrency")
    def get(self, request: Request, name: str) -> Response:
        reservation = selectors.reservation_get(tenant=self.tenant, function_name=name)
        return Response(s.ReservedConcurrencySerializer(reservation).data if reservation else {})

    @extend_schema(request=s.ReservedConcurrencySerializer, responses=s.ReservedConcurrencySerializer,
                   summary="Reserve concurrency for a function")
    def put(self, request: Request, name: str) -> Response:
        serializer = s.ReservedConcurrencySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reservation = services.reservation_put(tenant=self.tenant, function_name=name, **serializer.validated_data)
        return Response(s.ReservedConcurrencySerializer(reservation).data)

    @extend_schema(responses={204: NO_CONTENT}, summary="Remove a function's reserved concurrency")
    def delete(self, request: Request, name: str) -> Response:
        services.reservation_delete(tenant=self.tenant, function_name=name)
        return Response(status=status.HTTP_204_NO_CONTENT)
