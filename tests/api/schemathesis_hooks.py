"""schemathesis hooks of ``test_schema_fuzz``: valid requests made to agree with what the schema cannot say.

The schema states each field's own constraints; a few rules relate a field to stored state or to
another field, which no JSON Schema can express (``lambent.api.schema`` says which). Before each
request these hooks bend the generated values that the schema already allows, so that a valid
request is valid in fact too, and leave everything else as generated:

- a handler that the schema allows becomes ``app.handler``, and a zip becomes a real one holding
  ``app.py`` and a ``bootstrap``: the handler's module is then in the code whatever the runtime,
  the code uploaded or the function patched;
- a Python runtime this node has no interpreter for becomes one it has (invoking the function
  would be a 503, the node's fault);
- a destination becomes a webhook on the loopback, and so does any request's URL, valid or not (a
  generated host would be resolved, and a function or queue could be deleted by the run);
- weighted alias routing names the seeded function's versions, 1 and 2 (the additional version
  must be another published one);
- a cursor of base64's alphabet becomes one the API could have written (an offset and a direction):
  which cursors are real no pattern can tell, and any other is a 400;
- a client context of base64's alphabet becomes base64 of a JSON object, as the invoke requires:
  that it decodes to one no pattern can tell;
- a policy document (any object or text, for the schema) becomes a valid one: what IAM's grammar
  allows is checked by the policy engine, and its refusals by ``tests/iam``;
- a schedule's expression of the schema's shape becomes a valid one of its kind (the values of a
  cron field, a date that exists, "1 minute" not "1 minutes": no pattern says them), its target the
  seeded function (of this account), its input JSON text, its dead-letter queue none (the schema's
  ARN would be another account's), a window of minutes FLEXIBLE (a FLEXIBLE one given its minutes,
  and one without minutes OFF), and an end date given no start date to come after.

Only valid requests are bent (but for the URLs, which stay URLs): an invalid one is sent as
generated, and must be refused.
"""

from __future__ import annotations

import base64
import io
import os
import re
import urllib.parse
import zipfile
from collections.abc import MutableMapping
from typing import Any

import jsonschema_rs
import schemathesis
from schemathesis.transport.serialization import Binary

HANDLER = "app.handler"
POLICY_DOCUMENT = {"Version": "2012-10-17",
                   "Statement": [{"Effect": "Allow", "Action": "lambda:Get*", "Resource": "*"}]}
SOURCE = "def handler(event, context):\n    return event\n"
BOOTSTRAP = "#!/bin/sh\nexit 1\n"
HANDLER_PATTERN = re.compile(r"[!-~]{1,128}")
DESTINATION = re.compile(r"arn:.*|https?://.*", re.DOTALL)
URL = re.compile(r"https?://[^\x00]+", re.DOTALL)
WEBHOOK = "http://127.0.0.1:9/"
CURSOR = re.compile(r"[A-Za-z0-9+/]*={0,2}")
BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
SCHEDULE_EXPRESSIONS = {"at": "at(2030-01-01T00:00:00)", "rate": "rate(5 minutes)", "cron": "cron(0 3 * * ? *)"}


def code_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("app.py", date_time=(2020, 1, 1, 0, 0, 0)), SOURCE)
        bootstrap = zipfile.ZipInfo("bootstrap", date_time=(2020, 1, 1, 0, 0, 0))
        bootstrap.external_attr = 0o755 << 16
        archive.writestr(bootstrap, BOOTSTRAP)
    return buffer.getvalue()


def _zip_for(value: Any, *, form: bool) -> Any:
    """A real zip for a file of a form, or for base64 in JSON; anything else is meant to be refused."""
    if form and isinstance(value, (bytes, Binary)):
        return Binary(code_zip())  # as schemathesis holds a file, which its validation takes for a string
    if not form and isinstance(value, str) and BASE64.fullmatch(value):
        return base64.b64encode(code_zip()).decode()
    return value


def _cursor(query: dict[str, Any]) -> None:
    """A cursor of the right alphabet becomes one the API could have written: an offset, forwards or back."""
    given = query.get("cursor")
    if isinstance(given, str) and CURSOR.fullmatch(given):
        position = urllib.parse.urlencode({"o": len(given) % 5, "r": len(given) % 2})
        query["cursor"] = base64.b64encode(position.encode()).decode()


def _destinations(body: dict[str, Any], *, positive: bool) -> None:
    """A valid request's destinations, and any request's URLs, become a webhook on the loopback: always
    a destination (the test allows the loopback), never deleted by the run, no host to resolve."""
    holders = [body, *(value for value in (body.get("destination_config") or {}).values()
                       if isinstance(value, dict))] if isinstance(body.get("destination_config"), dict) else [body]
    for holder in holders:
        for key in ("target", "destination"):
            value = holder.get(key)
            if isinstance(value, str) and (URL.fullmatch(value) or (positive and DESTINATION.fullmatch(value))):
                holder[key] = WEBHOOK


def _weights(body: dict[str, Any]) -> None:
    weights = body.get("additional_version_weights")
    if isinstance(weights, dict) and len(weights) == 1 and isinstance(body.get("function_version", "1"), str):
        (weight,) = weights.values()
        body["additional_version_weights"] = {"2": weight}
        body["function_version"] = "1"


def _schedule(body: dict[str, Any]) -> None:
    expression = body.get("schedule_expression")
    if isinstance(expression, str):
        kind = expression.partition("(")[0]
        body["schedule_expression"] = SCHEDULE_EXPRESSIONS.get(kind, expression)
    if "target_arn" in body:
        body["target_arn"] = "hello"
    if isinstance(body.get("input"), str):
        body["input"] = "{}"
    if body.get("dead_letter_arn"):
        body["dead_letter_arn"] = ""
    if body.get("window_minutes") is not None:
        body["window_mode"] = "FLEXIBLE"
    elif body.get("window_mode") == "FLEXIBLE":
        body["window_minutes"] = 15
    elif "window_minutes" in body:  # no minutes: no window (a patched schedule may have had one)
        body["window_mode"] = "OFF"
    if body.get("end_date") is not None:
        body["start_date"] = None
    elif body.get("start_date") is not None:  # a patched schedule may keep an end from an earlier case
        body["end_date"] = None


def _client_context(headers: MutableMapping[str, Any]) -> None:
    given = headers.get("X-Lambent-Client-Context")
    if isinstance(given, str) and BASE64.fullmatch(given):
        headers["X-Lambent-Client-Context"] = base64.b64encode(b'{"custom": {"n": %d}}' % len(given)).decode()


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    body = case.body
    form = "multipart" in (case.media_type or "")
    if form and isinstance(body, dict) and type(body.get("zip_file")) is bytes:
        # A file reused from an earlier request, as bytes: schemathesis holds files as Binary, and
        # takes bare bytes for no string, so for an invalid request. The same bytes are sent.
        body["zip_file"] = Binary(body["zip_file"])
    positive = case.meta is not None and case.meta.generation.mode.is_positive
    if isinstance(body, dict):
        _destinations(body, positive=positive)
    if not positive:
        return  # an invalid request stays as generated, and must be refused
    if isinstance(case.query, dict):
        _cursor(case.query)
    for headers in (case.headers, kwargs.get("headers")):  # a case-insensitive mapping, and what is sent
        if isinstance(headers, MutableMapping):
            _client_context(headers)
    if not isinstance(body, dict):
        return
    if isinstance(body.get("handler"), str) and HANDLER_PATTERN.fullmatch(body["handler"]):
        body["handler"] = HANDLER
    runnable = os.environ["LAMBENT_FUZZ_RUNTIMES"].split(",")
    runtime = body.get("runtime")
    if isinstance(runtime, str) and runtime.startswith("python") and runtime not in runnable:
        body["runtime"] = runnable[0]
    if "zip_file" in body:
        body["zip_file"] = _zip_for(body["zip_file"], form=form)
    _weights(body)
    if "document" in body:
        body["document"] = POLICY_DOCUMENT
    if case.path.startswith("/api/v1/schedules"):
        _schedule(body)


def _form_is_valid(case: Any) -> bool:
    """Whether a multipart body is valid for its schema, each file taken as the string the schema says it is."""
    body = case.operation.get_body_for_media_type(case.media_type)
    if body is None or not isinstance(case.body, dict):
        return False
    as_text = {name: "" if isinstance(value, (bytes, Binary)) else value for name, value in case.body.items()}
    return bool(jsonschema_rs.validator_for(body.validation_schema).is_valid(as_text))


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure but one schemathesis makes up: whenever it checks a multipart body that holds
    a file again (after a link filled it, or a hook above changed it), it takes the body for invalid,
    as its validator cannot read bytes (``Case._validate_component``), and then counts the server's
    acceptance of it against the server. Such a failure is dropped only if the body is valid."""
    multipart = "multipart" in (case.media_type or "")
    return not (type(failure).__name__ == "AcceptedNegativeData" and multipart and _form_is_valid(case))
