"""Opaque identifiers: objects are addressed by ids that cannot be guessed or enumerated."""

import secrets

from django.utils.deconstruct import deconstructible


@deconstructible
class PrefixedId:
    """Default for a ``CharField`` primary key: ``<prefix>-<20 hex digits>`` (80 random bits)."""

    def __init__(self, prefix: str):
        self.prefix = prefix

    def __call__(self) -> str:
        return f"{self.prefix}-{secrets.token_hex(10)}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PrefixedId) and other.prefix == self.prefix

    def __hash__(self) -> int:
        return hash(self.prefix)
