"""Time-based one-time passwords through ``pyotp``: 6 digits, 30-second steps, SHA-1, which is what
authenticator apps expect from an ``otpauth://totp/`` URI.

The sign-in and enrolment code needs the time step a code belongs to (a step is accepted once, so a
code seen over someone's shoulder cannot be replayed); these helpers give it that on top of pyotp.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pyotp
from pyotp.utils import strings_equal

DIGITS = 6
STEP_SECONDS = 30
# Codes of the previous and next step are accepted too: phone clocks drift.
WINDOW = 1


def new_secret() -> str:
    """160 random bits, base32 without padding (the form authenticator apps read)."""
    return pyotp.random_base32(length=32)


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)


def _step_at(otp: pyotp.TOTP, when: float | None) -> int:
    # An aware datetime: pyotp reads a naive one as local time.
    return otp.timecode(datetime.fromtimestamp(time.time() if when is None else when, tz=UTC))


def code_at(secret: str, when: float | None = None) -> str:
    otp = _totp(secret)
    return otp.generate_otp(_step_at(otp, when))


def matching_step(secret: str, code: str, when: float | None = None) -> int | None:
    """The time step whose code is ``code`` (within the drift window), or ``None``."""
    code = "".join(code.split())
    # ASCII only: other digit forms (Arabic-Indic, full-width) would match once normalized.
    if len(code) != DIGITS or not (code.isascii() and code.isdigit()):
        return None
    otp = _totp(secret)
    now = _step_at(otp, when)
    for step in range(now - WINDOW, now + WINDOW + 1):
        if strings_equal(otp.generate_otp(step), code):
            return step
    return None


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    return _totp(secret).provisioning_uri(name=account, issuer_name=issuer)
