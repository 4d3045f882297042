"""Writes of the console's own data: saved test events. Every other write the console makes is a
call to the service the REST API calls for it, so the two accept and refuse the same things."""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction

from lambent import jsonbody
from lambent.console import selectors
from lambent.console.models import TestEvent
from lambent.errors import InvalidParameter
from lambent.functions import selectors as function_selectors
from lambent.iam.models import Tenant
from lambent.invocations.services import SYNC_PAYLOAD_MAX_BYTES

EVENT_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


def test_event_save(*, tenant: Tenant, function_name: str, name: str, payload: str) -> TestEvent:
    """Create the function's test event ``name``, or replace the payload of the one of that name.
    The payload must be JSON the function could be invoked with."""
    found: dict[str, list[str]] = {}
    if not re.fullmatch(EVENT_NAME_PATTERN, name):
        found["name"] = ["1-64 letters, digits, '.', '-' or '_', starting with a letter or digit."]
    if len(payload.encode()) > SYNC_PAYLOAD_MAX_BYTES:
        found["payload"] = [f"An event is at most {SYNC_PAYLOAD_MAX_BYTES} bytes."]
    else:
        try:
            jsonbody.parse_text_document(payload or "{}")
        except ValueError as exc:
            found["payload"] = [f"Not JSON: {exc}"]
    if found:
        raise InvalidParameter(fields=found)
    function = function_selectors.function_get(tenant=tenant, name=function_name)
    try:
        with transaction.atomic():
            event, _ = TestEvent.objects.update_or_create(function=function, name=name,
                                                          defaults={"payload": payload})
    except IntegrityError:  # saved by another request at the same moment: that one's stands
        event = TestEvent.objects.get(function=function, name=name)
    return event


def test_event_delete(*, tenant: Tenant, function_name: str, name: str) -> None:
    selectors.test_event_get(tenant=tenant, function_name=function_name, name=name).delete()
