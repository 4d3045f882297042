"""Views of functions, versions and aliases: parse, call one service or selector, answer."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from lambent.api.content import JSONParser
from lambent.api.schema import errors, path_parameters
from lambent.api.views import TenantAPIView
from lambent.functions import limits, selectors, services
from lambent.functions.api import serializers as s
from lambent.functions.configuration import FunctionConfiguration

NO_CONTENT = OpenApiResponse(description="Deleted.")

path_parameters("functions", name={"type": "string", "pattern": limits.NAME_PATTERN},
                alias={"type": "string", "pattern": limits.ALIAS_NAME_PATTERN},
                version={"type": "string", "pattern": limits.VERSION_PATTERN})


class FunctionsView(TenantAPIView):
    """The tenant's functions."""

    parser_classes = [JSONParser, MultiPartParser]  # the zip as a file of a multipart upload

    @extend_schema(responses=s.VersionSerializer(many=True), summary="List functions ($LATEST of each)")
    def get(self, request: Request) -> Response:
        return self.paginated(request, selectors.function_list(tenant=self.tenant), s.FunctionSerializer,
                              ordering="name")

    @extend_schema(request=s.FunctionCreateSerializer, responses={201: s.VersionSerializer, **errors(409)},
                   summary="Create a function from a zip")
    def post(self, request: Request) -> Response:
        serializer = s.FunctionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        name, zip_file, publish = data.pop("name"), data.pop("zip_file"), data.pop("publish")
        version = services.function_create(
            tenant=self.tenant, name=name, configuration=FunctionConfiguration(**data), zip_file=zip_file,
            publish=publish,
        )
        return Response(s.VersionSerializer(version).data, status=status.HTTP_201_CREATED)


class FunctionView(TenantAPIView):
    """One function, as its mutable $LATEST."""

    @extend_schema(responses=s.VersionSerializer, summary="Get a function ($LATEST)")
    def get(self, request: Request, name: str) -> Response:
        latest = selectors.latest_get(tenant=self.tenant, function_name=name)
        return Response(s.VersionSerializer(latest).data)

    @extend_schema(request=s.FunctionConfigurationUpdateSerializer, responses={200: s.VersionSerializer, **errors(412)},
                   summary="Change the configuration of $LATEST")
    def patch(self, request: Request, name: str) -> Response:
        serializer = s.FunctionConfigurationUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        revision_id = changes.pop("revision_id", None)
        latest = services.function_update_configuration(
            tenant=self.tenant, name=name, changes=changes, revision_id=revision_id
        )
        return Response(s.VersionSerializer(latest).data)

    @extend_schema(responses={204: NO_CONTENT}, summary="Delete a function with its versions and aliases")
    def delete(self, request: Request, name: str) -> Response:
        services.function_delete(tenant=self.tenant, name=name)
        return Response(status=status.HTTP_204_NO_CONTENT)


class FunctionCodeView(TenantAPIView):
    """The code of $LATEST."""

    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(request=s.FunctionCodeUpdateSerializer, responses={200: s.VersionSerializer, **errors(412)},
                   summary="Replace the code of $LATEST")
    def put(self, request: Request, name: str) -> Response:
        serializer = s.FunctionCodeUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = services.function_update_code(tenant=self.tenant, name=name, **serializer.validated_data)
        return Response(s.VersionSerializer(version).data)


class VersionsView(TenantAPIView):
    """A function's versions; POST publishes."""

    @extend_schema(responses=s.VersionSerializer(many=True), summary="List versions, $LATEST first")
    def get(self, request: Request, name: str) -> Response:
        versions = selectors.version_list(tenant=self.tenant, function_name=name)
        return self.paginated(request, versions, s.VersionSerializer, ordering="number")

    @extend_schema(request=s.VersionPublishSerializer,
                   responses={201: s.VersionSerializer,
                              200: OpenApiResponse(s.VersionSerializer, "Unchanged since that version."),
                              **errors(412)},
                   summary="Publish $LATEST as a new version")
    def post(self, request: Request, name: str) -> Response:
        serializer = s.VersionPublishSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version, created = services.version_publish(tenant=self.tenant, function_name=name,
                                                    **serializer.validated_data)
        return Response(s.VersionSerializer(version).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class VersionView(TenantAPIView):
    """One version."""

    @extend_schema(responses=s.VersionSerializer, summary="Get a version")
    def get(self, request: Request, name: str, version: str) -> Response:
        found = selectors.version_get(tenant=self.tenant, function_name=name, version=version)
        return Response(s.VersionSerializer(found).data)

    @extend_schema(responses={204: NO_CONTENT, **errors(409)},
                   summary="Delete a published version (409 for $LATEST, or one an alias uses)")
    def delete(self, request: Request, name: str, version: str) -> Response:
        services.version_delete(tenant=self.tenant, function_name=name, version=version)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AliasesView(TenantAPIView):
    """A function's aliases."""

    @extend_schema(responses=s.AliasSerializer(many=True), summary="List aliases")
    def get(self, request: Request, name: str) -> Response:
        aliases = selectors.alias_list(tenant=self.tenant, function_name=name)
        return self.paginated(request, aliases, s.AliasSerializer, ordering="name")

    @extend_schema(request=s.AliasCreateSerializer, responses={201: s.AliasSerializer, **errors(409)},
                   summary="Create an alias")
    def post(self, request: Request, name: str) -> Response:
        serializer = s.AliasCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        alias = services.alias_create(tenant=self.tenant, function_name=name, **serializer.validated_data)
        return Response(s.AliasSerializer(alias).data, status=status.HTTP_201_CREATED)


class AliasView(TenantAPIView):
    """One alias."""

    @extend_schema(responses=s.AliasSerializer, summary="Get an alias")
    def get(self, request: Request, name: str, alias: str) -> Response:
        found = selectors.alias_get(tenant=self.tenant, function_name=name, name=alias)
        return Response(s.AliasSerializer(found).data)

    @extend_schema(request=s.AliasUpdateSerializer, responses={200: s.AliasSerializer, **errors(412)},
                   summary="Change an alias")
    def patch(self, request: Request, name: str, alias: str) -> Response:
        serializer = s.AliasUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        revision_id = changes.pop("revision_id", None)
        updated = services.alias_update(tenant=self.tenant, function_name=name, name=alias, changes=changes,
                                        revision_id=revision_id)
        return Response(s.AliasSerializer(updated).data)

    @extend_schema(responses={204: NO_CONTENT}, summary="Delete an alias")
    def delete(self, request: Request, name: str, alias: str) -> Response:
        services.alias_delete(tenant=self.tenant, function_name=name, name=alias)
        return Response(status=status.HTTP_204_NO_CONTENT)
