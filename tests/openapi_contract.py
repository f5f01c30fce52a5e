"""Every API response the tests produce is checked against the OpenAPI document (a pytest plugin,
loaded by the root ``conftest.py`` in both tiers).

The document is generated once per session, exactly as ``/api/schema/`` serves it. Each response
Django produces in this process for a request under ``/api/v1/`` (test ``Client``, DRF's
``APIClient``, ``live_server``) is matched to its documented operation and must have:

- a status code the operation documents;
- a body in a media type documented for that status (no body where none is documented), and a JSON
  body valid against the documented schema, formats included. Objects are closed: a property the
  document does not list is a mismatch too, so the document says everything the API answers.

A request to a path or method the document does not have may only be refused (401, 403, 404, 405)
with the error shape. A test whose settings swap in another URL configuration (a test-only view) is
not checked. A mismatch fails the test that produced it: the client call raises
``ContractViolation``, and a mismatch that was swallowed (a server thread, a broad ``except``) fails
the test when its body returns.

The integration tier's servers run in other processes (daphne, ``manage.py serve``): they start
through ``tests.integration.checked_server``, which installs the same checker there and appends each
mismatch, one JSON line, to the file named by ``UNIMANAGER_CONTRACT_LOG``; the tier's conftest fails
the test during which a line was added.
"""

from __future__ import annotations

import json
import os
import re
import threading
from typing import Any

import pytest

API_PREFIX = "/api/v1/"
NOT_AN_OPERATION = {401, 403, 404, 405}
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


class ContractViolation(AssertionError):
    """An API response that the OpenAPI document does not describe."""


def _closed(node: Any) -> Any:
    """A copy of a schema where an object listing its properties allows no others."""
    if isinstance(node, list):
        return [_closed(value) for value in node]
    if not isinstance(node, dict):
        return node
    result = {key: _closed(value) for key, value in node.items()}
    if "properties" in result and "additionalProperties" not in result:
        result["additionalProperties"] = False
    return result


class Contract:
    def __init__(self, document: dict[str, Any], urlconf: str) -> None:
        from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker

        self.urlconf = urlconf
        self.document = document
        self.components = _closed(document.get("components", {}))
        self._validator_class = OAS30ReadValidator
        self._format_checker = oas30_format_checker
        self._validators: dict[tuple[str, str, str, str], Any] = {}
        routes = []
        for template, item in document["paths"].items():
            pattern = "".join(
                "[^/]+" if part.startswith("{") else re.escape(part) for part in re.split(r"(\{[^}]+\})", template))
            routes.append((template.count("{"), template, re.compile(f"^{pattern}$"), item))
        # A literal segment wins over a parameter (``operations/diagnostics/`` before ``operations/{id}/``).
        self.routes = sorted(routes, key=lambda route: (route[0], route[1]))
        self.error_schema = {"$ref": "#/components/schemas/Error"}

    def _route(self, path: str) -> tuple[str, dict[str, Any]] | None:
        for _count, template, regex, item in self.routes:
            if regex.match(path):
                return template, item
        return None

    def _validate(self, key: tuple[str, str, str, str], schema: dict[str, Any], body: Any) -> list[str]:
        validator = self._validators.get(key)
        if validator is None:
            root = {"components": self.components, "allOf": [_closed(schema)]}
            validator = self._validator_class(root, format_checker=self._format_checker)
            self._validators[key] = validator
        errors = sorted(validator.iter_errors(body), key=lambda error: list(error.absolute_path))
        return [f"at {'/'.join(map(str, error.absolute_path)) or '(body)'}: {error.message}" for error in errors[:5]]

    def check(self, method: str, path: str, response: Any) -> str | None:
        """What is wrong with ``response`` to ``method path`` by the document, or ``None``."""
        method = method.lower()
        if method not in HTTP_METHODS:
            return None
        status = response.status_code
        where = f"{method.upper()} {path} answered {status}"
        route = self._route(path)
        operation = route[1].get(method) if route else None
        if operation is None:
            if status not in NOT_AN_OPERATION:
                what = "path" if route is None else f"method of {route[0]}"
                return f"{where}: the document has no such {what}, so only 401/403/404/405 may answer"
            return self._check_body(where, ("-", method, path, "error"), {"application/json": {
                "schema": self.error_schema}}, response)
        template = route[0]
        documented = operation["responses"].get(str(status)) or operation["responses"].get("default")
        if documented is None:
            return (f"{where}: status {status} is not documented for {method.upper()} {template} "
                    f"(documented: {', '.join(sorted(operation['responses']))}); body: {_excerpt(response)}")
        return self._check_body(where, (template, method, str(status), ""), documented.get("content", {}), response)

    def _check_body(self, where: str, key: tuple[str, str, str, str], content: dict[str, Any],
                    response: Any) -> str | None:
        media_type = (response.get("Content-Type") or "").split(";")[0].strip()
        if getattr(response, "streaming", False):
            if media_type not in content:
                return f"{where}: streamed {media_type or 'no media type'}, documented {sorted(content) or 'no body'}"
            return None
        body = response.content
        if not content:
            if body:
                return f"{where}: no body is documented, got {media_type}: {_excerpt(response)}"
            return None
        if media_type not in content:
            return (f"{where}: the body is {media_type or 'empty'}, documented "
                    f"{', '.join(sorted(content))}: {_excerpt(response)}")
        if media_type != "application/json":
            return None
        try:
            data = json.loads(body)
        except ValueError:
            return f"{where}: the body is not JSON: {_excerpt(response)}"
        schema = content[media_type].get("schema")
        if schema is None:
            return None
        errors = self._validate((*key[:3], media_type), schema, data)
        if errors:
            return f"{where}: the body does not match the document: {'; '.join(errors)}\nbody: {_excerpt(response)}"
        return None


def _excerpt(response: Any) -> str:
    if getattr(response, "streaming", False):
        return "(streamed)"
    text = response.content.decode("utf-8", "replace")
    return text if len(text) <= 600 else text[:600] + "..."


_contract: Contract | None = None
_contract_lock = threading.Lock()
_violations: list[str] = []
CONTRACT_LOG_ENV = "UNIMANAGER_CONTRACT_LOG"
checked_responses = 0  # how many responses were matched against the document (for the tests of the checker)


def contract() -> Contract:
    """The document of this code base, generated once per session."""
    global _contract
    with _contract_lock:
        if _contract is None:
            from django.conf import settings
            from drf_spectacular.generators import SchemaGenerator
            from drf_spectacular.renderers import OpenApiJsonRenderer

            schema = SchemaGenerator().get_schema(request=None, public=True)
            document = json.loads(OpenApiJsonRenderer().render(schema, renderer_context={}))
            _contract = Contract(document, settings.ROOT_URLCONF)
        return _contract


def _checked(request: Any, response: Any) -> None:
    from django.conf import settings

    global checked_responses
    path = request.path_info
    if not path.startswith(API_PREFIX) or request.method in ("HEAD", "OPTIONS"):
        return
    current = contract()
    if (getattr(request, "urlconf", None) or settings.ROOT_URLCONF) != current.urlconf:
        return  # a test-only URL configuration: its views are not part of the document
    problem = current.check(request.method, path, response)
    checked_responses += 1
    if problem:
        _violations.append(problem)
        response.contract_violation = problem
        log = os.environ.get(CONTRACT_LOG_ENV)
        if log:
            with _contract_lock, open(log, "a", encoding="utf-8") as sink:
                sink.write(json.dumps({"problem": problem}) + "\n")


def install() -> None:
    """Wraps the one place every in-process response leaves Django, and the test clients' calls."""
    from django.core.handlers.base import BaseHandler
    from django.test.client import Client

    if getattr(BaseHandler.get_response, "contract_checked", False):
        return
    get_response = BaseHandler.get_response
    get_response_async = BaseHandler.get_response_async
    request = Client.request

    def checked_get_response(self: Any, http_request: Any) -> Any:
        response = get_response(self, http_request)
        _checked(http_request, response)
        return response

    async def checked_get_response_async(self: Any, http_request: Any) -> Any:
        response = await get_response_async(self, http_request)
        if http_request.path_info.startswith(API_PREFIX):
            from asgiref.sync import sync_to_async

            await sync_to_async(_checked, thread_sensitive=False)(http_request, response)
        return response

    def raising_request(self: Any, **kwargs: Any) -> Any:
        response = request(self, **kwargs)
        problem = getattr(response, "contract_violation", None)
        if problem:
            raise ContractViolation(problem)
        return response

    checked_get_response.contract_checked = True  # type: ignore[attr-defined]
    BaseHandler.get_response = checked_get_response  # type: ignore[method-assign]
    BaseHandler.get_response_async = checked_get_response_async  # type: ignore[method-assign]
    Client.request = raising_request  # type: ignore[method-assign]


def pytest_configure(config: pytest.Config) -> None:
    install()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    del _violations[:]
    result = yield
    if _violations:
        found = list(_violations)
        del _violations[:]
        raise ContractViolation("API responses the OpenAPI document does not describe:\n" + "\n".join(found))
    return result
