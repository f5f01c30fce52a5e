"""``Idempotency-Key`` for commands that start work.

A client that retries a command after a timeout sends the same key; the first answer is replayed
instead of starting the work again. The key is per user and kept for 24 hours; reusing it for a
different request (another path or body) is refused.

The key is claimed in a short transaction of its own and the command runs outside it: a command may
ask a cloud before it writes, and no transaction may stay open across a cloud call (with SQLite's
immediate transactions it would hold the database's write lock). While the command runs, a retry
with the same key is answered 409 ``idempotency_in_progress``; a refused or failed command gives
its key back. Should the process die between the command's commit and the recording of its answer,
the key stays claimed until it expires: retries are refused rather than starting the work twice.
"""

from __future__ import annotations

import functools
import hashlib
import json
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from apps.core.errors import Conflict, InvalidInput, Refused
from apps.core.models import IdempotencyRecord

HEADER = "Idempotency-Key"
LIFETIME = timedelta(hours=24)
MAX_KEY_LENGTH = 128


def _fingerprint(request: Any) -> str:
    try:
        body = json.dumps(request.data, sort_keys=True, default=str)
    except (TypeError, ValueError):
        body = repr(request.data)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def idempotent(view_method):
    """Decorate a DRF view method; requests without the header run as usual."""

    @functools.wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None or not request.user.is_authenticated:
            return view_method(self, request, *args, **kwargs)
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise InvalidInput(f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable characters.",
                               detail={HEADER: ["invalid"]})
        fingerprint = _fingerprint(request)
        IdempotencyRecord.objects.filter(
            user=request.user, key=key, created_at__lt=timezone.now() - LIFETIME
        ).delete()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(user=request.user, key=key, fingerprint=fingerprint)
        except IntegrityError:
            return _replay(request, key, fingerprint)
        try:
            response = view_method(self, request, *args, **kwargs)
        except BaseException:
            record.delete()
            raise
        if 200 <= response.status_code < 300:
            record.status_code = response.status_code
            # Stored as the client read it (ids, times and decimals as text), so the replay is the same.
            record.body = json.loads(json.dumps(response.data, cls=JSONEncoder))
            record.save(update_fields=["status_code", "body"])
        else:
            record.delete()
        return response

    return wrapper


def _replay(request: Any, key: str, fingerprint: str) -> Response:
    previous = IdempotencyRecord.objects.filter(user=request.user, key=key).first()
    if previous is None or previous.status_code == 0:
        raise Conflict("A request with this Idempotency-Key is still being processed.",
                       code="idempotency_in_progress")
    if previous.fingerprint != fingerprint:
        raise Refused(f"This {HEADER} was used for a different request.", code="idempotency_key_reused")
    response = Response(previous.body, status=previous.status_code)
    response["Idempotent-Replayed"] = "true"
    return response


IDEMPOTENCY_PARAMETER = OpenApiParameter(
    HEADER, str, OpenApiParameter.HEADER, required=False,
    description="Send the same key when retrying: the first answer is replayed and the work starts once.",
)
