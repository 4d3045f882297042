"""Shapes of the functions API: types and each field's own limits (``limits``), which the schema
states; the rules that read the database or relate several fields live in the services."""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from lambent.api.serializers import MappingField, Pattern, StrictSerializer
from lambent.functions import limits
from lambent.functions.code_packages import check_zipped_size
from lambent.functions.models import Alias, Function, Version
from lambent.functions.runtimes import RUNTIMES

NAME = Pattern(limits.NAME_PATTERN, f"1-{limits.NAME_MAX} letters, digits, '-' or '_'.")
ALIAS_NAME = Pattern(limits.ALIAS_NAME_PATTERN,
                     f"1-{limits.ALIAS_NAME_MAX} letters, digits, '-' or '_', and not all digits.")
VERSION = Pattern(limits.VERSION_PATTERN, "$LATEST or a version number.")
SHA256 = Pattern(r"^[0-9a-f]{64}$", "A sha256 as the API returns it: 64 lower-case hexadecimal digits.")


def revision_field() -> RevisionField:
    return RevisionField(required=False, help_text="Change only if the revision is still this one (else 412).")


def description_field(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True, trim_whitespace=False,
                                 max_length=limits.DESCRIPTION_MAX, **kwargs)


class RevisionField(serializers.UUIDField):
    """A UUID as the API writes it (``8-4-4-4-12`` hexadecimal digits, the schema's ``format: uuid``);
    DRF's also takes it without hyphens, braced or as a URN."""

    _CANONICAL = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

    def to_internal_value(self, data: Any) -> uuid.UUID:
        if not isinstance(data, str) or not self._CANONICAL.fullmatch(data):
            self.fail("invalid", value=data)
        value: uuid.UUID = super().to_internal_value(data)
        return value


@extend_schema_field({"type": "string", "contentEncoding": "base64", "contentMediaType": "application/zip",
                      "pattern": "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"})
class ZipFileField(serializers.Field):
    """A zip as a file of a multipart upload, or base64 in JSON; the value is its bytes."""

    def to_internal_value(self, data: Any) -> bytes:
        if isinstance(data, UploadedFile):
            check_zipped_size(data.size or 0)
            content: bytes = data.read()
            return content
        if isinstance(data, str):
            check_zipped_size(len(data) * 3 // 4)
            try:
                decoded: bytes = base64.b64decode(data, validate=True)
                return decoded
            except (binascii.Error, ValueError):
                raise serializers.ValidationError("Not valid base64.") from None
        raise serializers.ValidationError("Expected a file upload or a base64 string.")

    def to_representation(self, value: bytes) -> str:
        return base64.b64encode(value).decode()


def handler_field(*, required: bool) -> serializers.CharField:
    return serializers.CharField(
        required=required, trim_whitespace=False, max_length=limits.HANDLER_MAX,
        validators=[Pattern(limits.HANDLER_PATTERN, "Printable ASCII characters without spaces.")],
        help_text="'<module>.<function>' for Python, for example app.handler; the module must be in the code. "
                  "Any word for a provided runtime, whose code has an executable bootstrap.")


class ConfigurationSerializer(StrictSerializer):
    """The configuration fields, all optional (an update names only what changes)."""

    runtime = serializers.ChoiceField(choices=sorted(RUNTIMES), required=False)
    handler = handler_field(required=False)
    memory_size = serializers.IntegerField(required=False, min_value=limits.MEMORY_MIN_MB,
                                           max_value=limits.MEMORY_MAX_MB, help_text="MB.")
    timeout = serializers.IntegerField(required=False, min_value=limits.TIMEOUT_MIN_S,
                                       max_value=limits.TIMEOUT_MAX_S, help_text="Seconds.")
    ephemeral_storage = serializers.IntegerField(required=False, min_value=limits.EPHEMERAL_MIN_MB,
                                                 max_value=limits.EPHEMERAL_MAX_MB, help_text="MB of /tmp.")
    description = description_field()
    environment = MappingField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False), required=False,
        key_pattern=limits.ENVIRONMENT_KEY_PATTERN, reserved=limits.RESERVED_ENVIRONMENT_KEYS,
        key_message="A variable name is a letter followed by letters, digits or '_'.",
        help_text=f"Variables, {limits.ENVIRONMENT_MAX_BYTES} bytes of names and values in all. In a form, "
                  "one field environment.<NAME> per variable.")
    role = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False,
        validators=[Pattern(limits.ROLE_PATTERN, "An IAM role ARN: arn:aws:iam::<12-digit account>:role/<name>.")],
        help_text="The execution role's ARN (arn:aws:iam::<account>:role/<name>), stored.")


class FunctionCreateSerializer(ConfigurationSerializer):
    name = serializers.CharField(trim_whitespace=False, validators=[NAME])
    runtime = serializers.ChoiceField(choices=sorted(RUNTIMES))
    handler = handler_field(required=True)
    zip_file = ZipFileField(help_text=f"The code as a zip: a file upload or base64, at most "
                                      f"{limits.CODE_ZIPPED_MAX_BYTES} bytes.")
    publish = serializers.BooleanField(default=False, help_text="Also publish version 1.")


class FunctionConfigurationUpdateSerializer(ConfigurationSerializer):
    revision_id = revision_field()


class FunctionCodeUpdateSerializer(StrictSerializer):
    zip_file = ZipFileField(help_text=f"The code as a zip: a file upload or base64, at most "
                                      f"{limits.CODE_ZIPPED_MAX_BYTES} bytes.")
    revision_id = revision_field()
    publish = serializers.BooleanField(default=False, help_text="Also publish the new code as a version.")


class VersionPublishSerializer(StrictSerializer):
    description = description_field()
    revision_id = revision_field()
    code_sha256 = serializers.CharField(required=False, validators=[SHA256],
                                        help_text="Publish only if $LATEST has this code (else 412).")


class VersionSerializer(serializers.ModelSerializer):
    """A version's configuration: ``$LATEST`` or a published one."""

    name = serializers.CharField(source="function.name")
    arn = serializers.CharField()
    version = serializers.CharField()
    code_sha256 = serializers.CharField(source="code.sha256")
    code_size = serializers.IntegerField(source="code.size")
    environment = serializers.DictField(child=serializers.CharField())

    class Meta:
        model = Version
        fields = [
            "name", "arn", "version", "runtime", "handler", "memory_size", "timeout", "ephemeral_storage",
            "description", "environment", "role", "code_sha256", "code_size", "revision_id", "last_modified",
        ]


class FunctionSerializer(serializers.Serializer):
    """A function as listed: its ``$LATEST`` configuration."""

    def to_representation(self, instance: Function) -> dict[str, Any]:
        (latest,) = instance.latest_versions  # type: ignore[attr-defined]  # prefetched by function_list
        return VersionSerializer(latest).data

    class Meta:
        ref_name = "FunctionSummary"


class AliasSerializer(serializers.ModelSerializer):
    function_name = serializers.CharField(source="function.name", read_only=True)
    arn = serializers.CharField(read_only=True)
    function_version = serializers.CharField(source="version.version")
    additional_version_weights = serializers.DictField(child=serializers.FloatField(), required=False)

    class Meta:
        model = Alias
        fields = ["function_name", "name", "arn", "function_version", "additional_version_weights", "description",
                  "revision_id", "created_at", "last_modified"]
        read_only_fields = ["revision_id", "created_at", "last_modified"]


def weights_field() -> MappingField:
    return MappingField(
        child=serializers.FloatField(min_value=0.0, max_value=1.0), required=False, max_keys=1,
        key_pattern=r"^0*[1-9][0-9]*$", key_message="A published version number.",
        help_text="One other published version and the share of invocations (0.0-1.0) it receives, e.g. "
                  "{\"2\": 0.1}; function_version must then be a published version, not this one.")


class AliasCreateSerializer(StrictSerializer):
    name = serializers.CharField(trim_whitespace=False, validators=[ALIAS_NAME])
    function_version = serializers.CharField(validators=[VERSION], help_text="A version number or $LATEST.")
    additional_version_weights = weights_field()
    description = description_field(default="")


class AliasUpdateSerializer(StrictSerializer):
    function_version = serializers.CharField(required=False, validators=[VERSION],
                                             help_text="A version number or $LATEST.")
    additional_version_weights = weights_field()
    description = description_field()
    revision_id = revision_field()
