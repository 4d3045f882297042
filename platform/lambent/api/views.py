"""The base of every tenant-scoped view of the native API."""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from lambent.api.pagination import CursorPagination
from lambent.iam.models import AccessKey, Tenant


class TenantAPIView(APIView):
    """A view acting for the tenant of the access key that authenticated the request.

    Authentication (``AccessKeyAuthentication``) and the ``IsTenantMember`` permission
    run before any handler, so ``self.tenant`` is always set inside one.
    """

    pagination_class = CursorPagination

    @property
    def tenant(self) -> Tenant:
        key = self.request.auth
        assert isinstance(key, AccessKey), "TenantAPIView needs AccessKeyAuthentication"
        return key.tenant

    def paginated(self, request: Request, queryset: QuerySet, serializer: type[BaseSerializer], *,
                  ordering: str) -> Response:
        paginator = self.pagination_class()
        paginator.ordering = ordering
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(serializer(page, many=True).data)
