"""Lambent's resources in the shapes of the Lambda API's responses (botocore's output shapes)."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from lambent.functions.models import Alias, ProvisionedConcurrencyConfig, Version
from lambent.invocations.models import EventInvokeConfig

ARCHITECTURES = ["x86_64"]


def timestamp(value: datetime) -> str:
    """Lambda's ``LastModified``: ISO 8601 with milliseconds and a ``+0000`` offset."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def code_sha256(hex_digest: str) -> str:
    """Lambda's ``CodeSha256`` is the digest in base64, not hex."""
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


def function_configuration(version: Version, *, dead_letter_target: str | None = None) -> dict[str, Any]:
    function = version.function
    shape: dict[str, Any] = {
        "FunctionName": function.name,
        "FunctionArn": version.arn,
        "Runtime": version.runtime,
        "Role": version.role,
        "Handler": version.handler,
        "CodeSize": version.code.size,
        "Description": version.description,
        "Timeout": version.timeout,
        "MemorySize": version.memory_size,
        "LastModified": timestamp(version.last_modified),
        "CodeSha256": code_sha256(version.code.sha256),
        "Version": version.version,
        "Environment": {"Variables": dict(version.environment)},
        "TracingConfig": {"Mode": "PassThrough"},
        "RevisionId": str(version.revision_id),
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": ARCHITECTURES,
        "EphemeralStorage": {"Size": version.ephemeral_storage},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{function.name}"},
    }
    if dead_letter_target:
        shape["DeadLetterConfig"] = {"TargetArn": dead_letter_target}
    return shape


def alias_configuration(alias: Alias) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "AliasArn": alias.arn,
        "Name": alias.name,
        "FunctionVersion": alias.version.version,
        "Description": alias.description,
        "RevisionId": str(alias.revision_id),
    }
    if alias.additional_version_weights:
        shape["RoutingConfig"] = {"AdditionalVersionWeights": alias.additional_version_weights}
    return shape


def provisioned_config(config: ProvisionedConcurrencyConfig, *, listed: bool = False) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "RequestedProvisionedConcurrentExecutions": config.requested,
        "AvailableProvisionedConcurrentExecutions": config.allocated,
        "AllocatedProvisionedConcurrentExecutions": config.allocated,
        "Status": config.status,
        "LastModified": timestamp(config.last_modified),
    }
    if config.status_reason:
        shape["StatusReason"] = config.status_reason
    if listed:
        shape["FunctionArn"] = config.arn
    return shape


def event_invoke_config(config: EventInvokeConfig) -> dict[str, Any]:
    destinations: dict[str, Any] = {}
    if config.on_success:
        destinations["OnSuccess"] = {"Destination": config.on_success}
    if config.on_failure:
        destinations["OnFailure"] = {"Destination": config.on_failure}
    return {
        "LastModified": config.last_modified.timestamp(),
        "FunctionArn": f"{config.function.arn}:{config.qualifier}",
        "MaximumRetryAttempts": config.maximum_retry_attempts,
        "MaximumEventAgeInSeconds": config.maximum_event_age_seconds,
        "DestinationConfig": destinations,
    }
