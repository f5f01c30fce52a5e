"""Time-based one-time passwords as authenticator apps compute them (RFC 6238, SHA-1, 6 digits,
30-second steps), one step of clock drift either way, and codes that are not six ASCII digits
refused without an error."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from apps.security import totp

# The SHA-1 seed of RFC 6238 appendix B ("12345678901234567890") in base32.
RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


@pytest.mark.parametrize(("when", "code"), [
    (59, "287082"), (1111111109, "081804"), (1111111111, "050471"), (1234567890, "005924"),
    (2000000000, "279037"),
])
def test_codes_are_those_of_the_rfc_6238_test_vectors(when, code):
    assert totp.code_at(RFC_SECRET, when) == code


def test_a_code_of_the_previous_or_next_step_is_accepted_and_names_its_step():
    now = 1234567890
    step = now // totp.STEP_SECONDS
    for drift in (-1, 0, 1):
        code = totp.code_at(RFC_SECRET, now + drift * totp.STEP_SECONDS)
        assert totp.matching_step(RFC_SECRET, code, now) == step + drift


def test_a_code_two_steps_away_is_refused():
    now = 1234567890
    for drift in (-2, 2):
        assert totp.matching_step(RFC_SECRET, totp.code_at(RFC_SECRET, now + drift * 30), now) is None


def test_spaces_inside_a_code_are_ignored():
    code = totp.code_at(RFC_SECRET, 59)
    assert totp.matching_step(RFC_SECRET, f" {code[:3]} {code[3:]} ", 59) == 1


@pytest.mark.parametrize("code", ["", "28708", "2870820", "28708a", "٢٨٧٠٨٢", "２８７０８２", "287082" * 200])
def test_anything_but_six_ascii_digits_is_refused_without_an_error(code):
    # The Arabic-Indic and full-width forms read as 287082 once normalized; they are not codes.
    assert totp.matching_step(RFC_SECRET, code, 59) is None


def test_a_new_secret_is_160_random_bits_in_base32():
    first, second = totp.new_secret(), totp.new_secret()
    assert len(first) == 32 and set(first) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert first != second
    assert totp.matching_step(first, totp.code_at(first)) is not None


def test_the_provisioning_uri_names_issuer_account_and_secret():
    uri = totp.provisioning_uri(RFC_SECRET, account="alice@example.com", issuer="Unimanager")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert unquote(parts.path) == "/Unimanager:alice@example.com"
    query = parse_qs(parts.query)
    assert query["secret"] == [RFC_SECRET] and query["issuer"] == ["Unimanager"]
    # Absent parameters mean SHA-1, 6 digits and 30 seconds to authenticator apps.
    assert query.get("algorithm", ["SHA1"]) == ["SHA1"]
    assert query.get("digits", ["6"]) == ["6"] and query.get("period", ["30"]) == ["30"]
