"""Request id, Prometheus metrics of every HTTP request, and the 404 page for what a page's
selector did not find."""

from __future__ import annotations

import ipaddress
import re
import time
import uuid
from contextvars import ContextVar

from django.conf import settings
from django.core.handlers.exception import response_for_exception
from django.http import Http404
from prometheus_client import Counter, Histogram

from apps.core.errors import NotFound

request_id_var: ContextVar[str] = ContextVar("request_id", default="")
client_ip_var: ContextVar[str | None] = ContextVar("client_ip", default=None)
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
# Label values must come from a fixed set: a client inventing methods would otherwise create a new
# time series per request and grow the process without bound.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})

HTTP_REQUESTS = Counter(
    "unimanager_http_requests_total", "HTTP requests served", ["method", "view", "status"]
)
HTTP_LATENCY = Histogram(
    "unimanager_http_request_duration_seconds", "Time to serve an HTTP request", ["method", "view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def client_ip(request) -> str | None:
    """The address the request came from; ``X-Forwarded-For`` counts only behind a trusted proxy."""
    if settings.SECURE_PROXY_SSL_HEADER:
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded:
            candidate = forwarded.split(",")[-1].strip()
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                pass
    return request.META.get("REMOTE_ADDR") or None


class RequestContextMiddleware:
    """Gives every request an id (kept from ``X-Request-ID`` when well-formed, echoed back) and
    records the client address; both are available to services through context variables."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        request.client_ip = client_ip(request)
        token = request_id_var.set(request.id)
        ip_token = client_ip_var.set(request.client_ip)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
            client_ip_var.reset(ip_token)
        response["X-Request-ID"] = request.id
        return response


class MetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = match.view_name if match and match.view_name else "unmatched"
        method = request.method if request.method in _METHODS else "other"
        HTTP_REQUESTS.labels(method, view, str(response.status_code)).inc()
        HTTP_LATENCY.labels(method, view).observe(time.perf_counter() - started)
        return response


class NotFoundPageMiddleware:
    """A page whose selector raises ``NotFound`` (missing, or not visible to this person: the same
    answer) shows the 404 page, for every console, portal and screen view, so no view catches it
    itself. API views never get here: their exception handler renders it as a 404 error body."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, NotFound):
            return response_for_exception(request, Http404(exception.message))
        return None
