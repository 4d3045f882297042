"""Views of the iam API: parse, call one service or selector, answer. Every name in a path is
looked up in the caller's tenant, so another tenant's group, policy or user answers 404."""

from __future__ import annotations

from django.contrib.auth.models import User
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from lambent.api.schema import errors, path_parameters
from lambent.api.views import TenantAPIView
from lambent.iam.api import serializers as s
from lambent.iam.models import IAM_NAME_PATTERN, Group
from lambent.iam.policies import managed, selectors, services
from lambent.iam.policies.evaluation import authorize
from lambent.iam.policies.principals import Principal, user_arn

NO_CONTENT = OpenApiResponse(description="Done.")
#: Django's user names, in ASCII: letters, digits and ``@.+-_``.
USERNAME_PATTERN = r"^[A-Za-z0-9_.@+-]{1,150}$"
_NAME = {"type": "string", "pattern": IAM_NAME_PATTERN}
path_parameters("iam", name=_NAME, policy_name=_NAME, username={"type": "string", "pattern": USERNAME_PATTERN})


class PoliciesView(TenantAPIView):
    """The tenant's customer-managed policies."""

    @extend_schema(responses=s.PolicySerializer(many=True), summary="List customer-managed policies")
    def get(self, request: Request) -> Response:
        return self.paginated(request, selectors.policy_list(tenant=self.tenant), s.PolicySerializer,
                              ordering="name")

    @extend_schema(request=s.PolicyCreateSerializer, responses={201: s.PolicySerializer, **errors(409)},
                   summary="Create a policy")
    def post(self, request: Request) -> Response:
        serializer = s.PolicyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        policy = services.policy_create(tenant=self.tenant, **serializer.validated_data)
        return Response(s.PolicySerializer(policy).data, status=status.HTTP_201_CREATED)


class PolicyView(TenantAPIView):
    @extend_schema(responses=s.PolicySerializer, summary="Get a policy")
    def get(self, request: Request, name: str) -> Response:
        return Response(s.PolicySerializer(selectors.policy_get(tenant=self.tenant, name=name)).data)

    @extend_schema(request=s.PolicyUpdateSerializer, responses=s.PolicySerializer,
                   summary="Replace a policy's document or description")
    def patch(self, request: Request, name: str) -> Response:
        serializer = s.PolicyUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        policy = services.policy_update(tenant=self.tenant, name=name, **serializer.validated_data)
        return Response(s.PolicySerializer(policy).data)

    @extend_schema(responses={204: NO_CONTENT, **errors(409)}, summary="Delete a policy attached nowhere")
    def delete(self, request: Request, name: str) -> Response:
        services.policy_delete(tenant=self.tenant, name=name)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ManagedPoliciesView(TenantAPIView):
    pagination_class = None  # type: ignore[assignment]  # a short list, answered whole
    @extend_schema(responses=s.ManagedPolicySerializer(many=True), summary="List the shipped managed policies")
    def get(self, request: Request) -> Response:
        shown = [{"name": n, "arn": managed.managed_arn(n), "document": d} for n, d in managed.DOCUMENTS.items()]
        return Response(s.ManagedPolicySerializer(shown, many=True).data)


def _group(group: Group) -> Group:
    group.attached = selectors.attachments_of(tenant=group.tenant, group=group)  # type: ignore[attr-defined]
    return group


class GroupsView(TenantAPIView):
    pagination_class = None  # type: ignore[assignment]  # a short list, answered whole
    @extend_schema(responses=s.GroupSerializer(many=True), summary="List groups")
    def get(self, request: Request) -> Response:
        groups = [_group(g) for g in selectors.group_list(tenant=self.tenant)]
        return Response(s.GroupSerializer(groups, many=True).data)

    @extend_schema(request=s.GroupCreateSerializer, responses={201: s.GroupSerializer, **errors(409)},
                   summary="Create a group")
    def post(self, request: Request) -> Response:
        serializer = s.GroupCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        group = services.group_create(tenant=self.tenant, **serializer.validated_data)
        return Response(s.GroupSerializer(_group(group)).data, status=status.HTTP_201_CREATED)


class GroupView(TenantAPIView):
    @extend_schema(responses=s.GroupSerializer, summary="Get a group with its members and policies")
    def get(self, request: Request, name: str) -> Response:
        return Response(s.GroupSerializer(_group(selectors.group_get(tenant=self.tenant, name=name))).data)

    @extend_schema(responses={204: NO_CONTENT}, summary="Delete a group (its members stay users)")
    def delete(self, request: Request, name: str) -> Response:
        services.group_delete(tenant=self.tenant, name=name)
        return Response(status=status.HTTP_204_NO_CONTENT)


class GroupMemberView(TenantAPIView):
    @extend_schema(request=None, responses={204: NO_CONTENT}, summary="Add a user of the tenant to a group")
    def put(self, request: Request, name: str, username: str) -> Response:
        services.group_member_add(tenant=self.tenant, group_name=name, username=username)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={204: NO_CONTENT}, summary="Remove a user from a group")
    def delete(self, request: Request, name: str, username: str) -> Response:
        services.group_member_remove(tenant=self.tenant, group_name=name, username=username)
        return Response(status=status.HTTP_204_NO_CONTENT)


class GroupPolicyView(TenantAPIView):
    @extend_schema(request=None, responses={204: NO_CONTENT}, summary="Attach a policy to a group")
    def put(self, request: Request, name: str, policy_name: str) -> Response:
        services.policy_attach(tenant=self.tenant, policy_name=policy_name, group_name=name)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={204: NO_CONTENT}, summary="Detach a policy from a group")
    def delete(self, request: Request, name: str, policy_name: str) -> Response:
        services.policy_detach(tenant=self.tenant, policy_name=policy_name, group_name=name)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _user(view: TenantAPIView, user: User) -> dict[str, object]:
    groups = sorted(user.group_memberships.filter(group__tenant=view.tenant).values_list("group__name", flat=True))
    return {"username": user.username, "arn": user_arn(account_id=view.tenant.account_id, username=user.username),
            "groups": groups, "policies": selectors.attachments_of(tenant=view.tenant, user=user)}


class UsersView(TenantAPIView):
    pagination_class = None  # type: ignore[assignment]  # a short list, answered whole
    @extend_schema(responses=s.UserSerializer(many=True), summary="List the tenant's users")
    def get(self, request: Request) -> Response:
        users = [_user(self, u) for u in selectors.member_list(tenant=self.tenant)]
        return Response(s.UserSerializer(users, many=True).data)


class UserView(TenantAPIView):
    @extend_schema(responses=s.UserSerializer, summary="Get a user with its groups and policies")
    def get(self, request: Request, username: str) -> Response:
        return Response(s.UserSerializer(_user(self, selectors.member_get(tenant=self.tenant,
                                                                          username=username))).data)


class UserPolicyView(TenantAPIView):
    @extend_schema(request=None, responses={204: NO_CONTENT}, summary="Attach a policy to a user")
    def put(self, request: Request, username: str, policy_name: str) -> Response:
        services.policy_attach(tenant=self.tenant, policy_name=policy_name, username=username)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={204: NO_CONTENT}, summary="Detach a policy from a user")
    def delete(self, request: Request, username: str, policy_name: str) -> Response:
        services.policy_detach(tenant=self.tenant, policy_name=policy_name, username=username)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SimulateView(TenantAPIView):
    """What AWS's policy simulator answers: the decision for a user of the tenant, and what decided it."""

    @extend_schema(request=s.SimulateSerializer, responses={200: s.DecisionSerializer, **errors(404)},
                   summary="Simulate a request")
    def post(self, request: Request) -> Response:
        serializer = s.SimulateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = selectors.member_get(tenant=self.tenant, username=data["username"])
        principal = Principal(tenant=self.tenant, user_id=user.pk, username=user.username)
        decision = authorize(principal=principal, action=data["action"], resource=data["resource"],
                             context=data["context_entries"])
        return Response(s.DecisionSerializer(decision).data)
