"""The AccessKey request signature, shared by the server and the client (no Django here).

A request is signed with HMAC-SHA256 over a canonical form of it::

    METHOD
    /percent-encoded/path
    a=1&b=2&b=3                      (query: pairs sorted by name then value, RFC 3986 encoded)
    host:console.example.com         (each signed header, lower-case name, trimmed value,
    x-um-date:20250102T030405Z        sorted by name, one per line)
    x-um-nonce:3b6f...
    host;x-um-date;x-um-nonce        (the signed header names)
    <hex SHA-256 of the body>

The string signed is ``UM-HMAC-SHA256``, the date, the nonce and the hex SHA-256 of the canonical
request, one per line. The request carries::

    Authorization: UM-HMAC-SHA256 Credential=<AccessKey id>, SignedHeaders=host;x-um-date;x-um-nonce,
                   Signature=<hex>
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, unquote

ALGORITHM = "UM-HMAC-SHA256"
DATE_HEADER = "x-um-date"
NONCE_HEADER = "x-um-nonce"
REQUIRED_HEADERS = ("host", DATE_HEADER, NONCE_HEADER)
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_AUTHORIZATION_LENGTH = 2048
KEY_ID_RE = re.compile(r"^[A-Za-z0-9]{16,64}$")
NONCE_RE = re.compile(r"^[A-Za-z0-9._~\-]{16,128}$")
HEADER_NAME_RE = re.compile(r"^[a-z0-9\-]{1,64}$")
SIGNATURE_RE = re.compile(r"^[0-9a-f]{64}$")


class SignatureFormatError(ValueError):
    """The Authorization header is not a well-formed signature (a message for the client)."""


@dataclass(frozen=True)
class Authorization:
    access_key_id: str
    signed_headers: tuple[str, ...]
    signature: str


def _encode(value: str) -> str:
    return quote(value, safe="-_.~")


def canonical_path(path: str) -> str:
    return quote(unquote(path or "/"), safe="/-_.~") or "/"


def canonical_query(query: str) -> str:
    pairs = parse_qsl(query or "", keep_blank_values=True)
    return "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(pairs))


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body or b"").hexdigest()


def canonical_request(method: str, path: str, query: str, headers: dict[str, str], signed_headers: tuple[str, ...],
                      body_sha256: str) -> str:
    lines = [method.upper(), canonical_path(path), canonical_query(query)]
    lowered = {k.lower(): v for k, v in headers.items()}
    lines += [f"{name}:{' '.join(str(lowered.get(name, '')).split())}" for name in signed_headers]
    lines += [";".join(signed_headers), body_sha256]
    return "\n".join(lines)


def string_to_sign(date: str, nonce: str, canonical: str) -> str:
    return "\n".join([ALGORITHM, date, nonce, hashlib.sha256(canonical.encode()).hexdigest()])


def signature(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def format_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(DATE_FORMAT)


def parse_date(value: str) -> datetime:
    try:
        return datetime.strptime(value, DATE_FORMAT).replace(tzinfo=UTC)
    except (TypeError, ValueError):
        raise SignatureFormatError(f"{DATE_HEADER} must be a UTC time like 20250102T030405Z.") from None


def parse_authorization(header: str) -> Authorization:
    """Parse ``UM-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...``; any defect is a
    ``SignatureFormatError`` naming it."""
    if not isinstance(header, str) or len(header) > MAX_AUTHORIZATION_LENGTH:
        raise SignatureFormatError("The Authorization header is too long.")
    scheme, _, rest = header.strip().partition(" ")
    if scheme != ALGORITHM:
        raise SignatureFormatError(f"The Authorization scheme must be {ALGORITHM}.")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep or name not in {"Credential", "SignedHeaders", "Signature"} or name in fields:
            raise SignatureFormatError("Expected Credential=..., SignedHeaders=..., Signature=... once each.")
        fields[name] = value.strip()
    if set(fields) != {"Credential", "SignedHeaders", "Signature"}:
        raise SignatureFormatError("Credential, SignedHeaders and Signature are all required.")
    if not KEY_ID_RE.match(fields["Credential"]):
        raise SignatureFormatError("Credential must be an AccessKey id.")
    names = tuple(fields["SignedHeaders"].split(";"))
    if not all(HEADER_NAME_RE.match(n) for n in names) or len(names) > 20:
        raise SignatureFormatError("SignedHeaders must be lower-case header names separated by ';'.")
    if list(names) != sorted(set(names)):
        raise SignatureFormatError("SignedHeaders must be sorted and listed once each.")
    missing = [h for h in REQUIRED_HEADERS if h not in names]
    if missing:
        raise SignatureFormatError(f"SignedHeaders must include {', '.join(missing)}.")
    if not SIGNATURE_RE.match(fields["Signature"]):
        raise SignatureFormatError("Signature must be 64 lower-case hex digits.")
    return Authorization(fields["Credential"], names, fields["Signature"])


def authorization_header(access_key_id: str, signed_headers: tuple[str, ...], sig: str) -> str:
    return f"{ALGORITHM} Credential={access_key_id}, SignedHeaders={';'.join(signed_headers)}, Signature={sig}"
