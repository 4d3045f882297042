"""Shapes of the iam API: policies, groups, attachments and the simulator."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from lambent.api.serializers import StrictSerializer
from lambent.iam.models import Group, Policy

_DOCUMENT_HELP = ("An IAM policy document (an object, or its JSON text): Version 2012-10-17 and Statement; "
                  "a malformed one is a 400 MalformedPolicyDocumentException naming the statement.")


class PolicySerializer(serializers.ModelSerializer):
    class Meta:
        model = Policy
        fields = ["name", "description", "document", "revision", "created_at", "updated_at"]


class PolicyCreateSerializer(StrictSerializer):
    name = serializers.RegexField(r"^[\w+=,.@-]{1,128}$", help_text="1-128 letters, digits or '+=,.@_-'.")
    description = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")
    document = serializers.JSONField(help_text=_DOCUMENT_HELP)


class PolicyUpdateSerializer(StrictSerializer):
    description = serializers.CharField(required=False, allow_blank=True, max_length=1000)
    document = serializers.JSONField(required=False, help_text=_DOCUMENT_HELP)


class ManagedPolicySerializer(serializers.Serializer):
    name = serializers.CharField()
    arn = serializers.CharField()
    document = serializers.JSONField()


class GroupSerializer(serializers.ModelSerializer):
    members = serializers.SerializerMethodField()
    policies = serializers.ListField(child=serializers.CharField(), read_only=True, source="attached",
                                     help_text="Names of the policies attached to the group.")

    class Meta:
        model = Group
        fields = ["name", "members", "policies", "created_at"]

    def get_members(self, group: Group) -> list[str]:
        return sorted(m.user.username for m in group.group_memberships.all())


class GroupCreateSerializer(StrictSerializer):
    name = serializers.RegexField(r"^[\w+=,.@-]{1,128}$", help_text="1-128 letters, digits or '+=,.@_-'.")


class UserSerializer(serializers.Serializer):
    username = serializers.CharField()
    arn = serializers.CharField()
    groups = serializers.ListField(child=serializers.CharField())
    policies = serializers.ListField(child=serializers.CharField(), help_text="Attached to the user directly.")


class SimulateSerializer(StrictSerializer):
    username = serializers.CharField(help_text="A user of the tenant: the principal.")
    action = serializers.RegexField(r"^[A-Za-z0-9-]+:[A-Za-z0-9]+$", help_text="lambda:InvokeFunction, ...")
    resource = serializers.RegexField(r"^arn:", help_text="The ARN acted on (another tenant's too).")
    context_entries = serializers.DictField(required=False, default=dict, help_text=(
        "Condition keys to a string or a list of strings (aws:SourceIp, aws:RequestTag/<key>, ...)."))

    def validate_context_entries(self, value: dict[str, Any]) -> dict[str, Any]:
        for key, item in value.items():
            ok = isinstance(item, str) or (isinstance(item, list) and all(isinstance(v, str) for v in item))
            if not ok:
                raise serializers.ValidationError(f"{key}: a string or a list of strings.")
        return value


class DecisionSerializer(serializers.Serializer):
    allowed = serializers.BooleanField()
    decision = serializers.CharField(source="reason", help_text="allowed, explicit-deny or implicit-deny.")
    policy = serializers.CharField(allow_null=True, help_text="The policy whose statement decided, if any.")
    statement = serializers.CharField(allow_null=True, help_text="Its Sid, or Statement[<index>].")
    message = serializers.CharField()
