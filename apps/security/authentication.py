"""DRF authentication of requests signed with an AccessKey pair (see ``signing``).

Each way a signature can fail has its own error code (all 401): ``signature_malformed``,
``request_expired``, ``access_key_invalid``, ``access_key_disabled``, ``signature_mismatch`` and
``nonce_reused``. Nonces are remembered in the database (``UsedNonce``, unique per AccessKey) until
the request they signed could no longer be accepted anyway, so a captured request cannot be sent
again: no cache eviction, restart or second server process forgets one early. Using a nonce is one
statement (an insert that does nothing on a conflict with the unique constraint), so a signed request
costs one short write, in every database mode.
"""

from __future__ import annotations

import hmac
import threading
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from apps.security import signing
from apps.security.crypto import DecryptionError
from apps.security.models import AccessKey, UsedNonce

FRESHNESS = timedelta(minutes=15)
# A nonce is kept until its request's date is this far behind, plus a margin for servers whose clocks differ.
NONCE_MARGIN = timedelta(minutes=1)
# A key's expired nonces are removed by the request that uses one, at most this often per process
# (the periodic purge removes every key's).
PURGE_EVERY_SECONDS = 60.0

_purged_at: dict[str, float] = {}
_purge_lock = threading.Lock()


def nonce_record(*, key: AccessKey, nonce: str, keep_until: Any, now: Any) -> bool:
    """Record that ``key`` used ``nonce`` until ``keep_until``; ``False`` when it already had (a replay).

    One ``INSERT ... ON CONFLICT DO NOTHING`` on the unique (key, nonce) constraint: of two copies of
    one request racing each other, in any processes, exactly one inserts the row and passes."""
    quote = connection.ops.quote_name
    key_column, nonce_column, expires_column = (quote(UsedNonce._meta.get_field(name).column)
                                                for name in ("access_key", "nonce", "expires_at"))
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {quote(UsedNonce._meta.db_table)} ({key_column}, {nonce_column}, "
                       f"{expires_column}) VALUES (%s, %s, %s) ON CONFLICT ({key_column}, {nonce_column}) DO NOTHING",
                       [key.pk, nonce, connection.ops.adapt_datetimefield_value(keep_until)])
        inserted = cursor.rowcount == 1
    if inserted:
        _purge_expired(key, now)
    return inserted


def _purge_expired(key: AccessKey, now: Any) -> None:
    moment = time.monotonic()
    with _purge_lock:
        if moment - _purged_at.get(key.pk, -PURGE_EVERY_SECONDS) < PURGE_EVERY_SECONDS:
            return
        _purged_at[key.pk] = moment
    UsedNonce.objects.filter(access_key=key, expires_at__lt=now).delete()


class SignatureRefused(exceptions.AuthenticationFailed):
    def __init__(self, code: str, message: str):
        super().__init__(detail=message, code=code)


class AccessKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: UM-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...``."""

    def authenticate(self, request) -> tuple[Any, AccessKey] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header.startswith(signing.ALGORITHM):
            return None
        try:
            auth = signing.parse_authorization(header)
        except signing.SignatureFormatError as exc:
            raise SignatureRefused("signature_malformed", str(exc)) from None
        lowered = {k.lower(): v for k, v in request.headers.items()}
        for name in auth.signed_headers:
            if name not in lowered:
                raise SignatureRefused("signature_malformed", f"The signed header {name} is missing from the request.")
        date, nonce = lowered[signing.DATE_HEADER], lowered[signing.NONCE_HEADER]
        try:
            moment = signing.parse_date(date)
        except signing.SignatureFormatError as exc:
            raise SignatureRefused("signature_malformed", str(exc)) from None
        if not signing.NONCE_RE.match(nonce):
            raise SignatureRefused("signature_malformed", "X-UM-Nonce must be 16 to 128 URL-safe characters.")
        now = timezone.now()
        if abs(now - moment) > FRESHNESS:
            raise SignatureRefused("request_expired", "The request was signed more than 15 minutes away from the "
                                   "server's time; sign it again (check the client's clock).")
        key = AccessKey.objects.select_related("user").filter(pk=auth.access_key_id).first()
        if key is None:
            raise SignatureRefused("access_key_invalid", "This AccessKey id does not exist.")
        if key.status != AccessKey.Status.ACTIVE or not key.user.is_active:
            raise SignatureRefused("access_key_disabled", "This AccessKey pair is disabled.")
        try:
            from apps.security.services import access_key_secret

            secret = access_key_secret(key)
        except DecryptionError:
            raise SignatureRefused("access_key_invalid", "This AccessKey pair cannot be used; create a new one.") \
                from None
        raw = request._request
        body = raw.body
        canonical = signing.canonical_request(raw.method, raw.path, raw.META.get("QUERY_STRING", ""), lowered,
                                              auth.signed_headers, signing.body_digest(body))
        expected = signing.signature(secret, signing.string_to_sign(date, nonce, canonical))
        if not hmac.compare_digest(expected, auth.signature):
            raise SignatureRefused("signature_mismatch", "The signature does not match the request: it was changed, "
                                   "or signed with another secret.")
        if not nonce_record(key=key, nonce=nonce, keep_until=moment + FRESHNESS + NONCE_MARGIN, now=now):
            raise SignatureRefused("nonce_reused", "This nonce was already used: a signed request is accepted once.")
        if key.last_used_at is None or key.last_used_at < now - timedelta(minutes=1):
            AccessKey.objects.filter(pk=key.pk).update(last_used_at=now)
        raw.access_key_id = key.id
        return key.user, key

    def authenticate_header(self, request) -> str:
        return f'{signing.ALGORITHM} realm="{settings.MFA_ISSUER}"'


class AccessKeyScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI document describes signed requests."""

    target_class = AccessKeyAuthentication
    name = "accessKeySignature"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "UM-HMAC-SHA256 Credential=<AccessKey id>, SignedHeaders=host;x-um-date;x-um-nonce, "
                               "Signature=<hex>; see the README, section Signed API requests."}
