"""One error family for the business layer and one renderer for every API error.

Services raise ``ApplicationError`` subclasses; the API exception handler turns those, DRF's own
exceptions and Django's 404/permission errors into ``{"code", "message", "detail"}`` with the right
status. Nothing the client can cause reaches it as a 500 or a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    status = 422
    code = "refused"
    default_message = "The request was refused."

    def __init__(self, message: str | None = None, *, code: str | None = None, detail: Any = None):
        self.message = message or self.default_message
        if code:
            self.code = code
        self.detail = detail if detail is not None else {}
        super().__init__(self.message)


class InvalidInput(ApplicationError):
    status = 400
    code = "invalid"
    default_message = "The request is not valid."


class NotAuthenticated(ApplicationError):
    status = 401
    code = "not_authenticated"
    default_message = "Sign in to continue."


class Forbidden(ApplicationError):
    status = 403
    code = "forbidden"
    default_message = "You are not allowed to do this."


class NotFound(ApplicationError):
    status = 404
    code = "not_found"
    default_message = "Not found."


class Conflict(ApplicationError):
    status = 409
    code = "conflict"
    default_message = "The request conflicts with the current state."


class Refused(ApplicationError):
    status = 422
    code = "refused"


class Throttled(ApplicationError):
    status = 429
    code = "throttled"
    default_message = "Too many requests; try again later."


def error_body(code: str, message: str, detail: Any = None) -> dict[str, Any]:
    return {"code": code, "message": message, "detail": detail if detail is not None else {}}


def _drf_code(exc: drf_exceptions.APIException) -> str:
    codes = exc.get_codes()
    if isinstance(codes, str):
        return codes
    if isinstance(exc, drf_exceptions.ValidationError):
        return "invalid"
    return exc.default_code


def _drf_message(exc: drf_exceptions.APIException) -> str:
    if isinstance(exc, drf_exceptions.ValidationError):
        return "The request is not valid; see detail for each field."
    detail = exc.detail
    if isinstance(detail, str):
        return str(detail)
    return str(exc.default_detail)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    # Requests are not wrapped in a transaction (ATOMIC_REQUESTS is off): each service's own
    # transaction.atomic is what keeps a refused request from leaving a partial write.
    return _render(exc)


def _render(exc: Exception) -> Response | None:
    headers: dict[str, str] = {}
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.code, exc.message, exc.detail), status=exc.status)
    if isinstance(exc, Http404):
        return Response(error_body("not_found", "Not found."), status=404)
    if isinstance(exc, DjangoPermissionDenied):
        return Response(error_body("forbidden", "You are not allowed to do this."), status=403)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response(error_body("invalid", "The request is not valid.", detail), status=400)
    if isinstance(exc, drf_exceptions.APIException):
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
        detail: Any = exc.detail if isinstance(exc.detail, dict) else {}
        if isinstance(exc.detail, list):
            # ``detail`` is always an object: errors not tied to a field go under non_field_errors.
            detail = {"non_field_errors": exc.detail}
        status = exc.status_code
        code = _drf_code(exc)
        if isinstance(exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
            # DRF answers 403 when no authenticator offers a challenge; the API contract is 401.
            status = 401
            headers.setdefault("WWW-Authenticate", 'Session realm="unimanager"')
        return Response(error_body(code, _drf_message(exc), detail), status=status, headers=headers)
    return None
