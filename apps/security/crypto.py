"""The one encryption helper for secrets at rest (AccessKey secrets, cloud credentials).

Keys come from ``UNIMANAGER_ENCRYPTION_KEYS``: a comma-separated list of Fernet keys, newest first.
New values are encrypted with the first key; any listed key decrypts, so a key is rotated by putting
a new one in front, running ``manage.py reencrypt_secrets`` (every field registered with
``register_encrypted_field``), then dropping the old one.
Without the variable (the embedded mode) one stable key is derived from the secret key file, so a
restart still reads what was stored.
"""

from __future__ import annotations

import base64
import hashlib
import os
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

ENV_VAR = "UNIMANAGER_ENCRYPTION_KEYS"


class DecryptionError(Exception):
    """A stored value cannot be read with any configured key (wrong key, or the value was altered)."""


def _derived_key() -> bytes:
    digest = hashlib.sha256(b"unimanager-encryption-v1:" + settings.SECRET_KEY.encode()).digest()
    return base64.urlsafe_b64encode(digest)


@lru_cache(maxsize=8)
def _fernets(raw_keys: str, secret_key: str) -> tuple[Fernet, ...]:
    keys = [k.strip() for k in raw_keys.split(",") if k.strip()]
    if not keys:
        keys = [_derived_key().decode()]
    try:
        return tuple(Fernet(k.encode()) for k in keys)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{ENV_VAR} must list Fernet keys (32 url-safe base64-encoded bytes each)") from exc


def _configured() -> tuple[Fernet, ...]:
    return _fernets(os.environ.get(ENV_VAR, ""), settings.SECRET_KEY)


def _current() -> MultiFernet:
    return MultiFernet(list(_configured()))


def encrypt(plaintext: str) -> str:
    """Encrypt ``plaintext`` with the newest key; the result is ASCII text safe to store."""
    return _current().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _current().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError, TypeError) as exc:
        raise DecryptionError("the stored secret cannot be decrypted with the configured keys") from exc


def reencrypt(token: str) -> str:
    """The same secret encrypted with the newest key (for key rotation)."""
    try:
        return _current().rotate(token.encode()).decode()
    except (InvalidToken, ValueError, TypeError) as exc:
        raise DecryptionError("the stored secret cannot be decrypted with the configured keys") from exc


def is_current(token: str) -> bool:
    """Whether ``token`` is already encrypted with the newest key (nothing to re-encrypt)."""
    try:
        _configured()[0].decrypt(token.encode())
    except (InvalidToken, ValueError, TypeError):
        return False
    return True


_ENCRYPTED_FIELDS: list[tuple[str, str]] = []


def register_encrypted_field(model: str, field: str) -> None:
    """Declare that ``model`` ("app_label.Model") stores text encrypted here in ``field``, so a key
    rotation re-encrypts it. Apps call this from ``AppConfig.ready``."""
    if (model, field) not in _ENCRYPTED_FIELDS:
        _ENCRYPTED_FIELDS.append((model, field))


def encrypted_fields() -> list[tuple[type, str]]:
    from django.apps import apps

    return [(apps.get_model(model), field) for model, field in _ENCRYPTED_FIELDS]


def generate_key() -> str:
    """A new key for ``UNIMANAGER_ENCRYPTION_KEYS``."""
    return Fernet.generate_key().decode()
