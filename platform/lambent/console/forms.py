"""The console's forms. They render the fields and keep what was typed; the checking is the API's:
each form hands the typed values to the REST API's serializer, then to the same service the API
calls, and shows their messages beside the fields they name (``show_errors``). So a value the API
refuses is refused here with the same words, and nothing is written."""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from rest_framework import serializers

from lambent.errors import InvalidParameter
from lambent.functions import limits
from lambent.functions.api import serializers as api_serializers
from lambent.functions.runtimes import RUNTIMES
from lambent.invocations.api.serializers import EventInvokeConfigSerializer

RUNTIME_CHOICES = [(name, name) for name in sorted(RUNTIMES)]

STARTER_CODE = '''import json


def handler(event, context):
    print("event:", json.dumps(event))
    return {"statusCode": 200, "body": "Hello from Lambent"}
'''


def show_errors(form: forms.Form, failure: InvalidParameter | serializers.ValidationError) -> None:
    """Put the API's messages beside the fields they name; any other on top of the form."""
    if isinstance(failure, InvalidParameter):
        fields: dict[str, Any] = failure.fields or {"__all__": [failure.message]}
    else:
        fields = failure.detail if isinstance(failure.detail, dict) else {"__all__": failure.detail}
    for name, messages in fields.items():
        field = name if name in form.fields else None
        for message in messages if isinstance(messages, list) else [messages]:
            form.add_error(field, f"{name}: {message}" if field is None and name != "__all__" else str(message))


def api_validated(serializer_class: type[serializers.Serializer], data: dict[str, Any]) -> dict[str, Any]:
    """``data`` as the REST API's serializer takes it in; its ``ValidationError`` otherwise."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def typed_number(text: str) -> Any:
    """A form's number as JSON would carry it: whole numbers as ints, anything else as typed, for
    the API's serializer to refuse with its own words."""
    text = text.strip()
    return int(text) if re.fullmatch(r"[+-]?\d{1,12}", text) else text


def flattened(failure: serializers.ValidationError) -> serializers.ValidationError:
    """Nested serializer messages (``destination_config.on_success.destination``) named by their
    innermost form field (``on_success``)."""
    def walk(name: str, found: Any) -> dict[str, Any]:
        if isinstance(found, dict):
            out: dict[str, Any] = {}
            for key, inner in found.items():
                out.update(walk(name if key == "destination" else key, inner))
            return out
        return {name: found}
    detail = failure.detail
    return serializers.ValidationError(walk("__all__", detail) if isinstance(detail, dict) else detail)


class EventInvokeForm(forms.Form):
    """How the asynchronous invocations of one qualifier are retried, aged out and recorded."""

    maximum_retry_attempts = forms.CharField(required=False, label="Retry attempts", help_text="0-2, after an error.")
    maximum_event_age_seconds = forms.CharField(required=False, label="Maximum event age (seconds)",
                                                help_text="60-21600: older events are dropped unrun.")
    on_success = forms.CharField(required=False, strip=False, label="On success, send a record to",
                                 help_text="A function or queue ARN of this account, an http(s) URL, or empty.")
    on_failure = forms.CharField(required=False, strip=False, label="On failure, send a record to")

    def changes(self) -> Any:
        """The config as the API's serializer takes it in (its ``changes()``), or its ``ValidationError``."""
        typed = {name: typed_number(self.data.get(name, "")) for name in
                 ("maximum_retry_attempts", "maximum_event_age_seconds") if self.data.get(name, "").strip()}
        typed["destination_config"] = {name: {"destination": self.data.get(name, "")}
                                       for name in ("on_success", "on_failure")}
        serializer = EventInvokeConfigSerializer(data=typed)
        if not serializer.is_valid():
            raise flattened(serializers.ValidationError(serializer.errors))
        return serializer.changes()


class DeadLetterForm(forms.Form):
    target = forms.CharField(required=False, strip=False, label="Dead-letter target",
                             help_text="Receives the event of an invocation that failed for good; empty for none.")


class ConfigurationForm(forms.Form):
    """A function's configuration. Every field is text the form itself does not check, so the only
    messages are the API's."""

    runtime = forms.CharField(required=False, widget=forms.Select(choices=RUNTIME_CHOICES))
    handler = forms.CharField(required=False, strip=False,
                              help_text="'<module>.<function>', for example app.handler.")
    memory_size = forms.CharField(required=False, label="Memory (MB)",
                                  help_text=f"{limits.MEMORY_MIN_MB}-{limits.MEMORY_MAX_MB}.")
    timeout = forms.CharField(required=False, label="Timeout (seconds)",
                              help_text=f"{limits.TIMEOUT_MIN_S}-{limits.TIMEOUT_MAX_S}.")
    ephemeral_storage = forms.CharField(required=False, label="Ephemeral storage (MB)",
                                        help_text=f"{limits.EPHEMERAL_MIN_MB}-{limits.EPHEMERAL_MAX_MB}, /tmp.")
    description = forms.CharField(required=False, strip=False, widget=forms.Textarea(attrs={"rows": 2}))

    NUMBERS = ("memory_size", "timeout", "ephemeral_storage")

    def changes(self) -> dict[str, Any]:
        """The configuration as the API's update takes it, or its ``ValidationError``. A form's
        numbers are text: those that read as whole numbers are sent as JSON numbers would be, the
        rest as they are, for the API to refuse."""
        typed: dict[str, Any] = {name: self.data.get(name, "") for name in self.fields}
        for name in self.NUMBERS:
            text = typed[name].strip()
            if re.fullmatch(r"[+-]?\d{1,12}", text):
                typed[name] = int(text)
        return api_validated(api_serializers.FunctionConfigurationUpdateSerializer, typed)


class FunctionCreateForm(forms.Form):
    """A new function, from code typed in the editor (one file, the handler's module) or a zip."""

    name = forms.CharField(strip=False)
    runtime = forms.CharField(initial="python3.12", widget=forms.Select(choices=RUNTIME_CHOICES))
    handler = forms.CharField(initial="app.handler", strip=False,
                              help_text="'<module>.<function>': the typed code is saved as <module>.py.")
    source = forms.ChoiceField(choices=[("editor", "Type the code"), ("zip", "Upload a zip")], initial="editor",
                               widget=forms.RadioSelect)
    code = forms.CharField(required=False, initial=STARTER_CODE, strip=False,
                           widget=forms.Textarea(attrs={"rows": 14, "class": "code", "data-mode": "python"}))
    zip_file = forms.FileField(required=False, label="Zip file")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("source") == "zip" and not cleaned.get("zip_file"):
            self.add_error("zip_file", "Choose a zip file to upload.")
        if cleaned.get("source") == "editor" and not (cleaned.get("code") or "").strip():
            self.add_error("code", "Type the handler's code.")
        return cleaned

    def zip_bytes(self) -> bytes:
        """The code as a zip: the uploaded one, or the typed file alone in a new one."""
        if self.cleaned_data["source"] == "zip":
            upload: UploadedFile = self.cleaned_data["zip_file"]
            content: bytes = upload.read()
            return content
        module = self.cleaned_data["handler"].rpartition(".")[0] or "app"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            entry = zipfile.ZipInfo(module.replace(".", "/") + ".py", date_time=(1980, 1, 1, 0, 0, 0))
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, self.cleaned_data["code"], zipfile.ZIP_DEFLATED)
        return buffer.getvalue()

    def configuration(self) -> dict[str, Any]:
        """Name, runtime and handler as the API's create checks them (the code is checked by the service)."""
        typed = {"name": self.cleaned_data["name"], "runtime": self.cleaned_data["runtime"],
                 "handler": self.cleaned_data["handler"], "zip_file": ""}
        serializer = api_serializers.FunctionCreateSerializer(data=typed)
        serializer.is_valid()
        problems = {name: messages for name, messages in serializer.errors.items() if name != "zip_file"}
        if problems:
            raise serializers.ValidationError(problems)
        return {name: serializer.validated_data[name] for name in ("name", "runtime", "handler")}


class TestEventForm(forms.Form):
    """A test event: saved under its name, or only run."""

    __test__ = False

    name = forms.CharField(max_length=64, initial="my-event", label="Event name")
    payload = forms.CharField(required=False, strip=False, initial='{\n  "key": "value"\n}', label="Event JSON",
                              widget=forms.Textarea(attrs={"rows": 8, "class": "code", "data-mode": "json"}))


def environment_rows(data: Any) -> list[tuple[str, str]]:
    """The variables typed in the environment tab: rows of ``name``/``value`` inputs, blank ones and
    those ticked ``remove`` left out."""
    names, values = data.getlist("name"), data.getlist("value")
    removed = set(data.getlist("remove"))
    return [(name.strip(), value) for index, (name, value) in enumerate(zip(names, values, strict=False))
            if name.strip() and str(index) not in removed]


class PublishForm(forms.Form):
    """Publish ``$LATEST`` as the next version, with the version's own description."""

    description = forms.CharField(required=False, strip=False, label="Version description",
                                  help_text="Kept with the version; $LATEST's stays as it is.")

    def changes(self) -> dict[str, Any]:
        return api_validated(api_serializers.VersionPublishSerializer,
                             {"description": self.data.get("description", "")})


class AliasForm(forms.Form):
    """An alias: the version it points at and, optionally, a second published version that gets
    ``weight`` per cent of its invocations (the API's ``additional_version_weights``)."""

    name = forms.CharField(required=False, strip=False, label="Alias name")
    function_version = forms.CharField(required=False, label="Version")
    additional_version = forms.CharField(required=False, label="Second version",
                                         help_text="A published version other than the first; none for all "
                                                   "traffic to the first.")
    weight = forms.CharField(required=False, initial="0", label="Second version's share (%)")
    description = forms.CharField(required=False, strip=False)

    def __init__(self, *args: Any, versions: list[str], editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.editing = editing
        self.fields["function_version"].widget = forms.Select(choices=[(v, v) for v in versions])
        published = [v for v in versions if v != "$LATEST"]
        self.fields["additional_version"].widget = forms.Select(choices=[("", "None")] + [(v, v) for v in published])
        self.fields["weight"].widget = forms.NumberInput(attrs={"type": "range", "min": 0, "max": 100, "step": 1,
                                                                "class": "weight"})
        if editing:
            del self.fields["name"]

    def changes(self) -> dict[str, Any]:
        """The alias as the API's create (or update) serializer takes it, or its ``ValidationError``
        with the weights' message moved beside the second version."""
        typed: dict[str, Any] = {name: self.data.get(name, "") for name in ("name", "function_version", "description")
                                 if name in self.fields}
        extra = self.data.get("additional_version", "")
        weight: Any = self.data.get("weight", "").strip()
        try:
            weight = float(weight) / 100
        except ValueError:  # left as typed, for the serializer to refuse
            pass
        typed["additional_version_weights"] = {extra: weight} if extra else {}
        serializer_class = api_serializers.AliasUpdateSerializer if self.editing \
            else api_serializers.AliasCreateSerializer
        try:
            return api_validated(serializer_class, typed)
        except serializers.ValidationError as exc:
            raise weights_beside_version(exc) from None


def weights_beside_version(failure: Any) -> Any:
    """The API names the weights ``additional_version_weights``; the form shows them beside its second version."""
    fields = failure.fields if isinstance(failure, InvalidParameter) else failure.detail
    if isinstance(fields, dict) and "additional_version_weights" in fields:
        found = fields.pop("additional_version_weights")
        if isinstance(found, dict):  # the serializer's, keyed by version
            found = [str(message) for messages in found.values() for message in
                     (messages if isinstance(messages, list) else [messages])]
        fields["additional_version"] = found
    return failure
