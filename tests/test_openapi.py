"""The OpenAPI document is generated from the code, without a single generator warning, and is a
valid OpenAPI 3 document, so SDKs generated from it work."""

from __future__ import annotations

from io import StringIO

import pytest
import yaml
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# Operations a caller may use without signing in, as "METHOD /path" (none yet): adding one is a
# decision to make on purpose, here.
PUBLIC_OPERATIONS: set[str] = set()


@pytest.fixture(scope="module")
def schema(tmp_path_factory) -> dict:
    """Generated once, exactly as ``make schema`` does: validated, failing on any warning."""
    GENERATOR_STATS.reset()  # warnings are remembered per process; start from none
    target = tmp_path_factory.mktemp("openapi") / "openapi.yaml"
    stderr = StringIO()
    try:
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target), stderr=stderr)
    except Exception as exc:  # the generator's own words say which view needs a type hint
        pytest.fail(f"schema generation failed: {exc}\n{stderr.getvalue()}")
    assert "Warning" not in stderr.getvalue() and "Error" not in stderr.getvalue(), stderr.getvalue()
    return yaml.safe_load(target.read_text())


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def test_the_schema_is_openapi_3_with_the_northbound_api(schema):
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Unimanager API"
    assert schema["paths"], "no API paths were documented"
    assert all(path.startswith("/api/v1/") for path in schema["paths"])


def test_operation_ids_are_unique(schema):
    ids = [operation["operationId"] for _, _, operation in operations(schema)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_every_operation_documents_a_success_response(schema):
    for path, method, operation in operations(schema):
        assert any(code.startswith("2") for code in operation["responses"]), f"{method.upper()} {path}"


def test_every_operation_requires_a_signed_in_caller(schema):
    schemes = set(schema["components"]["securitySchemes"])
    assert "cookieAuth" in schemes
    for path, method, operation in operations(schema):
        if f"{method.upper()} {path}" in PUBLIC_OPERATIONS:
            continue
        required = {name for requirement in operation.get("security", []) for name in requirement}
        assert required, f"{method.upper()} {path} documents no authentication"
        assert {} not in operation.get("security", []), f"{method.upper()} {path} allows anonymous callers"


def test_lists_document_cursor_pagination(schema):
    listing = schema["paths"]["/api/v1/core/operations/"]["get"]
    params = {p["name"] for p in listing["parameters"]}
    assert {"cursor", "page_size", "ordering", "status", "kind", "organization"} <= params
    page = listing["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    page_schema = schema["components"]["schemas"][page]
    assert set(page_schema["properties"]) == {"next", "previous", "results"}


def test_commands_that_start_work_document_202_with_the_operation(schema):
    start = schema["paths"]["/api/v1/core/operations/diagnostics/"]["post"]
    assert set(start["responses"]) == {"202"}
    body = start["responses"]["202"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Operation"}
