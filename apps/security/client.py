"""A small client for the Unimanager API signed with an AccessKey pair (standard library only).

    from apps.security.client import signed_request
    answer = signed_request("GET", "https://console.example.com/api/v1/organizations/users/",
                            access_key_id="UMAK...", secret="...")
    answer.status, answer.json()

``sign`` returns only the headers to add, for use with any HTTP library.
"""

from __future__ import annotations

import json as jsonlib
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from apps.security import signing


def sign(method: str, url: str, *, access_key_id: str, secret: str, body: bytes = b"",
         headers: dict[str, str] | None = None, now: datetime | None = None, nonce: str | None = None
         ) -> dict[str, str]:
    """The headers (``Host``, ``X-UM-Date``, ``X-UM-Nonce``, ``Authorization``) that sign this request.

    Headers passed in ``headers`` whose names start with ``x-um-`` or are ``content-type`` are
    signed too, so they cannot be changed on the way."""
    parts = urlsplit(url)
    out = {
        "Host": parts.netloc,
        "X-UM-Date": signing.format_date(now or datetime.now(UTC)),
        "X-UM-Nonce": nonce or secrets.token_urlsafe(24),
    }
    all_headers = {**(headers or {}), **out}
    names = sorted({k.lower() for k in all_headers
                    if k.lower() in signing.REQUIRED_HEADERS or k.lower().startswith("x-um-")
                    or k.lower() == "content-type"})
    canonical = signing.canonical_request(method, parts.path, parts.query, all_headers, tuple(names),
                                          signing.body_digest(body))
    text = signing.string_to_sign(out["X-UM-Date"], out["X-UM-Nonce"], canonical)
    out["Authorization"] = signing.authorization_header(access_key_id, tuple(names),
                                                        signing.signature(secret, text))
    return out


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes = field(repr=False)

    def json(self) -> Any:
        return jsonlib.loads(self.body or b"null")


def signed_request(method: str, url: str, *, access_key_id: str, secret: str, json: Any = None,
                   body: bytes | None = None, headers: dict[str, str] | None = None, timeout: float = 30) -> Answer:
    """Send one signed request and return its answer (error statuses are answers, not exceptions)."""
    headers = dict(headers or {})
    if json is not None:
        body = jsonlib.dumps(json).encode()
        headers.setdefault("Content-Type", "application/json")
    body = body or b""
    headers.update(sign(method, url, access_key_id=access_key_id, secret=secret, body=body, headers=headers))
    request = urllib.request.Request(url, data=body if method.upper() not in {"GET", "HEAD"} else None,
                                     headers=headers, method=method.upper())
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, dict(response.headers.items()), response.read())
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, dict(exc.headers.items()), exc.read())
