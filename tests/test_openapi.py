"""The OpenAPI document is generated from the code, without a single generator warning, and is a
valid OpenAPI 3 document, so SDKs generated from it work."""

from __future__ import annotations

import json
from io import StringIO

import pytest
import yaml
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS

from apps.provisioning.specs import SPECS

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
    assert {code for code in start["responses"] if code.startswith("2")} == {"202"}
    body = start["responses"]["202"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Operation"}


# ---------------------------------------------------------------------------------------------
# The document is exact: strictly valid, JSON only, every error status with the one error shape.
# ---------------------------------------------------------------------------------------------

ERROR_REF = {"$ref": "#/components/schemas/Error"}
WRITES = {"post", "put", "patch", "delete"}


def component(schema: dict, ref_holder: dict) -> dict:
    return schema["components"]["schemas"][ref_holder["$ref"].rsplit("/", 1)[-1]]


def json_schema(operation: dict, status: str) -> dict:
    return operation["responses"][status]["content"]["application/json"]["schema"]


def test_the_document_passes_strict_openapi_validation(schema):
    from openapi_spec_validator import OpenAPIV30SpecValidator

    errors = [f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
              for error in OpenAPIV30SpecValidator(schema).iter_errors()]
    assert errors == []


def test_a_default_in_one_branch_of_a_field_is_the_fields_default(schema):
    email = schema["components"]["schemas"]["UserCreateRequest"]["properties"]["email"]
    assert email["default"] == ""
    assert all("default" not in branch for branch in email["oneOf"])


def test_the_error_shape_is_one_component(schema):
    error = schema["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"code", "message", "detail"}
    assert set(error["required"]) == {"code", "message", "detail"}
    assert error["properties"]["detail"]["type"] == "object"


def test_every_operation_documents_its_error_statuses_with_the_error_shape(schema):
    for path, method, operation in operations(schema):
        where = f"{method.upper()} {path}"
        responses = operation["responses"]
        expected = {"401", "403"}
        if "requestBody" in operation:
            expected |= {"400", "415"}
        if "{" in path:
            expected.add("404")
        if method in WRITES:
            expected |= {"409", "422"}
        assert expected <= set(responses), f"{where} lacks {sorted(expected - set(responses))}"
        for status, response in responses.items():
            if status.startswith("4"):
                assert response["content"] == {"application/json": {"schema": ERROR_REF}}, f"{where} {status}"
            assert not status.startswith("5"), f"{where} documents a server error"


def test_a_refused_password_change_documents_its_throttle(schema):
    change = schema["paths"]["/api/v1/organizations/me/password/"]["post"]
    assert json_schema(change, "429") == ERROR_REF


def test_request_bodies_are_json_only(schema):
    for path, method, operation in operations(schema):
        if "requestBody" in operation:
            assert set(operation["requestBody"]["content"]) == {"application/json"}, f"{method.upper()} {path}"


@pytest.mark.parametrize("path, keys", [
    ("/api/v1/rbac/permissions/", {"next", "previous", "results"}),
    ("/api/v1/security/lockouts/", {"results"}),
    ("/api/v1/security/sessions/", {"results"}),
])
def test_lists_answered_whole_are_documented_as_their_results_object(schema, path, keys):
    body = component(schema, json_schema(schema["paths"][path]["get"], "200"))
    assert body["type"] == "object" and set(body["properties"]) == keys
    assert body["properties"]["results"]["type"] == "array"


def test_required_query_parameters_are_marked_required(schema):
    root_cause = {p["name"]: p for p in schema["paths"]["/api/v1/provisioning/root-cause/"]["get"]["parameters"]}
    assert root_cause["resources"]["required"] is True
    topology = {p["name"]: p for p in schema["paths"]["/api/v1/provisioning/topology/"]["get"]["parameters"]}
    # Exactly one of the two is required, which OpenAPI 3.0 cannot say with ``required``.
    assert all("Exactly one of resource and project" in topology[name]["description"]
               for name in ("resource", "project"))
    assert "400" in schema["paths"]["/api/v1/provisioning/topology/"]["get"]["responses"]


def test_the_provisioning_spec_is_one_schema_per_resource_type(schema):
    create = schema["paths"]["/api/v1/provisioning/requests/"]["post"]
    body = component(schema, create["requestBody"]["content"]["application/json"]["schema"])
    spec = component(schema, body["properties"]["spec"]["allOf"][0])
    # A union of one kind would be documented as its member (generators refuse a oneOf of one).
    kinds = [component(schema, branch) for branch in spec["oneOf"]] if "oneOf" in spec else [spec]
    assert len(kinds) == len(SPECS)
    (ecs,) = [kind for kind in kinds if "image_id" in kind["properties"]]
    assert {"image_id", "vswitch_id", "instance_type", "security_group_id", "zone"} <= set(ecs["properties"])
    assert "image_id" in ecs["required"]
    assert set(component(schema, body["properties"]["resource_type"]["allOf"][0])["enum"]) == set(SPECS)


# ---------------------------------------------------------------------------------------------
# The response checker (tests/openapi_contract.py) is on, and it fails what the document does not say.
# ---------------------------------------------------------------------------------------------


def test_the_response_checker_is_installed_for_every_test():
    from django.core.handlers.base import BaseHandler
    from django.test.client import Client

    assert getattr(BaseHandler.get_response, "contract_checked", False)
    assert Client.request.__name__ == "raising_request"


@pytest.fixture
def checked():
    from tests import openapi_contract

    return openapi_contract.contract()


def fake(status: int, body=None, content_type: str = "application/json"):
    from django.http import HttpResponse

    content = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    return HttpResponse(content, status=status, content_type=content_type)


OPERATION = {"id": "op-" + "0" * 20, "kind": "diagnostic", "status": "running", "progress": 0, "step": 0,
             "message": "", "error": "", "target_type": "", "target_id": "", "target_name": "", "params": {},
             "result": {}, "organization": "6f1c2a4e-0000-4000-8000-000000000000", "actor": None,
             "created_at": "2025-01-01T00:00:00Z",
             "started_at": None, "finished_at": None, "updated_at": "2025-01-01T00:00:00Z"}


def test_the_checker_passes_what_the_document_says(checked):
    path = "/api/v1/core/operations/op-00000000000000000000/"
    assert checked.check("GET", path, fake(200, OPERATION)) is None
    refused = {"code": "not_found", "message": "Not found.", "detail": {}}
    assert checked.check("GET", path, fake(404, refused)) is None
    assert checked.check("DELETE", path, fake(405, {**refused, "code": "method_not_allowed"})) is None
    assert checked.check("GET", "/api/v1/nothing/", fake(404, refused)) is None


@pytest.mark.parametrize("method, path, response, complaint", [
    ("GET", "/api/v1/core/operations/op-00000000000000000000/", lambda: fake(418, {}), "not documented"),
    ("GET", "/api/v1/core/operations/op-00000000000000000000/", lambda: fake(200, {"results": []}), "does not match"),
    ("GET", "/api/v1/core/operations/op-00000000000000000000/", lambda: fake(200, {**OPERATION, "secret": 1}),
     "does not match"),
    ("GET", "/api/v1/core/operations/op-00000000000000000000/", lambda: fake(200, {**OPERATION, "id": 7}),
     "does not match"),
    ("GET", "/api/v1/core/operations/op-00000000000000000000/", lambda: fake(200, {**OPERATION, "created_at": "x"}),
     "does not match"),
    ("GET", "/api/v1/core/operations/op-00000000000000000000/", lambda: fake(200, b"<html>", "text/html"),
     "the body is text/html"),
    ("GET", "/api/v1/core/operations/op-00000000000000000000/", lambda: fake(404, {"detail": "Not found."}),
     "does not match"),
    ("POST", "/api/v1/security/lockouts/1/release/", lambda: fake(204, {"released": True}), "no body"),
    ("GET", "/api/v1/rbac/permissions/", lambda: fake(200, [{"code": "x"}]), "does not match"),
    ("GET", "/api/v1/undocumented/", lambda: fake(200, {}), "no such path"),
    ("PUT", "/api/v1/core/operations/op-00000000000000000000/", lambda: fake(200, OPERATION), "no such method"),
])
def test_the_checker_refuses_what_the_document_does_not_say(checked, method, path, response, complaint):
    problem = checked.check(method, path, response())
    assert problem is not None and complaint in problem, problem


@pytest.mark.django_db
def test_a_response_the_document_does_not_describe_fails_the_client_call(monkeypatch):
    """Through the real test client: with the document's operation list narrowed to a 201, the
    200 the API answers is a violation raised at the call, and recorded for the test's end."""
    from rest_framework.test import APIClient

    from tests import factories, openapi_contract

    original = openapi_contract.contract()
    document = json.loads(json.dumps(original.document))
    document["paths"]["/api/v1/core/operations/"]["get"]["responses"] = {"201": {"description": "created"}}
    monkeypatch.setattr(openapi_contract, "_contract", openapi_contract.Contract(document, original.urlconf))
    client = APIClient()
    client.force_login(factories.user("root", is_superuser=True, is_staff=True))
    with pytest.raises(openapi_contract.ContractViolation, match="status 200 is not documented"):
        client.get("/api/v1/core/operations/")
    assert openapi_contract._violations
    openapi_contract._violations.clear()  # seen and expected: this test passes
    monkeypatch.setattr(openapi_contract, "_contract", original)
    assert client.get("/api/v1/core/operations/").status_code == 200


@pytest.mark.integration
@pytest.mark.django_db
def test_the_response_checker_is_on_in_the_integration_tier_too():
    """On the integration tier's database too, a test client's API answer is matched against the document."""
    from rest_framework.test import APIClient

    from tests import factories, openapi_contract

    client = APIClient()
    client.force_login(factories.user("root", is_superuser=True, is_staff=True))
    before = openapi_contract.checked_responses
    assert client.get("/api/v1/core/operations/").status_code == 200
    assert client.get("/api/v1/core/operations/op-00000000000000000000/").status_code == 404
    assert openapi_contract.checked_responses == before + 2


SERVER_PROCESS_SCRIPT = """
import json
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "unimanager.settings")
django.setup()
from asgiref.sync import async_to_sync
from django.conf import settings
from django.test import AsyncClient

from tests import openapi_contract

settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
original = openapi_contract.contract()
document = json.loads(json.dumps(original.document))
document["paths"]["/api/v1/core/operations/"]["get"]["responses"] = {"201": {"description": "created"}}
openapi_contract._contract = openapi_contract.Contract(document, original.urlconf)
print(async_to_sync(AsyncClient().get)("/api/v1/core/operations/").status_code)
"""


def test_a_server_process_started_checked_logs_what_the_document_does_not_describe(tmp_path):
    """The integration tier starts daphne and ``manage.py serve`` through ``checked_server``: in that
    process an ASGI request's answer outside the (narrowed) document is appended to the log."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from tests.openapi_contract import CONTRACT_LOG_ENV

    root = Path(__file__).resolve().parents[1]
    script, log = tmp_path / "serve_one.py", tmp_path / "violations.jsonl"
    script.write_text(SERVER_PROCESS_SCRIPT)
    env = {**os.environ, CONTRACT_LOG_ENV: str(log), "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-m", "tests.integration.checked_server", str(script)], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    status = done.stdout.strip().splitlines()[-1]
    problems = [json.loads(line)["problem"] for line in log.read_text().splitlines()]
    assert status in ("401", "403")
    assert len(problems) == 1
    assert problems[0].startswith(f"GET /api/v1/core/operations/ answered {status}: status {status} is not "
                                  f"documented for GET /api/v1/core/operations/ (documented: 201)")
