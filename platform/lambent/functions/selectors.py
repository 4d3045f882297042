"""Tenant-scoped reads of functions, versions and aliases.

Every query starts from ``tenant=``; a resource of another tenant is indistinguishable
from one that does not exist (``NotFound``).
"""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet, Sum

from lambent.errors import InvalidParameter, NotFound, ProvisionedConcurrencyConfigNotFound
from lambent.functions.models import (
    LATEST,
    LATEST_NUMBER,
    Alias,
    CodeArtifact,
    Function,
    ProvisionedConcurrencyConfig,
    Version,
)
from lambent.iam.models import Tenant


def function_list(*, tenant: Tenant) -> QuerySet[Function]:
    """The tenant's functions, each with its ``$LATEST`` prefetched as ``latest_versions``."""
    latest = Version.objects.filter(number=LATEST_NUMBER).select_related("code")
    return (
        Function.objects.filter(tenant=tenant)
        .select_related("tenant")
        .prefetch_related(Prefetch("versions", queryset=latest, to_attr="latest_versions"))
        .order_by("name")
    )


def function_get(*, tenant: Tenant, name: str) -> Function:
    try:
        return Function.objects.select_related("tenant").get(tenant=tenant, name=name)
    except Function.DoesNotExist:
        raise NotFound(f"Function not found: {name}") from None


def function_for_update(*, tenant: Tenant, name: str) -> Function:
    """The function, its row locked until the caller's transaction ends."""
    function = Function.objects.select_for_update().select_related("tenant").filter(tenant=tenant, name=name).first()
    if function is None:
        raise NotFound(f"Function not found: {name}")
    return function


#: The largest version number a database column holds.
VERSION_NUMBER_MAX = 2**31 - 1


def version_number(version: str) -> int | None:
    """``$LATEST`` is 0, ``"7"`` (or ``"007"``) is 7; anything else names no version. A number past
    what the database holds is ``VERSION_NUMBER_MAX + 1``: a version, which no function has."""
    if version == LATEST:
        return LATEST_NUMBER
    significant = version.lstrip("0")
    if not (significant.isascii() and significant.isdigit()):
        return None
    return int(significant) if len(significant) <= 10 else VERSION_NUMBER_MAX + 1


def version_list(*, tenant: Tenant, function_name: str) -> QuerySet[Version]:
    function = function_get(tenant=tenant, name=function_name)
    return function.versions.select_related("code", "function__tenant").order_by("number")


def version_get(*, tenant: Tenant, function_name: str, version: str) -> Version:
    number = version_number(version)
    found = None
    if number is not None and number <= VERSION_NUMBER_MAX:
        found = (
            Version.objects.select_related("code", "function__tenant")
            .filter(function__tenant=tenant, function__name=function_name, number=number)
            .first()
        )
    if found is None:
        function_get(tenant=tenant, name=function_name)  # a missing function is reported as such
        raise NotFound(f"Function not found: {function_name}:{version}")
    return found


def latest_get(*, tenant: Tenant, function_name: str) -> Version:
    return version_get(tenant=tenant, function_name=function_name, version=LATEST)


def alias_list(*, tenant: Tenant, function_name: str) -> QuerySet[Alias]:
    function = function_get(tenant=tenant, name=function_name)
    return function.aliases.select_related("version", "additional_version", "function__tenant").order_by("name")


def alias_get(*, tenant: Tenant, function_name: str, name: str) -> Alias:
    try:
        return Alias.objects.select_related(
            "version__code", "additional_version__code", "function__tenant"
        ).get(
            function__tenant=tenant, function__name=function_name, name=name
        )
    except Alias.DoesNotExist:
        function_get(tenant=tenant, name=function_name)
        raise NotFound(f"Alias not found: {function_name}:{name}") from None


def qualifier_routing(*, tenant: Tenant, function_name: str, qualifier: str | None
                      ) -> tuple[Version, Version | None, float]:
    """Where invocations of ``qualifier`` go: ``$LATEST`` when unqualified, a version by number,
    or an alias's version and its weighted additional version: (primary, additional, weight)."""
    if not qualifier or version_number(qualifier) is not None:
        return version_get(tenant=tenant, function_name=function_name, version=qualifier or LATEST), None, 0.0
    alias = alias_get(tenant=tenant, function_name=function_name, name=qualifier)
    for version in (alias.version, alias.additional_version):
        if version is not None:
            version.function = alias.function
    return alias.version, alias.additional_version, alias.additional_weight or 0.0


def provisioned_config_list(*, tenant: Tenant, function_name: str) -> QuerySet[ProvisionedConcurrencyConfig]:
    function = function_get(tenant=tenant, name=function_name)
    return function.provisioned_concurrency_configs.select_related("function__tenant").order_by("qualifier")


def provisioned_config_get(*, tenant: Tenant, function_name: str, qualifier: str | None
                           ) -> ProvisionedConcurrencyConfig:
    function = function_get(tenant=tenant, name=function_name)
    if not qualifier:
        raise InvalidParameter.field("qualifier", "A version number or an alias name is required.")
    config = function.provisioned_concurrency_configs.select_related("function__tenant").filter(
        qualifier=qualifier).first()
    if config is None:
        raise ProvisionedConcurrencyConfigNotFound(
            f"No Provisioned Concurrency Config found for this function: {function_name}:{qualifier}")
    return config


def code_storage_used(*, tenant: Tenant) -> int:
    """Bytes of code the tenant stores: each distinct zip its versions use, counted once however
    many versions or functions share it."""
    code_ids = Version.objects.filter(function__tenant=tenant).values("code_id")
    return CodeArtifact.objects.filter(pk__in=code_ids).aggregate(total=Sum("size"))["total"] or 0


def uses_code(*, tenant: Tenant, sha256: str) -> bool:
    return Version.objects.filter(function__tenant=tenant, code__sha256=sha256).exists()


def provisioned_totals(*, tenant: Tenant) -> dict[int, int]:
    """Sandboxes requested ahead of demand, per function (by primary key), all its configs together."""
    totals: dict[int, int] = {}
    for function_id, requested in ProvisionedConcurrencyConfig.objects.filter(
            function__tenant=tenant).values_list("function_id", "requested"):
        totals[function_id] = totals.get(function_id, 0) + requested
    return totals
