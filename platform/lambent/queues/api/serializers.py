"""Shapes of the queues API: types and each field's own limits (``limits``), which the schema states;
the services check them again for every other caller, and check the size of a whole message."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from lambent.api.serializers import MappingField, Pattern, StrictSerializer
from lambent.queues import limits
from lambent.queues.models import Message, Queue

_VISIBILITY_HELP = (f"Seconds a received message stays hidden, {limits.VISIBILITY_TIMEOUT_MIN_S}-"
                    f"{limits.VISIBILITY_TIMEOUT_MAX_S}")
_RETENTION_HELP = f"Seconds a message is kept, {limits.RETENTION_MIN_S}-{limits.RETENTION_MAX_S}"


def visibility_field(help_text: str, **kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(required=False, min_value=limits.VISIBILITY_TIMEOUT_MIN_S,
                                    max_value=limits.VISIBILITY_TIMEOUT_MAX_S, help_text=help_text, **kwargs)


def retention_field(help_text: str) -> serializers.IntegerField:
    return serializers.IntegerField(required=False, min_value=limits.RETENTION_MIN_S,
                                    max_value=limits.RETENTION_MAX_S, help_text=help_text)


class QueueSerializer(serializers.ModelSerializer):
    """A queue with its message counts (annotated by the selectors)."""

    arn = serializers.CharField(read_only=True)
    approximate_number_of_messages = serializers.IntegerField(read_only=True,
                                                              help_text="Receivable now.")
    approximate_number_of_messages_not_visible = serializers.IntegerField(
        read_only=True, help_text="Received and hidden for their visibility timeout.")

    class Meta:
        model = Queue
        fields = ["name", "arn", "visibility_timeout", "message_retention_seconds", "created_at",
                  "approximate_number_of_messages", "approximate_number_of_messages_not_visible"]


class QueueCreateSerializer(StrictSerializer):
    name = serializers.CharField(
        trim_whitespace=False, validators=[Pattern(limits.NAME_PATTERN, f"1-{limits.NAME_MAX} letters, digits, "
                                                                        "'-' or '_'.")],
        help_text=f"1-{limits.NAME_MAX} letters, digits, '-' or '_'; unique in the tenant.")
    visibility_timeout = visibility_field(f"{_VISIBILITY_HELP}, default {limits.VISIBILITY_TIMEOUT_DEFAULT_S}.")
    message_retention_seconds = retention_field(f"{_RETENTION_HELP}, default {limits.RETENTION_DEFAULT_S} (4 days).")


class QueueUpdateSerializer(StrictSerializer):
    visibility_timeout = visibility_field(f"{_VISIBILITY_HELP}.")
    message_retention_seconds = retention_field(f"{_RETENTION_HELP}.")


class MessageSendSerializer(StrictSerializer):
    body = serializers.CharField(trim_whitespace=False, help_text=(
        f"Any text; body and attributes together at most {limits.MESSAGE_MAX_BYTES} bytes of UTF-8 (else 413)."))
    attributes = MappingField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False), required=False,
        key_pattern=limits.ATTRIBUTE_NAME_PATTERN, max_keys=limits.ATTRIBUTES_MAX,
        key_message="An attribute name is 1-256 letters, digits, '_', '-' or '.'.",
        help_text=f"Up to {limits.ATTRIBUTES_MAX} names (letters, digits, '_', '-', '.') with string values.")


class MessageSentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = ["message_id"]


class MessagesReceiveSerializer(StrictSerializer):
    max_messages = serializers.IntegerField(default=1, min_value=1, max_value=limits.RECEIVE_MAX,
                                            help_text="Messages to receive at most.")
    visibility_timeout = visibility_field(f"{_VISIBILITY_HELP}; default the queue's.")


class ReceivedMessageSerializer(serializers.ModelSerializer):
    attributes = serializers.DictField(child=serializers.CharField())

    class Meta:
        model = Message
        fields = ["message_id", "receipt_handle", "body", "attributes", "sent_at", "receive_count"]


class ReceivedMessagesSerializer(serializers.Serializer):
    messages = ReceivedMessageSerializer(many=True, help_text="Oldest first; empty when none is receivable.")
