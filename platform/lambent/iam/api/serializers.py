"""Shapes of the iam API: policies, groups, attachments and the simulator."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from lambent.api.serializers import MappingField, Pattern, StrictSerializer
from lambent.iam.models import IAM_NAME_PATTERN, Group, Policy

_NAME_HELP = "1-128 letters, digits or '+=,.@_-'."
#: Condition keys: ``aws:SourceIp``, ``aws:RequestTag/<tag key>``, ...
CONTEXT_KEY_PATTERN = r"^[A-Za-z0-9]+:[A-Za-z0-9/_.:+=@ -]{1,256}$"


def name_field() -> serializers.CharField:
    return serializers.CharField(trim_whitespace=False, validators=[Pattern(IAM_NAME_PATTERN, _NAME_HELP)],
                                 help_text=_NAME_HELP)


@extend_schema_field({"oneOf": [{"type": "object"}, {"type": "string"}]})
class DocumentField(serializers.Field):
    """A policy document: a JSON object, or its JSON text; the engine checks what it says."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict | str):
            raise serializers.ValidationError("A policy document is a JSON object or its JSON text.")
        if isinstance(data, str) and "\x00" in data:
            raise serializers.ValidationError("A policy document holds no NUL character.")
        return data

    def to_representation(self, value: Any) -> Any:
        return value


_TEXT = {"type": "string", "pattern": "^[^\\u0000]*$"}  # no NUL, as ``lambent.api.schema.NO_NUL`` says


@extend_schema_field({"oneOf": [_TEXT, {"type": "array", "items": _TEXT}]})
class ContextValueField(serializers.Field):
    """One condition key's value: a string, or a list of them for a multi-valued key."""

    def to_internal_value(self, data: Any) -> str | list[str]:
        values = data if isinstance(data, list) else [data]
        if not all(isinstance(value, str) for value in values):
            raise serializers.ValidationError("A string or a list of strings.")
        if any("\x00" in value for value in values):
            raise serializers.ValidationError("No NUL character.")
        return data  # type: ignore[no-any-return]

    def to_representation(self, value: Any) -> Any:
        return value

_DOCUMENT_HELP = ("An IAM policy document (an object, or its JSON text): Version 2012-10-17 and Statement; "
                  "a malformed one is a 400 MalformedPolicyDocumentException naming the statement.")


class PolicySerializer(serializers.ModelSerializer):
    document = DocumentField(help_text="The document as it was given.")
    class Meta:
        model = Policy
        fields = ["name", "description", "document", "revision", "created_at", "updated_at"]


class PolicyCreateSerializer(StrictSerializer):
    name = name_field()
    description = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")
    document = DocumentField(help_text=_DOCUMENT_HELP)


class PolicyUpdateSerializer(StrictSerializer):
    description = serializers.CharField(required=False, allow_blank=True, max_length=1000)
    document = DocumentField(required=False, help_text=_DOCUMENT_HELP)


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
    name = name_field()


class UserSerializer(serializers.Serializer):
    username = serializers.CharField()
    arn = serializers.CharField()
    groups = serializers.ListField(child=serializers.CharField())
    policies = serializers.ListField(child=serializers.CharField(), help_text="Attached to the user directly.")


class SimulateSerializer(StrictSerializer):
    username = serializers.CharField(max_length=150, help_text="A user of the tenant: the principal.")
    action = serializers.RegexField(r"^[A-Za-z0-9-]+:[A-Za-z0-9]+$", help_text="lambda:InvokeFunction, ...")
    resource = serializers.RegexField(r"^arn:", help_text="The ARN acted on (another tenant's too).")
    context_entries = MappingField(
        child=ContextValueField(), required=False, default=dict, key_pattern=CONTEXT_KEY_PATTERN,
        key_message="A condition key is <service>:<name>, as aws:SourceIp or aws:RequestTag/<key>.",
        help_text="Condition keys to a string or a list of strings (aws:SourceIp, aws:RequestTag/<key>, ...).")


class DecisionSerializer(serializers.Serializer):
    allowed = serializers.BooleanField()
    decision = serializers.CharField(source="reason", help_text="allowed, explicit-deny or implicit-deny.")
    policy = serializers.CharField(allow_null=True, help_text="The policy whose statement decided, if any.")
    statement = serializers.CharField(allow_null=True, help_text="Its Sid, or Statement[<index>].")
    message = serializers.CharField()
