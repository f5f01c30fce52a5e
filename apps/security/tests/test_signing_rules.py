"""The signed-request wire format, pinned independently of the code that implements it: a client written
from the documentation alone (below, with nothing from ``apps.security.signing``) is accepted, its
canonical form is the documented one byte for byte, and each malformed Authorization header is
refused with the message that names its defect."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import quote

import pytest
from rest_framework.test import APIClient

from apps.security import services, signing
from apps.security.tests.factories import person
from tests import factories as f

KEY_LIST = "/api/v1/security/access-keys/"


def _enc(value: str) -> str:
    return quote(value, safe="-_.~")


def documented_canonical(method, path, pairs, headers, body: bytes) -> tuple[str, str]:
    """The canonical request and signed-header list exactly as the module docstring describes them."""
    names = sorted(headers)
    lines = [method.upper(), path, "&".join(f"{_enc(k)}={_enc(v)}" for k, v in sorted(pairs))]
    lines += [f"{name}:{' '.join(headers[name].split())}" for name in names]
    lines += [";".join(names), hashlib.sha256(body).hexdigest()]
    return "\n".join(lines), ";".join(names)


def documented_headers(method, path, pairs, key_id, secret, *, body=b"", extra=None, now=None, nonce=None):
    date = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    nonce = nonce or uuid.uuid4().hex
    signed = {"host": "testserver", "x-um-date": date, "x-um-nonce": nonce, **(extra or {})}
    canonical, names = documented_canonical(method, path, pairs, signed, body)
    text = "\n".join(["UM-HMAC-SHA256", date, nonce, hashlib.sha256(canonical.encode()).hexdigest()])
    sig = hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()
    out = {"Host": "testserver", "X-UM-Date": date, "X-UM-Nonce": nonce,
           **{k.title(): v for k, v in (extra or {}).items()}}
    out["Authorization"] = f"UM-HMAC-SHA256 Credential={key_id}, SignedHeaders={names}, Signature={sig}"
    return out


def call(method, path, query, headers, body=b""):
    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    return APIClient().generic(method, path, body, content_type="application/json", QUERY_STRING=query, **meta)


@pytest.fixture
def pair(db):
    org = f.org("Signing rules")
    user = person(org, username="wire")
    f.grant(f.predefined("viewer"), user, org)
    return services.access_key_create(actor=user, description="wire")


def test_a_client_written_from_the_documentation_is_accepted(pair):
    key, secret = pair
    pairs = [("page_size", "5"), ("trace", "ci run~1"), ("trace", "a")]
    query = "trace=ci%20run~1&page_size=5&trace=a"
    headers = documented_headers("get", KEY_LIST, pairs, key.id, secret,
                                 extra={"x-um-trace": "  spaced   value  "})
    response = call("GET", KEY_LIST, query, headers)
    assert response.status_code == 200, response.content


def test_a_signed_body_is_accepted_and_a_changed_one_refused(pair):
    key, secret = pair
    body = b'{"description": "third"}'
    headers = documented_headers("post", KEY_LIST, [], key.id, secret, body=body)
    accepted = call("POST", KEY_LIST, "", headers, body)
    assert accepted.status_code != 401, accepted.content
    headers = documented_headers("post", KEY_LIST, [], key.id, secret, body=body)
    refused = call("POST", KEY_LIST, "", headers, body + b" ")
    assert refused.status_code == 401 and refused.json()["code"] == "signature_mismatch"


def test_a_request_signed_for_another_method_path_or_header_value_is_refused(pair):
    key, secret = pair
    for method, path, extra, sent_extra in (("post", KEY_LIST, None, None),
                                            ("get", "/api/v1/security/sessions/", None, None),
                                            ("get", KEY_LIST, {"x-um-trace": "a"}, {"X-Um-Trace": "b"})):
        headers = documented_headers(method, path, [], key.id, secret, extra=extra)
        headers.update(sent_extra or {})
        response = call("GET", KEY_LIST, "", headers)
        assert response.status_code == 401 and response.json()["code"] == "signature_mismatch", (method, path)


def test_the_canonical_request_is_the_documented_one():
    headers = {"Host": "console.example.com", "X-UM-Date": "20250102T030405Z", "X-UM-Nonce": " 3b6f  aa ",
               "X-Other": "unsigned"}
    canonical = signing.canonical_request("get", "/api/v1/a b/é", "b=3&a=1&b=2&c=&d=x%20y~&e=a/b", headers,
                                          ("host", "x-um-date", "x-um-nonce"), signing.body_digest(b"{}"))
    assert canonical == ("GET\n/api/v1/a%20b/%C3%A9\na=1&b=2&b=3&c=&d=x%20y~&e=a%2Fb\nhost:console.example.com\n"
                         "x-um-date:20250102T030405Z\nx-um-nonce:3b6f aa\nhost;x-um-date;x-um-nonce\n"
                         + hashlib.sha256(b"{}").hexdigest())
    assert signing.canonical_path("") == "/" and signing.canonical_path("/a%2Fb") == "/a/b"
    assert signing.canonical_query("") == "" and signing.canonical_query("z&y=") == "y=&z="
    assert signing.body_digest(b"") == hashlib.sha256(b"").hexdigest()
    # a signed header the request lacks signs as empty
    assert signing.canonical_request("GET", "/", "", {}, ("host",), "d").split("\n")[3] == "host:"


def test_the_string_to_sign_and_the_signature_are_the_documented_ones():
    text = signing.string_to_sign("20250102T030405Z", "n" * 16, "canonical")
    assert text == "UM-HMAC-SHA256\n20250102T030405Z\n" + "n" * 16 + "\n" + hashlib.sha256(b"canonical").hexdigest()
    assert signing.signature("s3cret", text) == hmac.new(b"s3cret", text.encode(), hashlib.sha256).hexdigest()
    assert signing.authorization_header("UMAK" + "A" * 16, ("host", "x-um-date"), "ab") == (
        "UM-HMAC-SHA256 Credential=UMAKAAAAAAAAAAAAAAAA, SignedHeaders=host;x-um-date, Signature=ab")


def test_dates_are_utc_whatever_the_servers_time_zone(monkeypatch):
    moment = datetime(2025, 1, 2, 4, 4, 5, tzinfo=UTC)
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    try:
        assert signing.format_date(moment) == "20250102T040405Z"
        assert signing.format_date(moment.astimezone(timezone(timedelta(hours=-5)))) == "20250102T040405Z"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_dates_are_utc_in_the_documented_form():
    moment = datetime(2025, 1, 2, 4, 4, 5, tzinfo=UTC)
    assert signing.format_date(moment.astimezone(timezone(timedelta(hours=8)))) == "20250102T040405Z"
    assert signing.parse_date("20250102T030405Z") == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    for bad in ("2025-01-02T03:04:05Z", "", None):
        with pytest.raises(signing.SignatureFormatError) as refused:
            signing.parse_date(bad)
        assert str(refused.value) == "x-um-date must be a UTC time like 20250102T030405Z."


GOOD_ID, GOOD_SIG = "UMAK" + "B" * 20, "a" * 64


def header(credential=GOOD_ID, names="host;x-um-date;x-um-nonce", sig=GOOD_SIG):
    return f"UM-HMAC-SHA256 Credential={credential}, SignedHeaders={names}, Signature={sig}"


@pytest.mark.parametrize(("value", "message"), [
    ("x" * 2049, "The Authorization header is too long."),
    (None, "The Authorization header is too long."),
    ("UM-HMAC-SHA1 Credential=a", "The Authorization scheme must be UM-HMAC-SHA256."),
    ("UM-HMAC-SHA256 Credential", "Expected Credential=..., SignedHeaders=..., Signature=... once each."),
    ("UM-HMAC-SHA256 Region=x", "Expected Credential=..., SignedHeaders=..., Signature=... once each."),
    (header() + f", Credential={GOOD_ID}", "Expected Credential=..., SignedHeaders=..., Signature=... once each."),
    (f"UM-HMAC-SHA256 Credential={GOOD_ID}, Signature={GOOD_SIG}",
     "Credential, SignedHeaders and Signature are all required."),
    (header(credential="short"), "Credential must be an AccessKey id."),
    (header(credential="UMAK" + "B" * 61), "Credential must be an AccessKey id."),
    (header(names="host;X-UM-DATE;x-um-nonce"), "SignedHeaders must be lower-case header names separated by ';'."),
    (header(names="host;;x-um-nonce"), "SignedHeaders must be lower-case header names separated by ';'."),
    (header(names=";".join(sorted(["host", "x-um-date", "x-um-nonce", *(f"x-h{i:02d}" for i in range(18))]))),
     "SignedHeaders must be lower-case header names separated by ';'."),
    (header(names="x-um-date;host;x-um-nonce"), "SignedHeaders must be sorted and listed once each."),
    (header(names="host;host;x-um-date;x-um-nonce"), "SignedHeaders must be sorted and listed once each."),
    (header(names="host;x-um-nonce"), "SignedHeaders must include x-um-date."),
    (header(names="x-um-other"), "SignedHeaders must include host, x-um-date, x-um-nonce."),
    (header(sig="A" * 64), "Signature must be 64 lower-case hex digits."),
    (header(sig="a" * 63), "Signature must be 64 lower-case hex digits."),
])
def test_each_defect_of_the_authorization_header_is_named(value, message):
    with pytest.raises(signing.SignatureFormatError) as refused:
        signing.parse_authorization(value)
    assert str(refused.value) == message


def test_a_header_of_exactly_the_longest_length_is_read():
    longest = header().ljust(signing.MAX_AUTHORIZATION_LENGTH)
    assert len(longest) == 2048
    assert signing.parse_authorization(longest).signature == GOOD_SIG
    with pytest.raises(signing.SignatureFormatError, match="too long"):
        signing.parse_authorization(longest + " ")


def test_a_value_holding_an_equals_sign_is_judged_as_that_fields_value():
    with pytest.raises(signing.SignatureFormatError) as refused:
        signing.parse_authorization(header(sig="a" * 62 + "=="))
    assert str(refused.value) == "Signature must be 64 lower-case hex digits."
    with pytest.raises(signing.SignatureFormatError) as refused:
        signing.parse_authorization(header(credential="UMAK" + "B" * 16 + "=x"))
    assert str(refused.value) == "Credential must be an AccessKey id."


def test_a_well_formed_header_is_read_field_by_field():
    names = ";".join(sorted(["host", "x-um-date", "x-um-nonce", *(f"x-h{i:02d}" for i in range(17))]))
    parsed = signing.parse_authorization("  " + header(credential="UMAK" + "C" * 60, names=names).replace(", ", " ,  ")
                                         + "  ")
    assert parsed == signing.Authorization("UMAK" + "C" * 60, tuple(names.split(";")), GOOD_SIG)
    assert signing.parse_authorization(header(credential="Ab3" + "x" * 13)).access_key_id == "Ab3" + "x" * 13


@pytest.mark.django_db
def test_a_malformed_header_is_answered_with_its_defect_through_the_api():
    response = APIClient().get(KEY_LIST, HTTP_AUTHORIZATION=header(names="x-um-date;host;x-um-nonce"))
    assert response.status_code == 401
    assert response.json() == {"code": "signature_malformed",
                               "message": "SignedHeaders must be sorted and listed once each.", "detail": {}}
