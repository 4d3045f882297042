"""Functions, versions, aliases and code artifacts.

A function is a name in a tenant. What runs is a *version*: a configuration plus a
code artifact. ``$LATEST`` (number 0) is the one mutable version; publishing copies it
into the next number, which never changes again, and numbers are never reused. An
*alias* names a version, optionally sending a weighted share of invocations to one
other version. ``$LATEST`` and aliases carry a RevisionId that changes on every write,
for optimistic locking.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from lambent.functions.configuration import FunctionConfiguration
from lambent.iam.models import Tenant

LATEST = "$LATEST"
LATEST_NUMBER = 0


class CodeArtifact(models.Model):
    """A code package as uploaded (a zip), stored once by its sha256 whoever uploads it."""

    sha256 = models.CharField(max_length=64, unique=True)
    size = models.PositiveBigIntegerField(help_text="Bytes zipped.")
    unzipped_size = models.PositiveBigIntegerField(help_text="Bytes once unpacked.")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.sha256

    @property
    def storage_name(self) -> str:
        return f"{self.sha256[:2]}/{self.sha256}.zip"


class StoredCode(models.Model):
    """A code package's bytes, where code is kept in the database (``code_storage``)."""

    name = models.CharField(max_length=100, primary_key=True, help_text="The artifact's storage name.")
    data = models.BinaryField()

    def __str__(self) -> str:
        return self.name


class Function(models.Model):
    """A function of a tenant: a name that its versions and aliases hang off."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="functions")
    name = models.CharField(max_length=64)
    last_published = models.PositiveIntegerField(default=0, help_text="The highest version number ever published.")
    tags = models.JSONField(default=dict, blank=True, help_text="Tag keys to values, as Lambda's TagResource sets.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="functions_function_unique_name")]

    def __str__(self) -> str:
        return f"{self.tenant.name}/{self.name}"

    @property
    def arn(self) -> str:
        return (
            f"arn:{settings.ARN_PARTITION}:lambda:{settings.REGION}:{self.tenant.account_id}:function:{self.name}"
        )


class Version(models.Model):
    """A configuration with its code: ``$LATEST`` (number 0, mutable) or a published, immutable one."""

    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    code = models.ForeignKey(CodeArtifact, on_delete=models.PROTECT, related_name="versions")
    runtime = models.CharField(max_length=32)
    handler = models.CharField(max_length=128)
    memory_size = models.PositiveIntegerField(help_text="MB")
    timeout = models.PositiveIntegerField(help_text="seconds")
    ephemeral_storage = models.PositiveIntegerField(help_text="MB of /tmp")
    description = models.CharField(max_length=256, blank=True)
    environment = models.JSONField(default=dict, blank=True)
    role = models.CharField(max_length=2048, blank=True,
                            help_text="The execution role's ARN, as Lambda's Role: stored, enforced with IAM policies.")
    fingerprint = models.CharField(max_length=64, help_text="sha256 of code and configuration at publish time.")
    revision_id = models.UUIDField(default=uuid.uuid4)
    last_modified = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["function", "number"], name="functions_version_unique_number")]
        ordering = ["function", "number"]

    def __str__(self) -> str:
        return f"{self.function}:{self.version}"

    @property
    def version(self) -> str:
        return LATEST if self.number == LATEST_NUMBER else str(self.number)

    @property
    def is_latest(self) -> bool:
        return self.number == LATEST_NUMBER

    @property
    def arn(self) -> str:
        """Qualified for a published version; ``$LATEST`` answers the function's own ARN, as Lambda does."""
        return self.function.arn if self.is_latest else f"{self.function.arn}:{self.version}"

    @property
    def configuration(self) -> FunctionConfiguration:
        return FunctionConfiguration(
            runtime=self.runtime,
            handler=self.handler,
            memory_size=self.memory_size,
            timeout=self.timeout,
            ephemeral_storage=self.ephemeral_storage,
            description=self.description,
            environment=dict(self.environment),
            role=self.role,
        )

    def apply(self, config: FunctionConfiguration, code: CodeArtifact) -> None:
        """Set configuration and code (the caller saves): only ever on ``$LATEST``."""
        assert self.is_latest, "published versions are immutable"
        for name, value in config.as_dict().items():
            setattr(self, name, value)
        self.code = code
        self.fingerprint = config.fingerprint(code_sha256=code.sha256)
        self.revision_id = uuid.uuid4()


class Alias(models.Model):
    """A name for a version, with optional weighted routing to one additional version."""

    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="aliases")
    name = models.CharField(max_length=128)
    version = models.ForeignKey(Version, on_delete=models.RESTRICT, related_name="+")
    additional_version = models.ForeignKey(Version, on_delete=models.RESTRICT, null=True, blank=True,
                                           related_name="+")
    additional_weight = models.FloatField(null=True, blank=True,
                                          help_text="Share of invocations (0-1) sent to additional_version.")
    description = models.CharField(max_length=256, blank=True)
    revision_id = models.UUIDField(default=uuid.uuid4)
    created_at = models.DateTimeField(auto_now_add=True)
    last_modified = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["function", "name"], name="functions_alias_unique_name")]
        ordering = ["function", "name"]
        verbose_name_plural = "aliases"

    def __str__(self) -> str:
        return f"{self.function}:{self.name}"

    @property
    def arn(self) -> str:
        return f"{self.function.arn}:{self.name}"

    @property
    def additional_version_weights(self) -> dict[str, float]:
        if self.additional_version is None or self.additional_weight is None:
            return {}
        return {self.additional_version.version: self.additional_weight}


class ProvisionedConcurrencyConfig(models.Model):
    """Sandboxes kept initialized ahead of demand for a published version or an alias of a function.

    ``requested`` is what the tenant asked for; ``allocated`` how many are initialized now, as the
    last reconcile (``lambent.invocations.provisioning``) found the executor. ``status`` is
    ``IN_PROGRESS`` while fewer are ready, ``READY`` once all are, ``FAILED`` when the function's
    init fails or the qualifier no longer resolves (``status_reason`` says which); a failed config
    is left alone until it is put again. ``last_modified`` changes with the tenant's writes only.
    """

    class Status(models.TextChoices):
        IN_PROGRESS = "IN_PROGRESS"
        READY = "READY"
        FAILED = "FAILED"

    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="provisioned_concurrency_configs")
    qualifier = models.CharField(max_length=128, help_text="A published version number or an alias name.")
    requested = models.PositiveIntegerField()
    allocated = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IN_PROGRESS)
    status_reason = models.CharField(max_length=1024, blank=True)
    last_modified = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["function", "qualifier"],
                                               name="functions_provisioned_unique_qualifier")]
        ordering = ["function", "qualifier"]

    def __str__(self) -> str:
        return f"{self.function}:{self.qualifier}"

    @property
    def arn(self) -> str:
        return f"{self.function.arn}:{self.qualifier}"


class PolicyStatement(models.Model):
    """One statement of a function's resource-based policy (Lambda's AddPermission), for the function
    itself (``qualifier`` empty) or one version or alias. Stored and returned as Lambda returns it;
    enforced once IAM policies are."""

    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="policy_statements")
    qualifier = models.CharField(max_length=128, blank=True)
    sid = models.CharField(max_length=100)
    statement = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["function", "qualifier", "sid"],
                                               name="functions_policy_unique_sid")]
        ordering = ["function", "qualifier", "created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.function}:{self.qualifier or '-'}:{self.sid}"
