"""How the OpenAPI document describes what every operation can answer.

``AutoSchema`` (``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]``) adds, to each operation, the error
statuses it can return, all with the one error shape documented once as the ``Error`` component. The
statuses follow from the operation itself, the way ``apps.core.errors`` renders failures:

- 401 whenever the caller must sign in; 403 always (a permission, a duty or a CSRF check refuses);
- 400 when the operation reads a body (malformed JSON or invalid fields) or takes query or header
  parameters (a filter, ordering or page size that does not parse, a bad ``Idempotency-Key``);
- 415 when it reads a body: the API speaks JSON only;
- 404 when the path names an object (missing and not visible are the same 404) and for cursor
  pages (an unknown cursor);
- 409 and 422 for every write (a state conflict, a rule that refuses valid input).

A status an operation declares itself through ``extend_schema`` (a 429 of a password check, say)
is kept as declared. ``postprocess`` then fixes what the generator emits for the whole document.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import FieldDoesNotExist
from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ERROR_DESCRIPTIONS = {
    400: "Invalid input: a malformed body or parameter; field errors under `detail`.",
    401: "Not signed in (no session, or an AccessKey signature that does not verify).",
    403: "Signed in but not allowed to do this on something visible.",
    404: "Missing or not visible.",
    409: "Conflicts with the current state.",
    415: "The body is not JSON (`Content-Type: application/json`).",
    422: "Valid, but refused by a rule.",
    429: "Throttled: too many attempts; try again later.",
}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Formats a column that may be blank ("") does not satisfy when it is.
BLANKABLE_FORMATS = {"email", "uri"}


class ErrorSerializer(serializers.Serializer):
    """Every refusal of the API, whatever its status."""

    code = serializers.CharField(help_text="Machine-readable reason, such as `quota_exceeded` or `not_found`.")
    message = serializers.CharField(help_text="A human sentence saying what went wrong.")
    detail = serializers.DictField(help_text="More about the error; field errors are listed under each field's name.")


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    """Error statuses an operation answers beyond those that follow from its shape, for
    ``extend_schema(responses={200: X, **errors(404)})`` (a read that looks an object up by a
    query parameter, say)."""
    return {status: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[status]) for status in statuses}


# For an operation that can answer 429: ``extend_schema(responses={204: None, 429: THROTTLED})``.
THROTTLED = errors(429)[429]


def results_of(serializer: type[serializers.Serializer], *, name: str, cursor: bool = False) -> Any:
    """The documented body of a list answered whole as ``{"results": [...]}``, with ``next`` and
    ``previous`` (always null) when it shares the shape of the cursor pages."""
    fields: dict[str, serializers.Field] = {}
    if cursor:
        fields["next"] = serializers.URLField(allow_null=True)
        fields["previous"] = serializers.URLField(allow_null=True)
    fields["results"] = serializer(many=True)
    return inline_serializer(name=name, fields=fields)


def _model_field(model: Any, name: str) -> Any:
    try:
        return model._meta.get_field(name)
    except (AttributeError, FieldDoesNotExist):
        return None


def _through_nullable_relation(field: serializers.Field) -> bool:
    """A read-only field sourced across a relation that may be empty (``actor.username`` of a
    row without an actor) renders ``null``."""
    model = getattr(getattr(field.parent, "Meta", None), "model", None)
    for name in getattr(field, "source_attrs", [])[:-1]:
        model_field = _model_field(model, name)
        if model_field is None:
            return False
        if model_field.null:
            return True
        model = model_field.related_model
    return False


def _may_be_blank(field: serializers.Field) -> bool:
    if getattr(field, "allow_blank", False):
        return True
    model = getattr(getattr(field.parent, "Meta", None), "model", None)
    attrs = getattr(field, "source_attrs", [])
    model_field = _model_field(model, attrs[0]) if len(attrs) == 1 else None
    return bool(model_field is not None and model_field.blank)


class AutoSchema(openapi.AutoSchema):
    def _map_serializer_field(self, field: Any, direction: Any, bypass_extensions: bool = False) -> Any:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if not isinstance(schema, dict) or schema.get("type") != "string" or not field.read_only:
            return schema
        if not schema.get("nullable") and _through_nullable_relation(field):
            schema["nullable"] = True
        if schema.get("format") in BLANKABLE_FORMATS and not schema.get("nullable") and _may_be_blank(field):
            # As the generator documents a blank-able field for writes: the format, or empty.
            kind = schema.pop("format")
            del schema["type"]
            schema["oneOf"] = [{"type": "string", "format": kind}, {"type": "string", "maxLength": 0}]
        return schema

    def get_operation(self, path: str, path_regex: str, path_prefix: str, method: str,
                      registry: Any) -> dict[str, Any] | None:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        error = self.resolve_serializer(ErrorSerializer, "response").ref
        responses = operation["responses"]
        for status in self.error_statuses(operation):
            responses.setdefault(str(status), {
                "description": ERROR_DESCRIPTIONS[status],
                "content": {"application/json": {"schema": error}},
            })
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def error_statuses(self, operation: dict[str, Any]) -> set[int]:
        parameters = operation.get("parameters", [])
        where = {parameter["in"] for parameter in parameters}
        statuses = {403}
        if {} not in operation.get("security", [{}]):
            statuses.add(401)
        if "requestBody" in operation:
            statuses |= {400, 415}
        if where & {"query", "header"}:
            statuses.add(400)
        if "path" in where or any(parameter["name"] == "cursor" for parameter in parameters):
            statuses.add(404)
        if self.method in WRITE_METHODS:
            statuses |= {409, 422}
        return statuses


def _hoist_defaults(node: Any) -> None:
    """A ``default`` inside one branch of a ``oneOf`` belongs to the field, not the branch: an email
    field defaulting to ``""`` is documented as ``oneOf: [email, empty string]`` and the default
    ``""`` is valid for the field but not for its email branch, which strict validators refuse."""
    if isinstance(node, dict):
        for key in ("oneOf", "anyOf"):
            for branch in node.get(key, []):
                if isinstance(branch, dict) and "default" in branch:
                    node.setdefault("default", branch.pop("default"))
        for value in node.values():
            _hoist_defaults(value)
    elif isinstance(node, list):
        for value in node:
            _hoist_defaults(value)


def _single_unions_resolved(result: dict[str, Any]) -> None:
    """A component that is a ``oneOf`` of one schema (a polymorphic field with a single kind so far,
    such as the provisioning ``spec``) is that schema: references to it point at the member, which
    client generators handle where they refuse a union of one."""
    schemas = result.get("components", {}).get("schemas", {})
    aliases = {}
    for name, schema in list(schemas.items()):
        branches = schema.get("oneOf", schema.get("anyOf", []))
        if set(schema) <= {"oneOf", "anyOf", "description"} and len(branches) == 1 and "$ref" in branches[0]:
            aliases[f"#/components/schemas/{name}"] = branches[0]["$ref"]
            del schemas[name]

    def rewrite(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("$ref") in aliases:
                node["$ref"] = aliases[node["$ref"]]
            for value in node.values():
                rewrite(value)
        elif isinstance(node, list):
            for value in node:
                rewrite(value)

    if aliases:
        rewrite(result)


def postprocess(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """``SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]``, after the generator's own enum hook."""
    _hoist_defaults(result)
    _single_unions_resolved(result)
    return result
