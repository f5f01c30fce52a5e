"""REST-style products beside the RPC ones: ROA routes and products with their own signature.

Two kinds of product do not fit the RPC form (``/`` with ``Action`` and ``Version``):

- ROA products (Container Service for Kubernetes): the SDK sends the same ACS3-HMAC-SHA256 signature
  and names the action and version in ``x-acs-action`` / ``x-acs-version``, but the resource is in the
  path (``GET /clusters/{ClusterId}/nodepools``). A product module declares each action's method and
  path template with ``route``; the server checks the request's method and path against it and hands
  the path's parts to the action as parameters (``ClusterId``), beside the query string.
- Products with their own wire protocol (Log Service: ``Authorization: LOG <key>:<signature>``, the
  project in the ``Host`` name, errors as ``{"errorCode", "errorMessage"}``). A product module
  registers a ``Protocol``: whether a request is its own, how to authenticate it and find its action,
  and how its answers and errors are written. Faults, the call log, ``ClientToken`` and the store lock
  are the server's, the same as for every other product.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from .errors import CloudError

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
# (version, action) -> (method, compiled path template)
ROUTES: dict[tuple[str, str], tuple[str, re.Pattern[str]]] = {}


def route(version: str, action: str, method: str, template: str) -> None:
    """Declare that ``action`` of ``version`` is ``method template`` (``{Name}`` matches one path segment)."""
    pattern = "^" + _PLACEHOLDER.sub(lambda m: f"(?P<{m.group(1)}>[^/]+)", re.escape(template).replace(
        r"\{", "{").replace(r"\}", "}")) + "$"
    ROUTES[(version, action)] = (method.upper(), re.compile(pattern))


def path_params(version: str, action: str, method: str, path: str) -> dict[str, str]:
    """The path parameters of a ROA action's request (none for an RPC action); a request whose method or
    path is not the action's is refused as the gateway refuses it."""
    spec = ROUTES.get((version, action))
    if spec is None:
        return {}
    want, pattern = spec
    match = pattern.match(path or "/")
    if match is None or method.upper() != want:
        raise CloudError("InvalidAction.NotFound", f"Specified api is not found: {method} {path} is not "
                         f"{action}.", 404)
    return {name: unquote(value) for name, value in match.groupdict().items()}


@dataclass(frozen=True)
class Protocol:
    """A product with its own wire protocol.

    ``claims(headers)``: whether the request is this product's. ``authenticate(sim, method, path, query,
    headers, body)``: verify it and return (API version, action, account, parameters). ``answer(result,
    request_id)`` and ``error(error, request_id)``: the (status, body, extra headers) written back.
    """

    name: str
    claims: Callable[[dict[str, list[str]]], bool]
    authenticate: Callable[..., tuple[str, str, Any, dict[str, str]]]
    answer: Callable[[dict[str, Any], str], tuple[int, Any, dict[str, str]]]
    error: Callable[[CloudError, str], tuple[int, Any, dict[str, str]]]


PROTOCOLS: list[Protocol] = []


def register_protocol(protocol: Protocol) -> None:
    PROTOCOLS[:] = [p for p in PROTOCOLS if p.name != protocol.name] + [protocol]


def protocol_for(headers: dict[str, list[str]]) -> Protocol | None:
    for protocol in PROTOCOLS:
        if protocol.claims(headers):
            return protocol
    return None


def is_openapi(headers: dict[str, list[str]]) -> bool:
    """Whether a request that is not at ``/`` is still an OpenAPI call (a ROA action names itself in
    ``x-acs-action``; a registered protocol claims its own), not an OSS one."""
    return "x-acs-action" in headers or protocol_for(headers) is not None
