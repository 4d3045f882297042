"""Shapes of the invocation ledger and of the asynchronous configuration."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from lambent.api.serializers import StrictInput, StrictSerializer
from lambent.invocations.event_configs import EventInvokeChanges
from lambent.invocations.models import Attempt, DeadLetterConfig, EventInvokeConfig, Invocation


class AttemptSerializer(serializers.ModelSerializer):
    log = serializers.CharField(source="log_tail")

    class Meta:
        model = Attempt
        fields = ["number", "outcome", "executed_version", "started_at", "finished_at", "duration_ms",
                  "billed_duration_ms", "max_memory_used_mb", "init_duration_ms", "error_type", "error_message", "log"]


class InvocationSerializer(serializers.ModelSerializer):
    log = serializers.CharField(source="log_tail")

    class Meta:
        model = Invocation
        fields = [
            "request_id", "function_name", "qualifier", "executed_version", "invocation_type", "status",
            "created_at", "started_at", "finished_at", "duration_ms", "billed_duration_ms", "max_memory_used_mb",
            "init_duration_ms", "error_type", "error_message", "log", "attempt_count", "expires_at",
            "next_attempt_at", "redrive_count",
        ]


class InvocationDetailSerializer(InvocationSerializer):
    attempts = AttemptSerializer(many=True, read_only=True)

    class Meta(InvocationSerializer.Meta):
        fields = [*InvocationSerializer.Meta.fields, "attempts"]


class InvocationFilterSerializer(StrictSerializer):
    function = serializers.CharField(required=False)
    status = serializers.CharField(required=False)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)


class RedriveSerializer(StrictSerializer):
    qualifier = serializers.CharField(required=False, allow_blank=True,
                                      help_text="Another version or alias to run it on; its own by default.")


class DestinationSerializer(StrictSerializer):
    destination = serializers.CharField(allow_blank=True, max_length=2048,
                                        help_text="A function or queue ARN of this account, or an http(s) URL.")


class DestinationConfigSerializer(StrictSerializer):
    on_success = DestinationSerializer(required=False)
    on_failure = DestinationSerializer(required=False)


class EventInvokeConfigSerializer(StrictInput, serializers.ModelSerializer):
    """Read and write shape, as Lambda's EventInvokeConfig in snake case."""

    function_arn = serializers.SerializerMethodField()
    maximum_retry_attempts = serializers.IntegerField(required=False)
    maximum_event_age_seconds = serializers.IntegerField(required=False)
    destination_config = DestinationConfigSerializer(required=False)

    class Meta:
        model = EventInvokeConfig
        fields = ["function_arn", "qualifier", "maximum_retry_attempts", "maximum_event_age_seconds",
                  "destination_config", "last_modified"]
        read_only_fields = ["qualifier", "last_modified"]

    def get_function_arn(self, config: EventInvokeConfig) -> str:
        return f"{config.function.arn}:{config.qualifier}"

    def to_representation(self, config: EventInvokeConfig) -> dict[str, Any]:
        data = super().to_representation(config)
        data["destination_config"] = {"on_success": {"destination": config.on_success},
                                      "on_failure": {"destination": config.on_failure}}
        return data

    def changes(self) -> EventInvokeChanges:
        data = self.validated_data
        destinations = data.get("destination_config", {})
        return EventInvokeChanges(
            maximum_retry_attempts=data.get("maximum_retry_attempts"),
            maximum_event_age_seconds=data.get("maximum_event_age_seconds"),
            on_success=destinations["on_success"]["destination"] if "on_success" in destinations else None,
            on_failure=destinations["on_failure"]["destination"] if "on_failure" in destinations else None,
        )


class DeadLetterConfigSerializer(StrictInput, serializers.ModelSerializer):
    target = serializers.CharField(max_length=2048,
                                   help_text="A function or queue ARN of this account, or an http(s) URL.")

    class Meta:
        model = DeadLetterConfig
        fields = ["target", "last_modified"]
        read_only_fields = ["last_modified"]
