"""The OpenAPI schema of the native API, made to tell the whole truth.

drf-spectacular reads the views and serializers; this module adds what it cannot see:

- every answer an operation can give: besides its successes, the errors of
  ``lambent.api.exceptions`` in their one shape (the ``Error`` component): 400, 401, 403 and
  500 everywhere, 404 where the path names something, 413 and 415 where a body is read, and what
  a view declares of its own with ``errors(409, 412, ...)``;
- the constraints the serializers enforce beyond drf-spectacular's reading: no NUL character
  in any text of a request, the keys of dictionary fields (``propertyNames``), no field the
  request does not know (``additionalProperties: false``), the patterns of path parameters
  (which each app states with ``path_parameters``);
- a multipart variant of each body that takes an upload (``<Component>Form``): the zip as a
  file, each variable of the environment as a field ``environment.<NAME>``;
- the invoke operation, which is not a DRF view but the hot path's own (``invocations.api.invoke``).

Rules that read the database or relate two fields (a handler whose module is missing from the
zip, a reservation the account cannot spare) cannot be written in a schema: the descriptions
say them, and the services answer them with a 400, 404 or 409.
"""

from __future__ import annotations

import copy
from typing import Any

from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from lambent.api.serializers import MappingField
from lambent.functions import limits

#: Text without NUL: what every string of a request body may hold when no stricter pattern says more.
NO_NUL = "^[^\\u0000]*$"
#: Base64 of something, padded (a client context is base64 of a JSON object, which no pattern can say).
BASE64 = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
#: The invocation types, in any case (an empty value is the default, RequestResponse).
INVOCATION_TYPE = ("^(|[Rr][Ee][Qq][Uu][Ee][Ss][Tt][Rr][Ee][Ss][Pp][Oo][Nn][Ss][Ee]|[Ee][Vv][Ee][Nn][Tt]"
                   "|[Dd][Rr][Yy][Rr][Uu][Nn])$")

#: The schema of each path parameter, by the first segment of its path and its name (``path_parameters``).
PATH_PARAMETERS: dict[tuple[str, str], dict[str, Any]] = {}

DESCRIPTIONS = {
    400: "InvalidParameterValueException (``fields`` names each offending field), "
         "InvalidRequestContentException (a body that is not JSON, or a NUL in the path or query) "
         "or CodeStorageExceededException.",
    401: "UnauthorizedException: no access key, or one that does not verify.",
    403: "AccessDeniedException: the key may not act (deactivated, or not a member of its tenant).",
    404: "ResourceNotFoundException: nothing by that name in this tenant (another tenant's included).",
    409: "ResourceConflictException: the request conflicts with the resource's state.",
    412: "PreconditionFailedException: revision_id or code_sha256 is not the current one.",
    413: "RequestTooLargeException: the body is over the limit.",
    415: "UnsupportedMediaTypeException: the body is neither JSON nor, where code is uploaded, multipart.",
    429: "TooManyRequestsException: over a concurrency limit; ``reason`` says which, Retry-After when to retry.",
    500: "ServiceException: a fault of the platform, logged.",
    503: "ServiceUnavailableException: a dependency (the broker, the executor) did not answer; try again.",
}


#: The ``Error`` component: every error of the native API (``lambent.api.exceptions``).
ERROR = {
    "type": "object",
    "required": ["type", "message"],
    "properties": {
        "type": {"type": "string", "description": "The error's type, Lambda's name for it."},
        "message": {"type": "string"},
        "fields": {"type": "object", "description": "Validation errors only: each offending field with its "
                                                    "messages (an object for a nested field)."},
        "reason": {"type": "string", "description": "429 only: which limit was met."},
    },
}
ERROR_REF = {"$ref": "#/components/schemas/Error"}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """The error responses of ``codes``, for a view's ``extend_schema(responses=...)``."""
    return {code: OpenApiResponse(ERROR_REF, description=DESCRIPTIONS[code]) for code in codes}


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's, with the errors every operation can answer and the request constraints above."""

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        codes = [400, 401, 403, 500]
        if "{" in self.path:
            codes.append(404)
        if self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None:
            codes += [413, 415]
        for code, response in errors(*codes).items():
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(response, str(code), direction=direction)
        return dict(sorted(responses.items()))

    def _map_basic_serializer(self, serializer: Any, direction: Any) -> dict[str, Any]:
        self._request = direction == "request"
        schema: dict[str, Any] = super()._map_basic_serializer(serializer, direction)
        if self._request:
            schema["additionalProperties"] = False
        if not type(serializer).__dict__.get("__doc__"):  # not a mixin's docstring
            schema.pop("description", None)
        return schema

    def _map_serializer_field(self, field: Any, direction: Any, bypass_extensions: bool = False) -> Any:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, MappingField) and isinstance(schema, dict):
            names: dict[str, Any] = {"pattern": field.key_pattern}
            if field.reserved:
                names["not"] = {"enum": sorted(field.reserved)}
            schema["propertyNames"] = names
            if field.max_keys is not None:
                schema["maxProperties"] = field.max_keys
        return schema

    def _insert_field_validators(self, field: Any, schema: dict[str, Any]) -> None:
        if (getattr(self, "_request", False) and isinstance(field, serializers.CharField)
                and schema.get("type") == "string" and not schema.keys() & {"pattern", "enum", "format"}
                and not any(hasattr(validator, "regex") for validator in field.validators)):
            schema["pattern"] = NO_NUL
        super()._insert_field_validators(field, schema)
        if "oneOf" in schema:  # drf-spectacular's "or blank", whose two branches may both match ""
            schema["anyOf"] = schema.pop("oneOf")


def path_parameters(segment: str, **schemas: dict[str, Any]) -> None:
    """Each app states the schemas of its path parameters: those of the paths under ``/api/v1/<segment>``."""
    PATH_PARAMETERS.update({(segment, name): schema for name, schema in schemas.items()})


def _form_variant(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON request body's schema as a multipart form: the zip a file, a dictionary field one form field per key."""
    form = copy.deepcopy(schema)
    properties = form.get("properties", {})
    patterns: dict[str, Any] = {}
    for name, value in list(properties.items()):
        if value.get("contentMediaType") == "application/zip":
            properties[name] = {"type": "string", "format": "binary", "contentMediaType": "application/zip",
                                "description": value.get("description", "")}
        elif value.get("type") == "object" and "propertyNames" in value:
            del properties[name]
            key = value["propertyNames"]["pattern"].removeprefix("^")
            patterns[f"^{name}\\.{key}"] = value["additionalProperties"]
            if "not" in value["propertyNames"]:
                form.setdefault("propertyNames", {})["not"] = {
                    "enum": [f"{name}.{reserved}" for reserved in value["propertyNames"]["not"]["enum"]]}
        elif value.get("type") == "boolean":
            properties[name] = {**value, "description": value.get("description", "") + " In a form: true or false."}
    if patterns:
        form["patternProperties"] = patterns
    return form


def _error_content() -> dict[str, Any]:
    return {"application/json": {"schema": ERROR_REF}}


def _invoke_operation() -> dict[str, Any]:
    string_header = {"type": "string"}
    return {
        "operationId": "functions_invoke",
        "summary": "Invoke a function",
        "description": (
            "The body is the event: any JSON value, or nothing for {}. A synchronous invocation "
            "(RequestResponse) answers the function's result; an error of the function is still a 200, "
            "with X-Lambent-Function-Error. Event stores the invocation and answers 202; DryRun checks the "
            "request and answers 204. The invocation type is the X-Lambent-Invocation-Type header, else the "
            "type parameter, in any case."),
        "tags": ["functions"],
        "security": [{"accessKey": []}],
        "parameters": [
            {"name": "name", "in": "path", "required": True, "schema": {"type": "string",
                                                                         "pattern": limits.NAME_PATTERN}},
            {"name": "qualifier", "in": "query", "description": "A version or an alias; $LATEST by default.",
             "schema": {"type": "string", "pattern": f"^({limits.QUALIFIER_PATTERN[1:-1]}|)$"}},
            {"name": "type", "in": "query", "description": "RequestResponse (the default), Event or DryRun.",
             "schema": {"type": "string", "pattern": INVOCATION_TYPE}},
            {"name": "log", "in": "query", "description": "tail: the last 4 KB of the log, base64, in "
                                                          "X-Lambent-Log-Result (synchronous only); any other "
                                                          "value: no log.",
             "schema": {"type": "string", "pattern": NO_NUL}},
            {"name": "X-Lambent-Invocation-Type", "in": "header", "description": "As the type parameter, "
                                                                                   "which it overrides.",
             "schema": {"type": "string", "pattern": INVOCATION_TYPE}},
            {"name": "X-Lambent-Client-Context", "in": "header", "description": "Handed to the function "
                                                                                  "as its client context: base64 "
                                                                                  "of a JSON object, at most 3,583 "
                                                                                  "bytes.",
             "schema": {"type": "string", "pattern": BASE64, "maxLength": limits.CLIENT_CONTEXT_MAX_BYTES}},
        ],
        "requestBody": {"required": False, "content": {"application/json": {"schema": {}}}},
        "responses": {
            "200": {"description": "The function's result (RequestResponse).",
                    "content": {"application/json": {"schema": {}}},
                    "headers": {
                        "X-Lambent-Request-Id": {"required": True, "schema": {"type": "string", "format": "uuid"}},
                        "X-Lambent-Executed-Version": {"required": True, "schema": string_header},
                        "X-Lambent-Function-Error": {"description": "Unhandled or Handled, when the function "
                                                                    "failed.", "schema": string_header},
                        "X-Lambent-Log-Result": {"description": "With log=tail.", "schema": string_header}}},
            "202": {"description": "Stored, to be run (Event).",
                    "headers": {"X-Lambent-Request-Id": {"required": True,
                                                         "schema": {"type": "string", "format": "uuid"}}},
                    "content": {"application/json": {"schema": {
                        "type": "object", "required": ["request_id", "status"],
                        "properties": {"request_id": {"type": "string", "format": "uuid"},
                                       "status": {"type": "string"}}}}}},
            "204": {"description": "The request is valid (DryRun)."},
            **{str(code): {"description": DESCRIPTIONS[code], "content": _error_content()}
               for code in (400, 401, 403, 404, 413, 429, 500, 503)},
        },
    }


def postprocess(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular's postprocessing hook (``SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]``)."""
    schemas = result["components"]["schemas"]
    schemas["Error"] = ERROR
    paths = result["paths"]
    paths["/api/v1/functions/{name}/invoke"] = {"post": _invoke_operation()}
    for path, operations in paths.items():
        segment = path.removeprefix("/api/v1/").split("/")[0]
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and (segment, parameter["name"]) in PATH_PARAMETERS:
                    parameter["schema"] = PATH_PARAMETERS[(segment, parameter["name"])]
            _headers(operation)
            form = operation.get("requestBody", {}).get("content", {}).get("multipart/form-data")
            if form and "$ref" in form["schema"]:
                name = form["schema"]["$ref"].rsplit("/", 1)[1]
                schemas.setdefault(f"{name}Form", _form_variant(schemas[name]))
                form["schema"] = {"$ref": f"#/components/schemas/{name}Form"}
    result["paths"] = dict(sorted(paths.items()))
    return result


def _headers(operation: dict[str, Any]) -> None:
    """The headers the errors always carry: how to authenticate (401), when to try again (429)."""
    responses = operation["responses"]
    if "401" in responses:
        responses["401"]["headers"] = {"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}}
    if "429" in responses:
        responses["429"]["headers"] = {"Retry-After": {"required": True, "schema": {"type": "string",
                                                                                    "pattern": "^[0-9]+$"}}}
