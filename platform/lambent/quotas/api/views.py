"""Views of the account's limits and of functions' reserved and provisioned concurrency: parse,
call one service or selector, answer."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from lambent.api.schema import errors
from lambent.api.views import TenantAPIView
from lambent.functions import limits
from lambent.functions import selectors as function_selectors
from lambent.functions import services as function_services
from lambent.quotas import selectors, services
from lambent.quotas.api import serializers as s

NO_CONTENT = OpenApiResponse(description="Deleted.")
QUALIFIER = OpenApiParameter("qualifier", str, required=True, description="A published version or an alias.",
                             pattern=limits.QUALIFIER_PATTERN)
#: $LATEST never has provisioned concurrency (a 400); an alias that routes to it neither.
PUBLISHED = OpenApiParameter("qualifier", str, required=True, description="A published version or an alias.",
                             pattern=limits.PUBLISHED_QUALIFIER_PATTERN)


class AccountView(TenantAPIView):
    """The tenant's limits and usage, as Lambda's GetAccountSettings."""

    @extend_schema(responses=s.AccountSerializer, summary="Get the account's limits and usage")
    def get(self, request: Request) -> Response:
        return Response(s.AccountSerializer(selectors.account(tenant=self.tenant)).data)


class FunctionConcurrencyView(TenantAPIView):
    """A function's reserved concurrency; like Lambda's GetFunctionConcurrency, ``{}`` when it has none."""

    @extend_schema(responses=s.ReservationSerializer, summary="Get a function's reserved concurrency")
    def get(self, request: Request, name: str) -> Response:
        reservation = selectors.reservation_get(tenant=self.tenant, function_name=name)
        return Response(s.ReservedConcurrencySerializer(reservation).data if reservation else {})

    @extend_schema(request=s.ReservedConcurrencySerializer, responses=s.ReservationSerializer,
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


class ProvisionedConcurrencyView(TenantAPIView):
    """The provisioned concurrency of one published version or alias (``?qualifier=``)."""

    @extend_schema(parameters=[QUALIFIER], responses=s.ProvisionedConcurrencyConfigSerializer,
                   summary="Get a provisioned concurrency config")
    def get(self, request: Request, name: str) -> Response:
        config = function_selectors.provisioned_config_get(tenant=self.tenant, function_name=name,
                                                  qualifier=request.query_params.get("qualifier"))
        return Response(s.ProvisionedConcurrencyConfigSerializer(config).data)

    @extend_schema(parameters=[PUBLISHED], request=s.ProvisionedConcurrencyPutSerializer,
                   responses={202: s.ProvisionedConcurrencyConfigSerializer, **errors(409)},
                   summary="Keep sandboxes of a version or alias initialized ahead of demand")
    def put(self, request: Request, name: str) -> Response:
        serializer = s.ProvisionedConcurrencyPutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        config = services.provisioned_put(
            tenant=self.tenant, function_name=name, qualifier=request.query_params.get("qualifier"),
            requested=serializer.validated_data["provisioned_concurrent_executions"])
        return Response(s.ProvisionedConcurrencyConfigSerializer(config).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(parameters=[QUALIFIER], responses={204: NO_CONTENT},
                   summary="Delete a provisioned concurrency config, releasing its sandboxes")
    def delete(self, request: Request, name: str) -> Response:
        function_services.provisioned_config_delete(tenant=self.tenant, function_name=name,
                                           qualifier=request.query_params.get("qualifier"))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProvisionedConcurrencyConfigsView(TenantAPIView):
    """A function's provisioned concurrency configs."""

    @extend_schema(responses=s.ProvisionedConcurrencyConfigSerializer(many=True),
                   summary="List provisioned concurrency configs")
    def get(self, request: Request, name: str) -> Response:
        configs = function_selectors.provisioned_config_list(tenant=self.tenant, function_name=name)
        return self.paginated(request, configs, s.ProvisionedConcurrencyConfigSerializer, ordering="qualifier")
