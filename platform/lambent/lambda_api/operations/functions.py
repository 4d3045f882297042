"""Functions and versions: CreateFunction, GetFunction, GetFunctionConfiguration, UpdateFunctionCode,
UpdateFunctionConfiguration, DeleteFunction, ListFunctions, PublishVersion, ListVersionsByFunction,
GetAccountSettings."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpResponse

from lambent.errors import InvalidParameter, PreconditionFailed
from lambent.functions import limits, selectors, services
from lambent.functions.configuration import FunctionConfiguration
from lambent.functions.models import LATEST, Version
from lambent.invocations import event_configs
from lambent.lambda_api import protocol as p
from lambent.lambda_api import shapes
from lambent.lambda_api.code_links import code_link
from lambent.lambda_api.protocol import Call, ValidationFailed, respond
from lambent.lambda_api.references import resolve, target
from lambent.lambda_api.routes import operation
from lambent.quotas import selectors as quota_selectors

#: Lambda's configuration members and the native configuration field each sets.
_SIMPLE_FIELDS = {"Runtime": "runtime", "Handler": "handler", "Role": "role", "Description": "description",
                  "Timeout": "timeout", "MemorySize": "memory_size"}
#: Members of features this installation does not have: refused when they ask for something.
_UNSUPPORTED_MEMBERS = ("Layers", "FileSystemConfigs", "ImageConfig", "CodeSigningConfigArn", "KMSKeyArn",
                        "SnapStart", "CapacityProviderConfig", "DurableConfig")


def configuration_of(version: Version) -> dict[str, Any]:
    return configurations([version])[0]


def configurations(versions: list[Version]) -> list[dict[str, Any]]:
    """Their FunctionConfiguration shapes, with the dead-letter targets of their functions (one query)."""
    targets = event_configs.dead_letter_targets(function_ids={version.function_id for version in versions})
    return [shapes.function_configuration(version, dead_letter_target=targets.get(version.function_id))
            for version in versions]


def _changes(body: dict[str, Any]) -> dict[str, Any]:
    """The native configuration changes a CreateFunction or UpdateFunctionConfiguration body asks for."""
    for member in _UNSUPPORTED_MEMBERS:
        if body.get(member):
            raise InvalidParameter.field(member, f"{member} is not supported by this installation.")
    vpc = p.mapping(body, "VpcConfig") or {}
    if vpc.get("SubnetIds") or vpc.get("SecurityGroupIds"):
        raise InvalidParameter.field("VpcConfig", "VpcConfig is not supported by this installation.")
    role = body.get("Role")
    if isinstance(role, str) and not re.fullmatch(limits.ROLE_PATTERN, role):
        raise ValidationFailed.pattern("role", role, limits.ROLE_PATTERN)
    changes: dict[str, Any] = {}
    for member, name in _SIMPLE_FIELDS.items():
        if member in body:
            changes[name] = p.integer(body, member) if member in ("Timeout", "MemorySize") else p.text(body, member)
    if "Environment" in body:
        environment = p.mapping(body, "Environment") or {}
        variables = environment.get("Variables") or {}
        if not isinstance(variables, dict):
            raise InvalidParameter.field("Environment", "Environment.Variables must be an object.")
        changes["environment"] = variables
    if "EphemeralStorage" in body:
        storage = p.mapping(body, "EphemeralStorage") or {}
        changes["ephemeral_storage"] = p.integer(storage, "Size")
    architectures = body.get("Architectures")
    if architectures is not None and architectures != shapes.ARCHITECTURES:
        raise InvalidParameter.field("Architectures", f"Architectures must be {shapes.ARCHITECTURES} here.")
    return {name: value for name, value in changes.items() if value is not None}


def _dead_letter(body: dict[str, Any]) -> str | None:
    """The DeadLetterConfig target asked for: a target, "" to remove it, None to leave it."""
    config = p.mapping(body, "DeadLetterConfig")
    if config is None:
        return None
    return p.text(config, "TargetArn") or ""


def _zip(code: dict[str, Any]) -> bytes:
    if code.get("S3Bucket") or code.get("S3Key") or code.get("ImageUri"):
        raise InvalidParameter.field("Code", "Only Code.ZipFile is supported here: upload the zip itself.")
    return p.blob(p.required(code, "ZipFile"), name="ZipFile")


@operation("CreateFunction", "POST", "/2015-03-31/functions")
def create_function(call: Call) -> HttpResponse:
    body = call.json()
    name = p.required(body, "FunctionName")
    if not isinstance(name, str):
        raise InvalidParameter.field("FunctionName", "FunctionName must be a string.")
    p.required(body, "Role")
    if body.get("PackageType", "Zip") != "Zip":
        raise InvalidParameter.field("PackageType", "Only PackageType Zip is supported here.")
    if not body.get("Runtime"):
        raise InvalidParameter.field("Runtime", "Runtime is required for a function of PackageType Zip.")
    if not body.get("Handler"):
        raise InvalidParameter.field("Handler", "Handler is required for a function of PackageType Zip.")
    changes = _changes(body)
    zip_file = _zip(p.mapping(body, "Code") or {})
    tags = p.mapping(body, "Tags") or {}
    dead_letter = _dead_letter(body)
    name = resolve(call, name, qualifier=None, qualified=False).name
    configuration = FunctionConfiguration(**changes)
    with transaction.atomic():
        version = services.function_create(tenant=call.tenant, name=name, configuration=configuration,
                                           zip_file=zip_file, publish=p.boolean(body, "Publish"), tags=tags)
        if dead_letter:
            event_configs.dead_letter_config_put(tenant=call.tenant, function_name=name, target=dead_letter)
    return respond(configuration_of(version), status=201, request_id=call.request_id)


def resolve_version(call: Call) -> tuple[Version, str | None]:
    """The version the call's FunctionName and Qualifier name (an alias's primary version), and
    the qualifier."""
    found = target(call)
    primary, _, _ = selectors.qualifier_routing(tenant=call.tenant, function_name=found.name,
                                                qualifier=found.qualifier)
    return primary, found.qualifier


def _qualified_configuration(version: Version, qualifier: str | None) -> dict[str, Any]:
    shape = configuration_of(version)
    if qualifier and qualifier != version.version:  # an alias: its ARN, the version it points to
        shape["FunctionArn"] = f"{version.function.arn}:{qualifier}"
    return shape


@operation("GetFunction", "GET", "/2015-03-31/functions/{FunctionName}")
def get_function(call: Call) -> HttpResponse:
    version, qualifier = resolve_version(call)
    body: dict[str, Any] = {
        "Configuration": _qualified_configuration(version, qualifier),
        "Code": {"RepositoryType": "S3", "Location": code_link(call, version.code)},
    }
    if version.function.tags:
        body["Tags"] = dict(version.function.tags)
    reservation = quota_selectors.reservation_get(tenant=call.tenant, function_name=version.function.name)
    if reservation is not None:
        body["Concurrency"] = {"ReservedConcurrentExecutions": reservation.reserved_concurrent_executions}
    return respond(body, request_id=call.request_id)


@operation("GetFunctionConfiguration", "GET", "/2015-03-31/functions/{FunctionName}/configuration")
def get_function_configuration(call: Call) -> HttpResponse:
    version, qualifier = resolve_version(call)
    return respond(_qualified_configuration(version, qualifier), request_id=call.request_id)


@operation("UpdateFunctionCode", "PUT", "/2015-03-31/functions/{FunctionName}/code")
def update_function_code(call: Call) -> HttpResponse:
    body = call.json()
    name = target(call, qualified=False).name
    if body.get("DryRun"):
        raise InvalidParameter.field("DryRun", "DryRun is not supported by UpdateFunctionCode here.")
    architectures = body.get("Architectures")
    if architectures is not None and architectures != shapes.ARCHITECTURES:
        raise InvalidParameter.field("Architectures", f"Architectures must be {shapes.ARCHITECTURES} here.")
    zip_file = _zip(body)
    version = services.function_update_code(tenant=call.tenant, name=name, zip_file=zip_file,
                                            revision_id=p.revision(body.get("RevisionId")),
                                            publish=p.boolean(body, "Publish"))
    return respond(configuration_of(version), request_id=call.request_id)


@operation("UpdateFunctionConfiguration", "PUT", "/2015-03-31/functions/{FunctionName}/configuration")
def update_function_configuration(call: Call) -> HttpResponse:
    body = call.json()
    name = target(call, qualified=False).name
    changes = _changes(body)
    dead_letter = _dead_letter(body)
    with transaction.atomic():
        version = services.function_update_configuration(tenant=call.tenant, name=name, changes=changes,
                                                         revision_id=p.revision(body.get("RevisionId")))
        if dead_letter:
            event_configs.dead_letter_config_put(tenant=call.tenant, function_name=name, target=dead_letter)
        elif dead_letter == "":
            event_configs.dead_letter_config_remove(tenant=call.tenant, function_name=name)
    return respond(configuration_of(version), request_id=call.request_id)


@operation("DeleteFunction", "DELETE", "/2015-03-31/functions/{FunctionName}")
def delete_function(call: Call) -> HttpResponse:
    found = target(call)
    if found.qualifier is None:
        services.function_delete(tenant=call.tenant, name=found.name)
    elif selectors.version_number(found.qualifier) is None or found.qualifier == LATEST:
        raise InvalidParameter.field("Qualifier", "Qualifier must be a published version number to delete one "
                                                  "version; omit it to delete the function.")
    else:
        services.version_delete(tenant=call.tenant, function_name=found.name, version=found.qualifier)
    return respond(None, status=204, request_id=call.request_id)


@operation("ListFunctions", "GET", "/2015-03-31/functions")
def list_functions(call: Call) -> HttpResponse:
    every_version = call.query.get("FunctionVersion")
    if every_version not in (None, "ALL"):
        raise InvalidParameter.field("FunctionVersion", "FunctionVersion must be ALL when given.")
    if every_version == "ALL":
        items: Any = Version.objects.filter(function__tenant=call.tenant).select_related(
            "code", "function__tenant").order_by("function__name", "number")
    else:
        items = Version.objects.filter(function__tenant=call.tenant, number=0).select_related(
            "code", "function__tenant").order_by("function__name")
    return respond(p.listing("Functions", items, call.query, configurations), request_id=call.request_id)


@operation("PublishVersion", "POST", "/2015-03-31/functions/{FunctionName}/versions")
def publish_version(call: Call) -> HttpResponse:
    body = call.json()
    name = target(call, qualified=False).name
    code_sha256 = p.text(body, "CodeSha256")
    latest = selectors.latest_get(tenant=call.tenant, function_name=name)
    if code_sha256 is not None and code_sha256 != shapes.code_sha256(latest.code.sha256):
        raise PreconditionFailed(
            f"CodeSHA256 ({code_sha256}) is different from current CodeSHA256 in $LATEST "
            f"({shapes.code_sha256(latest.code.sha256)}). Please try again with the CodeSHA256 in $LATEST.")
    version, _ = services.version_publish(tenant=call.tenant, function_name=name,
                                          description=p.text(body, "Description"),
                                          revision_id=p.revision(body.get("RevisionId")))
    return respond(configuration_of(version), status=201, request_id=call.request_id)


@operation("ListVersionsByFunction", "GET", "/2015-03-31/functions/{FunctionName}/versions")
def list_versions_by_function(call: Call) -> HttpResponse:
    name = target(call, qualified=False).name
    versions = selectors.version_list(tenant=call.tenant, function_name=name)
    return respond(p.listing("Versions", versions, call.query, configurations), request_id=call.request_id)


@operation("GetAccountSettings", "GET", "/2016-08-19/account-settings")
def get_account_settings(call: Call) -> HttpResponse:
    account = quota_selectors.account(tenant=call.tenant)
    body = {
        "AccountLimit": {
            "TotalCodeSize": settings.CODE_STORAGE_LIMIT_BYTES,
            "CodeSizeUnzipped": limits.CODE_UNZIPPED_MAX_BYTES,
            "CodeSizeZipped": limits.CODE_ZIPPED_MAX_BYTES,
            "ConcurrentExecutions": account.limits.concurrent_executions,
            "UnreservedConcurrentExecutions": account.unreserved,
        },
        "AccountUsage": {"TotalCodeSize": account.total_code_size, "FunctionCount": account.function_count},
    }
    return respond(body, request_id=call.request_id)
