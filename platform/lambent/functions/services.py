"""Writes of functions, versions and aliases: every rule of the native and Lambda APIs.

Each service takes ``tenant=`` and either completes or changes nothing: validation runs
before any write, and the writes of one call share a transaction. ``$LATEST`` and alias
rows are locked while they change, so a RevisionId check and the write it guards are
atomic, and version numbers are handed out under a lock on the function.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from lambent import broker
from lambent.errors import CodeStorageExceeded, Conflict, InvalidParameter, NotFound, PreconditionFailed
from lambent.functions import limits, selectors
from lambent.functions.code_packages import CodePackage, code_files, code_store, inspect_zip
from lambent.functions.configuration import FIELDS, FunctionConfiguration, description_problems, problems
from lambent.functions.models import LATEST, LATEST_NUMBER, Alias, Function, ProvisionedConcurrencyConfig, Version
from lambent.functions.runtimes import runtime_get
from lambent.functions.tags import tags_problems
from lambent.iam.models import Tenant
from lambent.iam.services import tenant_lock

logger = logging.getLogger(__name__)

#: The most sandboxes one provisioned concurrency config may ask for (Lambda's default account limit).
PROVISIONED_CONCURRENCY_MAX = 1000
#: The task (``worker.tasks``) that brings the executors in line with the configs, sent by name.
RECONCILE_PROVISIONED = "lambent.invocations.reconcile_provisioned"
UNPUBLISHED = "Provisioned Concurrency Configs cannot be applied to unpublished function versions."


def function_create(
    *, tenant: Tenant, name: str, configuration: FunctionConfiguration, zip_file: bytes, publish: bool = False,
    tags: Mapping[str, str] | None = None,
) -> Version:
    """A new function with its ``$LATEST``; with ``publish``, also version 1, which is returned."""
    found = problems(configuration)
    if not re.fullmatch(limits.NAME_PATTERN, name):
        found["name"] = [f"name must be 1-{limits.NAME_MAX} letters, digits, '-' or '_'."]
    tag_problems = tags_problems(tags or {})
    if len(tags or {}) > limits.TAGS_MAX:
        tag_problems.append(f"A function has at most {limits.TAGS_MAX} tags.")
    if tag_problems:
        found["tags"] = tag_problems
    if found:
        raise InvalidParameter(fields=found)
    package = inspect_zip(zip_file)
    _check_handler(configuration, package.files, field="handler")
    try:
        with transaction.atomic():
            if Function.objects.filter(tenant=tenant, name=name).exists():
                raise Conflict(f"Function already exists: {name}")
            _check_code_storage(tenant, package)
            function = Function.objects.create(tenant=tenant, name=name, tags=dict(tags or {}))
            latest = Version(function=function, number=LATEST_NUMBER)
            latest.apply(configuration, code_store(package))
            latest.save()
            if publish:
                return _publish(latest=latest, description=None)[0]
            return latest
    except IntegrityError:
        raise Conflict(f"Function already exists: {name}") from None


def function_update_code(
    *, tenant: Tenant, name: str, zip_file: bytes, revision_id: uuid.UUID | None = None, publish: bool = False
) -> Version:
    """New code for ``$LATEST``; with ``publish``, the resulting version is returned."""
    package = inspect_zip(zip_file)
    with transaction.atomic():
        latest = _lock_latest(tenant=tenant, name=name)
        _check_revision(latest.revision_id, revision_id, of=f"function {name}")
        _check_handler(latest.configuration, package.files, field="zip_file")
        _check_code_storage(tenant, package)
        latest.apply(latest.configuration, code_store(package))
        latest.save()
        if publish:
            return _publish(latest=latest, description=None)[0]
        return latest


def function_update_configuration(
    *, tenant: Tenant, name: str, changes: Mapping[str, Any], revision_id: uuid.UUID | None = None
) -> Version:
    """Change some of ``$LATEST``'s configuration; fields not named keep their value."""
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise InvalidParameter(fields={field: ["Not a configuration field."] for field in sorted(unknown)})
    with transaction.atomic():
        latest = _lock_latest(tenant=tenant, name=name)
        _check_revision(latest.revision_id, revision_id, of=f"function {name}")
        config = replace(latest.configuration, **changes)
        config.validate()
        if config.handler != latest.handler or config.runtime != latest.runtime:
            _check_handler(config, code_files(latest.code), field="handler")
        latest.apply(config, latest.code)
        latest.save()
        return latest


def function_delete(*, tenant: Tenant, name: str) -> None:
    """The function with all its versions and aliases. Its invocations stay in the ledger."""
    selectors.function_get(tenant=tenant, name=name).delete()


def version_publish(
    *,
    tenant: Tenant,
    function_name: str,
    description: str | None = None,
    revision_id: uuid.UUID | None = None,
    code_sha256: str | None = None,
) -> tuple[Version, bool]:
    """Publish ``$LATEST`` as the next version; unchanged since the newest version, that one is
    returned instead. The flag says whether a version was created."""
    if description is not None:
        _check_description(description)
    with transaction.atomic():
        latest = _lock_latest(tenant=tenant, name=function_name)
        _check_revision(latest.revision_id, revision_id, of=f"function {function_name}")
        if code_sha256 is not None and code_sha256 != latest.code.sha256:
            raise PreconditionFailed(
                f"CodeSha256 {code_sha256} does not match the code of $LATEST ({latest.code.sha256})."
            )
        return _publish(latest=latest, description=description)


def version_delete(*, tenant: Tenant, function_name: str, version: str) -> None:
    if version == LATEST:
        raise Conflict("$LATEST cannot be deleted on its own; delete the function.")
    with transaction.atomic():
        target = selectors.version_get(tenant=tenant, function_name=function_name, version=version)
        users = Alias.objects.filter(Q(version=target) | Q(additional_version=target)).values_list("name", flat=True)
        if users:
            raise Conflict(f"Version {version} is used by alias {', '.join(sorted(users))}; move or delete it first.")
        target.delete()


def alias_create(
    *,
    tenant: Tenant,
    function_name: str,
    name: str,
    function_version: str,
    additional_version_weights: Mapping[str, float] | None = None,
    description: str = "",
) -> Alias:
    found: dict[str, list[str]] = {}
    if not re.fullmatch(limits.ALIAS_NAME_PATTERN, name):
        found["name"] = [f"name must be 1-{limits.ALIAS_NAME_MAX} letters, digits, '-' or '_', and not all digits."]
    if description_problems(description):
        found["description"] = description_problems(description)
    if found:
        raise InvalidParameter(fields=found)
    try:
        with transaction.atomic():
            function = selectors.function_get(tenant=tenant, name=function_name)
            alias = Alias(function=function, name=name, description=description)
            _route(alias, function_version=function_version, weights=additional_version_weights or {})
            if Alias.objects.filter(function=function, name=name).exists():
                raise Conflict(f"Alias already exists: {function_name}:{name}")
            alias.save()
            return alias
    except IntegrityError:
        raise Conflict(f"Alias already exists: {function_name}:{name}") from None


def alias_update(
    *, tenant: Tenant, function_name: str, name: str, changes: Mapping[str, Any], revision_id: uuid.UUID | None = None
) -> Alias:
    """Change ``function_version``, ``additional_version_weights`` or ``description``."""
    with transaction.atomic():
        alias = _lock_alias(tenant=tenant, function_name=function_name, name=name)
        _check_revision(alias.revision_id, revision_id, of=f"alias {function_name}:{name}")
        description = changes.get("description", alias.description)
        _check_description(description)
        _route(
            alias,
            function_version=changes.get("function_version", alias.version.version),
            weights=changes.get("additional_version_weights", alias.additional_version_weights),
        )
        alias.description = description
        alias.revision_id = uuid.uuid4()
        alias.save()
        return alias


def alias_delete(*, tenant: Tenant, function_name: str, name: str) -> None:
    selectors.alias_get(tenant=tenant, function_name=function_name, name=name).delete()


def provisioned_config_put(*, tenant: Tenant, function_name: str, qualifier: str | None,
                           requested: int) -> ProvisionedConcurrencyConfig:
    """Keep ``requested`` sandboxes of a published version or an alias initialized ahead of demand.

    The config (created or replaced) is ``IN_PROGRESS`` until a reconcile, sent once this commits,
    finds them ready. A version and an alias pointing to it (or routing part of its traffic
    to it) cannot both have a config.
    """
    _check_requested(requested)
    with transaction.atomic():
        function = selectors.function_for_update(tenant=tenant, name=function_name)
        qualifier = _qualifier(qualifier)
        versions = _provisioned_versions(function, qualifier=qualifier)
        _check_overlap(function, qualifier=qualifier, versions=versions)
        _check_allowance(function=function, qualifier=qualifier, requested=requested)
        config, _ = ProvisionedConcurrencyConfig.objects.update_or_create(
            function=function, qualifier=qualifier,
            defaults={"requested": requested, "status": ProvisionedConcurrencyConfig.Status.IN_PROGRESS,
                      "status_reason": "", "last_modified": timezone.now()},
        )
        transaction.on_commit(reconcile_provisioned_soon)
        return config


def provisioned_config_delete(*, tenant: Tenant, function_name: str, qualifier: str | None) -> None:
    """Release the sandboxes (at the reconcile sent once this commits) and forget the config."""
    with transaction.atomic():
        selectors.provisioned_config_get(tenant=tenant, function_name=function_name, qualifier=qualifier).delete()
        transaction.on_commit(reconcile_provisioned_soon)


def reconcile_provisioned_soon() -> None:
    """Send a reconcile now instead of waiting for beat's next one (which does it if the broker is away)."""
    try:
        broker.publish(task=RECONCILE_PROVISIONED, args=[])
    except broker.BrokerUnavailable as exc:  # beat sends the next one anyway
        logger.warning("could not send %s, beat will: %s", RECONCILE_PROVISIONED, exc)


# --- helpers ------------------------------------------------------------------------------


def _lock_latest(*, tenant: Tenant, name: str) -> Version:
    latest = (
        Version.objects.select_for_update(of=("self",))
        .select_related("code", "function__tenant")
        .filter(function__tenant=tenant, function__name=name, number=LATEST_NUMBER)
        .first()
    )
    if latest is None:
        raise NotFound(f"Function not found: {name}")
    return latest


def _lock_alias(*, tenant: Tenant, function_name: str, name: str) -> Alias:
    alias = (
        Alias.objects.select_for_update(of=("self",))
        .select_related("function__tenant", "version", "additional_version")
        .filter(function__tenant=tenant, function__name=function_name, name=name)
        .first()
    )
    if alias is None:
        selectors.function_get(tenant=tenant, name=function_name)
        raise NotFound(f"Alias not found: {function_name}:{name}")
    return alias


def _check_revision(current: uuid.UUID, given: uuid.UUID | None, *, of: str) -> None:
    if given is not None and str(given) != str(current):
        raise PreconditionFailed(
            f"The RevisionId provided does not match the latest RevisionId of {of}. Read it again and retry."
        )


def _check_code_storage(tenant: Tenant, package: CodePackage) -> None:
    """Refuse code that would take the tenant over its code storage limit. The tenant's row is
    locked first, so two uploads at once cannot together go over it."""
    tenant_lock(tenant)
    if selectors.uses_code(tenant=tenant, sha256=package.sha256):
        return  # already counted
    used = selectors.code_storage_used(tenant=tenant)
    if used + package.size > settings.CODE_STORAGE_LIMIT_BYTES:
        raise CodeStorageExceeded(
            f"Code storage limit exceeded: {used} bytes stored and {package.size} uploaded, "
            f"over the limit of {settings.CODE_STORAGE_LIMIT_BYTES} bytes. Delete unused versions first.")


def _check_description(description: str) -> None:
    found = description_problems(description)
    if found:
        raise InvalidParameter(fields={"description": found})


def _check_handler(config: FunctionConfiguration, files: frozenset[str], *, field: str) -> None:
    runtime = runtime_get(config.runtime)
    problem = runtime.handler_problem(config.handler, files) if runtime else None
    if problem:
        raise InvalidParameter.field(field, problem)


def _publish(*, latest: Version, description: str | None) -> tuple[Version, bool]:
    function = Function.objects.select_for_update().get(pk=latest.function_id)
    newest = function.versions.exclude(number=LATEST_NUMBER).order_by("-number").first()
    if newest is not None and newest.fingerprint == latest.fingerprint:
        return newest, False
    function.last_published += 1
    function.save(update_fields=["last_published"])
    version = Version(
        function=function,
        number=function.last_published,
        code=latest.code,
        fingerprint=latest.fingerprint,
        **latest.configuration.as_dict(),
    )
    if description is not None:
        version.description = description
    version.save()
    return version, True


def _route(alias: Alias, *, function_version: str, weights: Mapping[str, float]) -> None:
    """Point ``alias`` at ``function_version`` and the weighted additional version, if valid."""
    function = alias.function
    if selectors.version_number(function_version) is None:
        raise InvalidParameter.field("function_version", f"{function_version!r} is not a version: $LATEST or a "
                                                         "published version number.")
    try:
        primary = selectors.version_get(tenant=function.tenant, function_name=function.name, version=function_version)
    except NotFound:  # as Lambda answers an alias to a version that does not exist
        raise NotFound(f"Function not found: {function.arn}:{function_version}") from None
    alias.version, alias.additional_version, alias.additional_weight = primary, None, None
    if not weights:
        return
    field = "additional_version_weights"
    if len(weights) > 1:
        raise InvalidParameter.field(field, "Routing may send traffic to one additional version only.")
    (extra, weight), = weights.items()
    if primary.is_latest or extra == LATEST:
        raise InvalidParameter.field(field, "Weighted routing needs published versions, not $LATEST.")
    if extra == primary.version:
        raise InvalidParameter.field(field, "The additional version must differ from function_version.")
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0.0 <= weight <= 1.0:
        raise InvalidParameter.field(field, f"The weight of version {extra} must be a number from 0.0 to 1.0.")
    try:
        alias.additional_version = selectors.version_get(
            tenant=function.tenant, function_name=function.name, version=extra
        )
    except NotFound:  # as for function_version: a version that is not there is not found
        raise NotFound(f"Function not found: {function.arn}:{extra}") from None
    alias.additional_weight = float(weight)


def _qualifier(qualifier: str | None) -> str:
    if not qualifier:
        raise InvalidParameter.field("qualifier", "A version number or an alias name is required.")
    return qualifier


def _check_requested(requested: int) -> None:
    if isinstance(requested, bool) or not isinstance(requested, int) or not 1 <= requested:
        raise InvalidParameter.field("provisioned_concurrent_executions", "Must be a whole number of at least 1.")


def _check_allowance(*, function: Function, qualifier: str, requested: int) -> None:
    """What ``function`` may ask for: at most ``PROVISIONED_CONCURRENCY_MAX`` per config. What the
    function's reservation or the tenant's limit can hold, ``lambent.quotas.services.provisioned_put``
    checks before it calls this."""
    if requested > PROVISIONED_CONCURRENCY_MAX:
        raise InvalidParameter.field("provisioned_concurrent_executions",
                                     f"Must be at most {PROVISIONED_CONCURRENCY_MAX}, got {requested}.")


def _provisioned_versions(function: Function, *, qualifier: str) -> set[int]:
    """The published version numbers ``qualifier`` sends invocations to; 400 for ``$LATEST``."""
    if qualifier == LATEST:
        raise InvalidParameter(UNPUBLISHED, fields={"qualifier": [UNPUBLISHED]})
    if selectors.version_number(qualifier) is not None:
        version = selectors.version_get(tenant=function.tenant, function_name=function.name, version=qualifier)
        return {version.number}
    alias = selectors.alias_get(tenant=function.tenant, function_name=function.name, name=qualifier)
    if alias.version.is_latest:
        raise InvalidParameter(UNPUBLISHED, fields={"qualifier": [UNPUBLISHED]})
    return {version.number for version in (alias.version, alias.additional_version) if version is not None}


def _check_overlap(function: Function, *, qualifier: str, versions: set[int]) -> None:
    """A version and an alias routing to it cannot both have a config (two aliases may share a version)."""
    is_version = selectors.version_number(qualifier) is not None
    for other in function.provisioned_concurrency_configs.exclude(qualifier=qualifier):
        other_is_version = selectors.version_number(other.qualifier) is not None
        if other_is_version == is_version:
            continue
        covered = {int(other.qualifier)} if other_is_version else _alias_versions(function, name=other.qualifier)
        shared = versions & covered
        if shared:
            alias = qualifier if other_is_version else other.qualifier
            raise Conflict(f"Alias {alias} routes to version {min(shared)}, which cannot have provisioned "
                           "concurrency both through the alias and as a version: delete one of the two configs.")


def _alias_versions(function: Function, *, name: str) -> set[int]:
    alias = function.aliases.select_related("version", "additional_version").filter(name=name).first()
    if alias is None:
        return set()
    return {version.number for version in (alias.version, alias.additional_version) if version is not None}
