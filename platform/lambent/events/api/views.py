"""Views of schedules and their firings: parse, call one service or selector, answer.

A schedule is named within its group: ``?group=`` names the group (``default`` when left out),
as Scheduler's ``GroupName``.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, cast

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from lambent.api.schema import errors, path_parameters
from lambent.api.views import TenantAPIView
from lambent.events import selectors, services
from lambent.events.api import serializers as s
from lambent.events.expressions import ScheduleInvalid
from lambent.events.models import NAME_PATTERN, WindowMode

GROUP = OpenApiParameter("group", str, description="The schedule group ('default' when left out).",
                         pattern=NAME_PATTERN)
NO_CONTENT = OpenApiResponse(description="Deleted.")

path_parameters("schedules", name={"type": "string", "pattern": NAME_PATTERN})


def _group(request: Request) -> str | None:
    """The group ``?group=`` names; given, it must be a group's name (empty is not: it is a 400)."""
    given = request.query_params.get("group")
    if given is not None and not re.fullmatch(NAME_PATTERN, given):
        raise ScheduleInvalid(f"group must be a schedule group's name ({NAME_PATTERN}), not {given!r}.",
                              field="group")
    return given


def _validate(serializer: BaseSerializer) -> None:
    """As ``is_valid(raise_exception=True)``, but a 400 ``ValidationException``, as every other
    refusal of a schedule (the services') is, in both APIs."""
    if not serializer.is_valid():
        found = cast(dict[str, Any], serializer.errors)
        raise ScheduleInvalid(fields={name: [str(problem) for problem in problems] if isinstance(problems, list)
                                      else [str(problems)] for name, problems in found.items()})


class SchedulesView(TenantAPIView):
    """The tenant's schedules."""

    @extend_schema(parameters=[GROUP], responses={200: s.ScheduleSerializer(many=True), **errors(404)},
                   summary="List schedules")
    def get(self, request: Request) -> Response:
        schedules = selectors.schedule_list(tenant=self.tenant, group_name=_group(request))
        return self.paginated(request, schedules, s.ScheduleSerializer, ordering="pk")

    @extend_schema(request=s.ScheduleCreateSerializer, responses={201: s.ScheduleSerializer, **errors(404, 409)},
                   summary="Create a schedule")
    def post(self, request: Request) -> Response:
        serializer = s.ScheduleCreateSerializer(data=request.data)
        _validate(serializer)
        schedule = services.schedule_create(tenant=self.tenant, name=serializer.validated_data["name"],
                                            group_name=serializer.validated_data.get("group"),
                                            spec=serializer.spec())
        return Response(s.ScheduleSerializer(schedule).data, status=status.HTTP_201_CREATED)


class ScheduleView(TenantAPIView):
    """One schedule."""

    @extend_schema(parameters=[GROUP], responses=s.ScheduleSerializer, summary="Get a schedule")
    def get(self, request: Request, name: str) -> Response:
        schedule = selectors.schedule_get(tenant=self.tenant, name=name, group_name=_group(request))
        return Response(s.ScheduleSerializer(schedule).data)

    @extend_schema(parameters=[GROUP], request=s.ScheduleWriteSerializer, responses=s.ScheduleSerializer,
                   summary="Replace a schedule")
    def put(self, request: Request, name: str) -> Response:
        serializer = s.ScheduleWriteSerializer(data=request.data)
        _validate(serializer)
        schedule = services.schedule_update(tenant=self.tenant, name=name, group_name=_group(request),
                                            spec=serializer.spec())
        return Response(s.ScheduleSerializer(schedule).data)

    @extend_schema(parameters=[GROUP], request=s.ScheduleWriteSerializer, responses=s.ScheduleSerializer,
                   summary="Change some of a schedule's fields")
    def patch(self, request: Request, name: str) -> Response:
        serializer = s.ScheduleWriteSerializer(data=request.data, partial=True)
        _validate(serializer)
        changes = dict(serializer.validated_data)
        if "schedule_expression" in changes:
            changes["expression"] = changes.pop("schedule_expression")
        if changes.get("window_mode") == WindowMode.OFF:  # a window turned off has no minutes left
            changes.setdefault("window_minutes", None)
        current = selectors.schedule_get(tenant=self.tenant, name=name, group_name=_group(request))
        spec = dataclasses.replace(services.spec_of(current), **changes)
        schedule = services.schedule_update(tenant=self.tenant, name=name, group_name=_group(request), spec=spec)
        return Response(s.ScheduleSerializer(schedule).data)

    @extend_schema(parameters=[GROUP], responses={204: NO_CONTENT}, summary="Delete a schedule and its firings")
    def delete(self, request: Request, name: str) -> Response:
        services.schedule_delete(tenant=self.tenant, name=name, group_name=_group(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class FiringsView(TenantAPIView):
    """What a schedule did at each scheduled time: fired (with the invocation's request id), missed or failed."""

    @extend_schema(parameters=[GROUP], responses=s.FiringSerializer(many=True), summary="List a schedule's firings")
    def get(self, request: Request, name: str) -> Response:
        firings = selectors.firing_list(tenant=self.tenant, name=name, group_name=_group(request))
        return self.paginated(request, firings, s.FiringSerializer, ordering="-scheduled_at")
