"""Cloud credentials at rest, sealed by the platform's one encryption helper (``apps.security.crypto``).

Credentials are a small JSON object (``access_key_id``, ``access_key_secret``) encrypted whole; the
API never returns them. A value that cannot be decrypted (the keys changed) raises ``ValueError``,
which a connectivity test or sync reports as the platform's problem instead of crashing.
"""

from __future__ import annotations

import json
from typing import Any

from apps.security.crypto import DecryptionError, decrypt, encrypt


def encrypt_json(values: dict[str, Any]) -> str:
    return encrypt(json.dumps(values, sort_keys=True))


def decrypt_json(sealed: str) -> dict[str, Any]:
    if not sealed:
        return {}
    try:
        return json.loads(decrypt(sealed))
    except DecryptionError as exc:
        raise ValueError("the stored credentials cannot be decrypted with this installation's keys") from exc
