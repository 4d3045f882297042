"""Shapes of the quotas API: types and the fixed bounds, which the schema states; what the account
can spare (its limit less the other functions' reservations) the services check."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from lambent.api.serializers import StrictSerializer
from lambent.functions import limits as function_limits
from lambent.functions import services as function_services
from lambent.functions.models import ProvisionedConcurrencyConfig
from lambent.quotas.selectors import Account


class ReservedConcurrencySerializer(StrictSerializer):
    reserved_concurrent_executions = serializers.IntegerField(
        min_value=0, help_text="Executions set aside for the function, and the most it runs at once (all versions); "
                               "0 stops it. At most what the account's limit leaves above its unreserved minimum.")


class ReservationSerializer(serializers.Serializer):
    """A function's reservation as answered: ``{}`` when it has none, as Lambda's GetFunctionConcurrency."""

    reserved_concurrent_executions = serializers.IntegerField(required=False)


class AccountLimitSerializer(serializers.Serializer):
    total_code_size = serializers.IntegerField(help_text="Bytes of code the account may store.")
    code_size_unzipped = serializers.IntegerField(help_text="Bytes of one function's code, unpacked.")
    code_size_zipped = serializers.IntegerField(help_text="Bytes of one function's code as uploaded.")
    concurrent_executions = serializers.IntegerField(help_text="Executions at once, all functions together.")
    unreserved_concurrent_executions = serializers.IntegerField(
        help_text="The limit less every function's reservation: what functions without one share.")


class AccountUsageSerializer(serializers.Serializer):
    total_code_size = serializers.IntegerField(help_text="Bytes of the distinct code packages the versions use.")
    function_count = serializers.IntegerField()


class AccountSerializer(serializers.Serializer):
    """Lambda's GetAccountSettings, in snake case, with the executions running now."""

    account_limit = AccountLimitSerializer()
    account_usage = AccountUsageSerializer()
    concurrent_executions_in_use = serializers.IntegerField(help_text="Executions running now, all functions.")

    def to_representation(self, instance: Account) -> dict[str, Any]:
        return {
            "account_limit": {
                "total_code_size": settings.CODE_STORAGE_LIMIT_BYTES,
                "code_size_unzipped": function_limits.CODE_UNZIPPED_MAX_BYTES,
                "code_size_zipped": function_limits.CODE_ZIPPED_MAX_BYTES,
                "concurrent_executions": instance.limits.concurrent_executions,
                "unreserved_concurrent_executions": instance.unreserved,
            },
            "account_usage": {"total_code_size": instance.total_code_size, "function_count": instance.function_count},
            "concurrent_executions_in_use": instance.in_use,
        }


class ProvisionedConcurrencyPutSerializer(StrictSerializer):
    provisioned_concurrent_executions = serializers.IntegerField(
        min_value=1, max_value=function_services.PROVISIONED_CONCURRENCY_MAX,
        help_text="Sandboxes to keep initialized; within the function's reservation, or what the account's "
                  "unreserved pool can spare.")


class ProvisionedConcurrencyConfigSerializer(serializers.ModelSerializer):
    """As Lambda's GetProvisionedConcurrencyConfig, in snake case; available is what is allocated."""

    function_name = serializers.CharField(source="function.name")
    function_arn = serializers.CharField(source="arn", help_text="Qualified with the version or alias.")
    requested_provisioned_concurrent_executions = serializers.IntegerField(source="requested")
    available_provisioned_concurrent_executions = serializers.IntegerField(source="allocated")
    allocated_provisioned_concurrent_executions = serializers.IntegerField(source="allocated")

    class Meta:
        model = ProvisionedConcurrencyConfig
        fields = ["function_name", "function_arn", "qualifier", "requested_provisioned_concurrent_executions",
                  "available_provisioned_concurrent_executions", "allocated_provisioned_concurrent_executions",
                  "status", "status_reason", "last_modified"]
