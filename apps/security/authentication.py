"""DRF authentication of requests signed with an AccessKey pair (see ``signing``).

Each way a signature can fail has its own error code (all 401): ``signature_malformed``,
``request_expired``, ``access_key_invalid``, ``access_key_disabled``, ``signature_mismatch`` and
``nonce_reused``. Nonces are remembered in the database (``UsedNonce``, unique per AccessKey) until
the request they signed could no longer be accepted anyway, so a captured request cannot be sent
again: no cache eviction, restart or second server process forgets one early. Using a nonce is one
statement (an insert that does nothing on a conflict with the unique constraint), so a signed request
costs one short write, in every database mode.

That statement also inserts only while the key is active and its owner too, so a process may keep
a key it just checked (its decrypted secret, owner and organization) for ``KEY_HOLD_SECONDS`` instead of reading
and decrypting it for every request: a key disabled, rotated or deleted meanwhile, or an owner
disabled, is refused by the very next request, in every process. Any refusal of a kept key drops it
and checks the request again from the database, so each refusal keeps its own code.

A view whose own transaction writes (``NonceWithWrites``, the alerts' ingestion) records a kept key's
nonce with its first statements instead (``NonceClaim``): the same insert, first in the transaction's
first round trip, so the request costs no round trip and no commit of its own for it. A claim that
inserts nothing rolls the view's writes back and the request is refused with the code it would have
had here; one the view did not record (it failed, or answered before writing) is recorded before the
answer leaves, and a nonce used meanwhile turns that answer into the refusal: no answer goes out for
a nonce that was not recorded.
"""

from __future__ import annotations

import copy
import hmac
import threading
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import connection, transaction
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

# How long a process keeps a key it checked (see the module's doc), and how many at most.
KEY_HOLD_SECONDS = 5.0
KEYS_HELD = 1000

_purged_at: dict[str, float] = {}
_purge_lock = threading.Lock()


def nonce_insert(*, key: AccessKey, nonce: str, keep_until: Any) -> tuple[str, list[Any]]:
    """The statement that records ``key``'s use of ``nonce`` until ``keep_until``: it returns a row when it
    inserted one, none on a nonce already used or a key or owner no longer active.

    ``INSERT ... ON CONFLICT DO NOTHING`` on the unique (key, nonce) constraint: of two copies of one
    request racing each other, in any processes, exactly one inserts the row (the other waits for its
    transaction to end, then inserts nothing)."""
    quote = connection.ops.quote_name
    key_column, nonce_column, expires_column = (quote(UsedNonce._meta.get_field(name).column)
                                                for name in ("access_key", "nonce", "expires_at"))
    user_model = AccessKey._meta.get_field("user").related_model
    keys, users = quote(AccessKey._meta.db_table), quote(user_model._meta.db_table)
    key_field = AccessKey._meta.get_field

    def column(table: str, field: Any) -> str:
        return f"{table}.{quote(field.column)}"

    usable = (f"SELECT 1 FROM {keys} JOIN {users} ON {column(users, user_model._meta.pk)} = "
              f"{column(keys, key_field('user'))} WHERE {column(keys, AccessKey._meta.pk)} = %s AND "
              f"{column(keys, key_field('status'))} = %s AND {column(users, user_model._meta.get_field('is_active'))}"
              " = %s")
    # Only while the key and its owner are active (a kept key may have been disabled meanwhile).
    return (f"INSERT INTO {quote(UsedNonce._meta.db_table)} ({key_column}, {nonce_column}, {expires_column}) "
            f"SELECT %s, %s, %s WHERE EXISTS ({usable}) ON CONFLICT ({key_column}, {nonce_column}) DO NOTHING "
            "RETURNING 1",
            [key.pk, nonce, connection.ops.adapt_datetimefield_value(keep_until), key.pk, AccessKey.Status.ACTIVE,
             True])


def nonce_record(*, key: AccessKey, nonce: str, keep_until: Any, now: Any) -> bool:
    """Record that ``key`` used ``nonce`` until ``keep_until`` (``nonce_insert``, one statement); ``False``
    when it already had (a replay), or when the key or its owner is no longer active."""
    sql, params = nonce_insert(key=key, nonce=nonce, keep_until=keep_until)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        inserted = bool(cursor.fetchall())
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
        raw = request._request
        canonical = signing.canonical_request(raw.method, raw.path, raw.META.get("QUERY_STRING", ""), lowered,
                                              auth.signed_headers, signing.body_digest(raw.body))
        text = signing.string_to_sign(date, nonce, canonical)
        keep_until = moment + FRESHNESS + NONCE_MARGIN
        held = _held(auth.access_key_id)
        claim = None
        if held is not None:
            key, secret = held
            if not hmac.compare_digest(signing.signature(secret, text), auth.signature):
                held = None
            elif isinstance(request.parser_context.get("view"), NonceWithWrites):
                claim = NonceClaim(key, nonce, keep_until, now)  # recorded by the view's transaction
            elif not nonce_record(key=key, nonce=nonce, keep_until=keep_until, now=now):
                held = None
            if held is None:
                _forget(key.pk)  # refused: checked again from the database, for the refusal's own code
        if held is None:
            key, secret = _checked_key(auth.access_key_id)
            if not hmac.compare_digest(signing.signature(secret, text), auth.signature):
                raise SignatureRefused("signature_mismatch", "The signature does not match the request: it was "
                                       "changed, or signed with another secret.")
            if not nonce_record(key=key, nonce=nonce, keep_until=keep_until, now=now):
                _refuse_nonce(key.pk)
            _hold(key, secret)
        if claim is not None:
            raw.nonce_claim = claim  # the key's use is noted once the claim is recorded
        else:
            _note_use(key, now)
        raw.access_key_id = key.id
        return key.user, key

    def authenticate_header(self, request) -> str:
        return f'{signing.ALGORITHM} realm="{settings.MFA_ISSUER}"'


def _refuse_nonce(key_id: str) -> None:
    _checked_key(key_id)  # disabled or deleted since it was read: refused as such
    raise SignatureRefused("nonce_reused", "This nonce was already used: a signed request is accepted once.")


def _note_use(key: AccessKey, now: Any) -> None:
    if key.last_used_at is None or key.last_used_at < now - timedelta(minutes=1):
        AccessKey.objects.filter(pk=key.pk).update(last_used_at=now)
        _note_used(key.pk, now)


class NonceClaim:
    """The nonce of a request signed with a kept key, left for the view's transaction to record with its
    first statements (see the module's doc). ``statement()`` goes first in that transaction and its rows go
    to ``recorded``, which refuses the request (an exception: the transaction rolls back) when it inserted
    nothing; a caller already inside a transaction uses ``record`` before its writes instead. ``settle``
    runs before the answer leaves, whatever the view did."""

    OPEN, INSERTED, COMMITTED, CALLERS, REFUSED = "open", "inserted", "committed", "callers", "refused"

    def __init__(self, key: AccessKey, nonce: str, keep_until: Any, now: Any) -> None:
        self.key, self.nonce, self.keep_until, self.now = key, nonce, keep_until, now
        self.state = self.OPEN

    def statement(self) -> tuple[str, list[Any]]:
        return nonce_insert(key=self.key, nonce=self.nonce, keep_until=self.keep_until)

    def recorded(self, rows: list[tuple] | None) -> None:
        """The rows of ``statement()``, run in a transaction of the caller's own (not nested in another)."""
        if not rows:
            self._refuse()
        self.state = self.INSERTED
        transaction.on_commit(self._committed)  # a transaction rolled back leaves it inserted, not committed

    def record(self) -> None:
        """Record it now, in the transaction the caller is in (it lives or dies with the caller's)."""
        if not nonce_record(key=self.key, nonce=self.nonce, keep_until=self.keep_until, now=self.now):
            self._refuse()
        self.state = self.CALLERS

    def _committed(self) -> None:
        if self.state == self.INSERTED:
            self.state = self.COMMITTED

    def _refuse(self) -> None:
        self.state = self.REFUSED
        _forget(self.key.pk)
        _refuse_nonce(self.key.pk)

    def settle(self) -> None:
        """Record the nonce now unless a committed transaction did (fail closed: a nonce used meanwhile
        refuses the request), then the key's upkeep (its expired nonces, its last use)."""
        if self.state == self.REFUSED:
            return
        if self.state == self.CALLERS and UsedNonce.objects.filter(access_key=self.key, nonce=self.nonce).exists():
            self.state = self.COMMITTED  # still there: not rolled back with a savepoint of the caller's
        if self.state != self.COMMITTED:  # never run, or rolled back
            self.record()
        else:
            _purge_expired(self.key, self.now)
        self.state = self.COMMITTED
        _note_use(self.key, self.now)


def nonce_claim(request: Any) -> NonceClaim | None:
    """The claim a ``NonceWithWrites`` view's request carries (None when its nonce is already recorded)."""
    return getattr(getattr(request, "_request", request), "nonce_claim", None)


class NonceWithWrites:
    """A DRF view that records a kept key's nonce in its own transaction: it passes ``nonce_claim(request)``
    to the service that writes. Before the answer leaves, a claim the view did not record is recorded, and
    an answer whose nonce was used meanwhile becomes the refusal, as if the check had refused it."""

    def finalize_response(self, request, response, *args, **kwargs):
        claim = nonce_claim(request)
        if claim is not None:
            try:
                claim.settle()
            except SignatureRefused as exc:
                response = self.handle_exception(exc)
            if claim.state == NonceClaim.REFUSED:
                # Recorded as a refused signature is: no user, no key.
                request.user, request.auth = AnonymousUser(), None
                request._request.__dict__.pop("access_key_id", None)
        return super().finalize_response(request, response, *args, **kwargs)

    def raise_uncaught_exception(self, exc):
        claim = nonce_claim(self.request)
        if claim is not None:
            try:
                claim.settle()
            except SignatureRefused:
                pass  # the failure is answered all the same; the nonce is used
        super().raise_uncaught_exception(exc)


def _checked_key(key_id: str) -> tuple[AccessKey, str]:
    """The key and its decrypted secret, read now; refused when missing, disabled or unreadable."""
    key = AccessKey.objects.select_related("user", "organization").filter(pk=key_id).first()
    if key is None:
        raise SignatureRefused("access_key_invalid", "This AccessKey id does not exist.")
    if key.status != AccessKey.Status.ACTIVE or not key.user.is_active:
        raise SignatureRefused("access_key_disabled", "This AccessKey pair is disabled.")
    try:
        from apps.security.services import access_key_secret

        return key, access_key_secret(key)
    except DecryptionError:
        raise SignatureRefused("access_key_invalid", "This AccessKey pair cannot be used; create a new one.") from None


_keys: dict[str, tuple[float, AccessKey, str]] = {}
_keys_lock = threading.Lock()


def _held(key_id: str) -> tuple[AccessKey, str] | None:
    """A copy of the key (and of its owner and organization) this process checked less than
    ``KEY_HOLD_SECONDS`` ago: each request gets its own, so nothing one request attaches to them
    reaches another."""
    with _keys_lock:
        entry = _keys.get(key_id)
    if entry is None or time.monotonic() - entry[0] > KEY_HOLD_SECONDS:
        return None
    return _copied(entry[1]), entry[2]


def _copied(key: AccessKey) -> AccessKey:
    kept = copy.copy(key)
    kept.user = copy.copy(key.user)
    if key.organization_id is not None and AccessKey.organization.is_cached(key):
        kept.organization = copy.copy(key.organization)
    return kept


def _hold(key: AccessKey, secret: str) -> None:
    kept = _copied(key)
    with _keys_lock:
        if len(_keys) >= KEYS_HELD:
            _keys.clear()
        _keys[key.pk] = (time.monotonic(), kept, secret)


def _note_used(key_id: str, moment: Any) -> None:
    with _keys_lock:
        entry = _keys.get(key_id)
        if entry is not None:
            entry[1].last_used_at = moment


def _forget(key_id: str) -> None:
    with _keys_lock:
        _keys.pop(key_id, None)


class AccessKeyScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI document describes signed requests."""

    target_class = AccessKeyAuthentication
    name = "accessKeySignature"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "UM-HMAC-SHA256 Credential=<AccessKey id>, SignedHeaders=host;x-um-date;x-um-nonce, "
                               "Signature=<hex>; see the README, section Signed API requests."}
