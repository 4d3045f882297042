"""Shapes of the invocation ledger and of the asynchronous configuration."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from lambent.api.serializers import Pattern, StrictInput, StrictSerializer
from lambent.functions import limits
from lambent.invocations.event_configs import EVENT_AGE_RANGE, RETRY_ATTEMPTS_RANGE, EventInvokeChanges
from lambent.invocations.models import Attempt, DeadLetterConfig, EventInvokeConfig, Invocation, InvocationStatus

_NAME = limits.NAME_PATTERN[1:-1]
#: A function ARN (with a qualifier or not), a queue ARN, or an http(s) URL; which one exists the services check.
_TARGET = (rf"arn:[a-z0-9-]+:lambda:[a-z0-9-]+:[0-9]{{12}}:function:{_NAME}(:(\$LATEST|[A-Za-z0-9_-]{{1,128}}))?"
           r"|arn:[a-z0-9-]+:sqs:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,80}|https?://[^\x00]+")
TARGET = Pattern(rf"^({_TARGET})$", "A function or queue ARN, or an http(s) URL.")
TARGET_OR_NONE = Pattern(rf"^({_TARGET}|)$", "A function or queue ARN, an http(s) URL, or empty for none.")
QUALIFIER_OR_NONE = Pattern(rf"^({limits.QUALIFIER_PATTERN[1:-1]}|)$", "A version or an alias.")


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
    allow_unknown = True  # the query string holds the page's parameters too

    function = serializers.CharField(required=False, trim_whitespace=False,
                                     validators=[Pattern(limits.NAME_PATTERN, "A function name.")])
    status = serializers.ChoiceField(choices=InvocationStatus.values, required=False)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)


class RedriveSerializer(StrictSerializer):
    qualifier = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, validators=[QUALIFIER_OR_NONE],
        help_text="Another version or alias to run it on; its own by default.")


class DestinationSerializer(StrictSerializer):
    destination = serializers.CharField(allow_blank=True, max_length=2048, trim_whitespace=False,
                                        validators=[TARGET_OR_NONE],
                                        help_text="A function or queue ARN of this account, or an http(s) URL.")


class DestinationConfigSerializer(StrictSerializer):
    on_success = DestinationSerializer(required=False)
    on_failure = DestinationSerializer(required=False)


class EventInvokeConfigSerializer(StrictInput, serializers.ModelSerializer):
    """Read and write shape, as Lambda's EventInvokeConfig in snake case."""

    function_arn = serializers.SerializerMethodField()
    maximum_retry_attempts = serializers.IntegerField(required=False, min_value=RETRY_ATTEMPTS_RANGE[0],
                                                      max_value=RETRY_ATTEMPTS_RANGE[1])
    maximum_event_age_seconds = serializers.IntegerField(required=False, min_value=EVENT_AGE_RANGE[0],
                                                         max_value=EVENT_AGE_RANGE[1])
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
    target = serializers.CharField(max_length=2048, trim_whitespace=False, validators=[TARGET],
                                   help_text="A function or queue ARN of this account, or an http(s) URL.")

    class Meta:
        model = DeadLetterConfig
        fields = ["target", "last_modified"]
        read_only_fields = ["last_modified"]
