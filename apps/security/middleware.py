"""Request context for the audit log, the record of refused or failed changes, and the content
security policy of HTML pages."""

from __future__ import annotations

import secrets
from typing import Any

from django.core.exceptions import DisallowedHost

from apps.security import audit

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _refusal_code(response: Any) -> str:
    data = getattr(response, "data", None)
    if isinstance(data, dict) and isinstance(data.get("code"), str):
        return data["code"][:64]
    return ""


class AuditMiddleware:
    """Makes the request available to audit entries written while serving it, and writes one entry
    for a mutating request that nothing more specific recorded (a service's change event, a sign-in):
    ``access.denied`` when refused (401/403), ``request.failed`` for other 4xx answers, and
    ``request.completed`` when it succeeded without announcing a change, so no write goes unlogged."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = audit.current_request_var.set(request)
        try:
            response = self.get_response(request)
            if request.method in MUTATING and response.status_code < 500 and not getattr(request, "audit_entries", 0):
                self._record(request, response)
        finally:
            audit.current_request_var.reset(token)
        return response

    def _record(self, request, response) -> None:
        status = response.status_code
        denied = status in (401, 403)
        if status < 400:
            action, result = "request.completed", "success"
        elif denied:
            action, result = "access.denied", "denied"
        else:
            action, result = "request.failed", "failure"
        match = getattr(request, "resolver_match", None)
        detail = {"method": request.method, "path": request.path[:300], "status": status,
                  "code": _refusal_code(response)}
        access_key = getattr(request, "access_key_id", None)
        if access_key:
            detail["access_key"] = access_key
        data = getattr(response, "data", None)
        if isinstance(data, dict) and isinstance(data.get("detail"), dict) and data["detail"].get("permission"):
            detail["permission"] = str(data["detail"]["permission"])[:100]
        try:
            audit.append(action=action, result=result,
                         target_type="endpoint", target_id=(match.view_name if match else "")[:64] if match else "",
                         target_label=request.path[:255], detail=detail)
        except Exception:  # noqa: BLE001 - the answer is already made; a broken log must not change it
            audit.logger.exception("could not record a request in the audit log")


def content_security_policy(request, nonce: str) -> str:
    """The policy of an HTML page: scripts only from our origin or carrying this response's nonce (no
    inline handlers, no eval), nothing embedded or framed, and the websocket of this host."""
    try:
        host = request.get_host()
    except DisallowedHost:
        host = ""
    sockets = f" ws://{host} wss://{host}" if host else ""
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        f"style-src 'self' 'nonce-{nonce}'",
        # Chart tooltips and progress bars position themselves with style attributes.
        "style-src-attr 'unsafe-inline'",
        # Tabler draws form controls with data: SVG images.
        "img-src 'self' data:",
        "font-src 'self'",
        f"connect-src 'self'{sockets}",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


class ContentSecurityPolicyMiddleware:
    """Gives every request a fresh nonce (``request.csp_nonce``, ``{{ csp_nonce }}`` in templates) and
    sends the Content-Security-Policy built on it with every HTML response. HTML pages are never
    stored by the browser or a proxy: each carries a CSRF token and, once signed in, a person's data."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.csp_nonce = secrets.token_urlsafe(18)
        response = self.get_response(request)
        if response.get("Content-Type", "").startswith("text/html"):
            response["Content-Security-Policy"] = content_security_policy(request, request.csp_nonce)
            response["Cache-Control"] = "no-store"
        return response
