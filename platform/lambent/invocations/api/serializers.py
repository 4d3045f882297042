from rest_framework import serializers

from lambent.invocations.models import Invocation


class InvocationSerializer(serializers.ModelSerializer):
    log = serializers.CharField(source="log_tail")

    class Meta:
        model = Invocation
        fields = [
            "request_id", "function_name", "qualifier", "executed_version", "invocation_type", "status",
            "created_at", "started_at", "finished_at", "duration_ms", "billed_duration_ms", "max_memory_used_mb",
            "init_duration_ms", "error_type", "error_message", "log",
        ]
