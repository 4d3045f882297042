"""Shapes of the functions API. They parse types only: every rule lives in the services."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from lambent.api.serializers import StrictSerializer
from lambent.functions import limits
from lambent.functions.code_packages import check_zipped_size
from lambent.functions.models import Alias, Function, Version


@extend_schema_field({"type": "string", "format": "binary",
                      "description": "A file in a multipart upload, or base64 in JSON."})
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


class ConfigurationSerializer(StrictSerializer):
    """The configuration fields, all optional (an update names only what changes)."""

    runtime = serializers.CharField(required=False, help_text="For example python3.12.")
    handler = serializers.CharField(required=False, help_text="'<module>.<function>', for example app.handler.")
    memory_size = serializers.IntegerField(
        required=False, help_text=f"MB, {limits.MEMORY_MIN_MB}-{limits.MEMORY_MAX_MB}.")
    timeout = serializers.IntegerField(
        required=False, help_text=f"Seconds, {limits.TIMEOUT_MIN_S}-{limits.TIMEOUT_MAX_S}.")
    ephemeral_storage = serializers.IntegerField(
        required=False, help_text=f"MB of /tmp, {limits.EPHEMERAL_MIN_MB}-{limits.EPHEMERAL_MAX_MB}.")
    description = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    environment = serializers.DictField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False), required=False,
        help_text=f"Variables, {limits.ENVIRONMENT_MAX_BYTES} bytes in all.")
    role = serializers.CharField(required=False, allow_blank=True,
                                 help_text="The execution role's ARN (arn:aws:iam::<account>:role/<name>), stored.")


class FunctionCreateSerializer(ConfigurationSerializer):
    name = serializers.CharField(trim_whitespace=False)
    runtime = serializers.CharField(help_text="For example python3.12.")
    handler = serializers.CharField(help_text="'<module>.<function>', for example app.handler.")
    zip_file = ZipFileField(help_text=f"The code as a zip: a file upload or base64, at most "
                                      f"{limits.CODE_ZIPPED_MAX_BYTES} bytes.")
    publish = serializers.BooleanField(default=False, help_text="Also publish version 1.")


class FunctionConfigurationUpdateSerializer(ConfigurationSerializer):
    revision_id = serializers.UUIDField(required=False)


class FunctionCodeUpdateSerializer(StrictSerializer):
    zip_file = ZipFileField()
    revision_id = serializers.UUIDField(required=False)
    publish = serializers.BooleanField(default=False)


class VersionPublishSerializer(StrictSerializer):
    description = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    revision_id = serializers.UUIDField(required=False)
    code_sha256 = serializers.CharField(required=False, help_text="Publish only if $LATEST has this code.")


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


class AliasCreateSerializer(StrictSerializer):
    name = serializers.CharField(trim_whitespace=False)
    function_version = serializers.CharField(help_text="A version number or $LATEST.")
    additional_version_weights = serializers.DictField(
        child=serializers.FloatField(), required=False,
        help_text="One other version and the share of invocations (0.0-1.0) it receives, e.g. {\"2\": 0.1}.")
    description = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, default="")


class AliasUpdateSerializer(StrictSerializer):
    function_version = serializers.CharField(required=False)
    additional_version_weights = serializers.DictField(child=serializers.FloatField(), required=False)
    description = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    revision_id = serializers.UUIDField(required=False)
