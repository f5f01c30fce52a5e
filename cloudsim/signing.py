"""Verification of the signatures the Alibaba Cloud SDKs send.

Two schemes are accepted, each rebuilt exactly as the SDK builds it:

- ACS3-HMAC-SHA256 (V3, the default of the current SDKs): the signature covers the method, the path,
  the canonical query string, the headers named in ``SignedHeaders`` and the SHA-256 of the body. As
  the real gateway does, strict mode requires ``host`` and every ``x-acs-*`` header present to be
  signed, so a client that adds an organization or a security token without signing it is refused.
- HMAC-SHA1 in the query (V1, ``SignatureVersion=1.0``): the signature covers every query and form
  parameter except ``Signature``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import quote

from .errors import CloudError

MAX_CLOCK_SKEW_SECONDS = 15 * 60


def signature_mismatch() -> CloudError:
    return CloudError("SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")


def unknown_key() -> CloudError:
    return CloudError("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)


class NonceCache:
    """Remembers signature nonces for the clock-skew window so that a replayed request is refused."""

    def __init__(self, ttl: float = MAX_CLOCK_SKEW_SECONDS, max_entries: int = 1_000_000):
        self.ttl = ttl
        self.max_entries = max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def use(self, nonce: str) -> None:
        now = time.time()
        with self._lock:
            while self._seen:
                oldest, seen_at = next(iter(self._seen.items()))
                if seen_at > now - self.ttl and len(self._seen) < self.max_entries:
                    break
                del self._seen[oldest]
            if nonce in self._seen:
                raise CloudError("SignatureNonceUsed", "Specified signature nonce was used already.")
            self._seen[nonce] = now


def _check_timestamp(value: str | None, name: str) -> None:
    if not value:
        raise CloudError("MissingParameter", f'The input parameter "{name}" that is mandatory is not supplied.')
    try:
        stamp = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise CloudError("InvalidTimeStamp.Format",
                         "Specified time stamp or date value is not well formatted.") from None
    if abs(time.time() - stamp) > MAX_CLOCK_SKEW_SECONDS:
        raise CloudError("InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")


SecretLookup = Callable[[str], "str | None"]


def verify_acs3(*, method: str, path: str, query: dict[str, str], headers: dict[str, list[str]], body: bytes,
                secret_for: SecretLookup, nonces: NonceCache, strict: bool = True) -> str:
    """Check an ``Authorization: ACS3-HMAC-SHA256 ...`` request; return the AccessKey id."""
    authorization = (headers.get("authorization") or [""])[0]
    algorithm, _, rest = authorization.partition(" ")
    if algorithm != "ACS3-HMAC-SHA256":
        raise CloudError("InvalidAuthorization", "The signature algorithm is not supported.")
    fields = {}
    for part in rest.split(","):
        key, _, value = part.strip().partition("=")
        fields[key] = value
    access_key_id = fields.get("Credential", "")
    signed_header_names = [h for h in fields.get("SignedHeaders", "").split(";") if h]
    signature = fields.get("Signature", "")
    if not access_key_id or not signed_header_names or not signature:
        raise CloudError("InvalidAuthorization", "The Authorization header is not well formed.")
    secret = secret_for(access_key_id)
    if secret is None:
        raise unknown_key()

    content_sha256 = (headers.get("x-acs-content-sha256") or [""])[0]
    if content_sha256 != hashlib.sha256(body).hexdigest():
        raise signature_mismatch()
    for required in ("x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256", "host"):
        if required not in signed_header_names:
            raise signature_mismatch()
    if strict:
        unsigned = sorted(name for name in headers
                          if (name.startswith("x-acs-") or name == "host") and name not in signed_header_names)
        if unsigned:
            raise CloudError("SignatureDoesNotMatch", "Specified signature is not matched with our calculation: "
                             f"the headers {', '.join(unsigned)} are present but not signed.")

    canonical_query = "&".join(
        f"{key}={quote(query[key], safe='~', encoding='utf-8')}" for key in sorted(query)
    )
    canonical_headers = ""
    for name in sorted(signed_header_names):
        values = headers.get(name)
        if values is None:
            raise signature_mismatch()
        canonical_headers += f"{name}:{','.join(sorted(v.strip() for v in values))}\n"
    canonical_request = "\n".join(
        [method, path or "/", canonical_query, canonical_headers, ";".join(signed_header_names), content_sha256]
    )
    string_to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    expected = hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        raise signature_mismatch()
    _check_timestamp(headers["x-acs-date"][0], "x-acs-date")
    nonces.use(headers["x-acs-signature-nonce"][0])
    return access_key_id


def verify_v1(*, method: str, params: dict[str, str], secret_for: SecretLookup, nonces: NonceCache) -> str:
    """Check a query-signed request (``SignatureMethod=HMAC-SHA1``); return the AccessKey id."""
    access_key_id = params.get("AccessKeyId", "")
    signature = params.get("Signature", "")
    if params.get("SignatureMethod") != "HMAC-SHA1":
        raise CloudError("InvalidSignatureMethod", "Specified signature method is not supported.")
    secret = secret_for(access_key_id)
    if secret is None:
        raise unknown_key()
    signed = sorted((k, v) for k, v in params.items() if k != "Signature")
    canonical = "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in signed)
    string_to_sign = f"{method}&%2F&{quote(canonical, safe='~')}"
    digest = hmac.new((secret + "&").encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha1).digest()
    if not hmac.compare_digest(base64.b64encode(digest).decode(), signature):
        raise signature_mismatch()
    _check_timestamp(params.get("Timestamp"), "Timestamp")
    nonce = params.get("SignatureNonce")
    if not nonce:
        raise CloudError("MissingSignatureNonce", "SignatureNonce is mandatory for this action.")
    nonces.use(nonce)
    return access_key_id
