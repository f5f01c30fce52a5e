"""A signed ingestion request answered below Django's handler (``IngestionLane``'s shorter
middleware chain straight to the view) gets exactly the answer of the whole stack: each kind of
request is sent to a lane that takes the short way and to one that takes Django's whole handler, and
the status, body, headers and audit entry must be the same. The same tests run on PostgreSQL in
``tests/integration/test_alerts_lane_direct_postgres.py``."""

from __future__ import annotations

import asyncio
import json

import pytest
from django.core.asgi import get_asgi_application

from apps.alerts.api import lane as lane_module
from apps.alerts.api.lane import IngestionLane
from apps.alerts.models import Alert
from apps.alerts.tests.test_lane import PATH, _firing
from apps.security.client import sign
from apps.security.models import AuditEntry
from apps.security.services import access_key_create, access_key_set_active
from tests import factories as f
from tests.fixtures import run_coroutine

pytestmark = pytest.mark.django_db(transaction=True)
WEBHOOK = "/api/v1/alerts/ingest/webhook"
REQUEST_ID = "lane-direct-probe"


class _Lanes:
    """Two lanes over the whole Django application: ``short`` answers signed ingestions through the
    shorter chain (counted), ``whole`` through Django's whole handler."""

    def __init__(self):
        app = get_asgi_application()
        self.short = IngestionLane(app, threads=1)
        self.whole = IngestionLane(app, threads=1, direct=False)
        assert self.short._signed_handler is not None and self.whole._signed_handler is None
        self.short_taken = 0
        get_response = self.short._signed_handler.get_response

        def counted(request):
            self.short_taken += 1
            return get_response(request)

        self.short._signed_handler.get_response = counted

    def both(self, path: str, make, method: str = "POST") -> tuple[int, dict, dict[str, str], tuple | None]:
        """``make()`` gives a (body, headers) pair; each lane gets its own (its own nonce). The answers
        must be equal; returns the short lane's status, body, headers and audit entry."""
        answers = []
        for lane in (self.short, self.whole):
            body, headers = make()
            answers.append(_answer(lane, path, body, headers, method))
        assert answers[0] == answers[1], answers
        return answers[0]


def _answer(lane, path: str, body: bytes, headers: dict[str, str], method: str) -> tuple:
    """Status, JSON body, headers and the audit entry the request left (action, result, detail)."""
    last = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
    sent: list[dict] = []
    status, raw = _call_headers(lane, path, body, {**headers, "X-Request-ID": REQUEST_ID}, method, sent)
    start = next(m for m in sent if m["type"] == "http.response.start")
    response_headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    entries = list(AuditEntry.objects.filter(id__gt=last).order_by("id").values_list("action", "result", "detail"))
    return status, json.loads(raw) if raw else None, response_headers, entries


def _call_headers(lane, path, body, headers, method, sent, query: str = "") -> tuple[int, bytes]:
    """One request to the lane as daphne gives it: its messages sent are kept in ``sent``. The client
    stays connected until the answer is complete (Django's handler stops serving a disconnected one)."""
    path, _, query = path.partition("?")
    headers = {"Host": "testserver", "Content-Length": str(len(body)),
               **{k: v for k, v in headers.items() if k.lower() != "host"}}
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
             "client": ("127.0.0.1", 40000), "server": ("testserver", 80)}

    async def run() -> None:
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        done = asyncio.Event()

        async def receive():
            if messages:
                return messages.pop(0)
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                done.set()

        await lane(scope, receive, send)

    run_coroutine(run())
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def _signer(key, secret, path: str = PATH):
    def signed(payload, *, method: str = "POST", content_type: str = "application/json", raw: bytes | None = None,
               tamper: bool = False):
        def make():
            body = raw if raw is not None else json.dumps(payload).encode()
            headers = {"Content-Type": content_type}
            headers.update(sign(method, "http://testserver" + path, access_key_id=key.id, secret=secret, body=body,
                                headers=headers))
            if tamper:
                headers["Authorization"] = headers["Authorization"][:-4] + (
                    "0000" if not headers["Authorization"].endswith("0000") else "1111")
            return body, headers
        return make
    return signed


@pytest.fixture
def lanes(world):
    return _Lanes()


def _code(answer) -> str:
    return answer[1]["code"]


def test_a_signed_alert_is_answered_the_short_way_with_the_same_answer_headers_and_audit(world, lanes):
    a = world["a"]
    key, secret = access_key_create(actor=a["user"])
    signed = _signer(key, secret)
    names = iter(["one", "two"])
    status, body, headers, audit = lanes.both(PATH, lambda: signed(_firing(next(names)))())
    assert status == 200 and body == {"received": 1, "firing": 1, "resolved": 0}
    assert headers["x-request-id"] == REQUEST_ID
    assert headers["content-type"] == "application/json"
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
    assert audit == [("alerts.ingested", "success", {"count": 1})]
    assert lanes.short_taken == 1
    assert Alert.objects.filter(organization=a["org"], state="firing").count() == 2


def test_the_webhook_body_is_answered_the_short_way_too(world, lanes):
    key, secret = access_key_create(actor=world["a"]["user"])
    signed = _signer(key, secret, WEBHOOK)
    names = iter(["w1", "w2"])
    answer = lanes.both(WEBHOOK, lambda: signed({"version": "4", "alerts": _firing(next(names))})())
    assert answer[0] == 200
    assert _code(lanes.both(WEBHOOK, signed(["not", "an", "object"]))) == "invalid"
    assert lanes.short_taken == 2


def test_a_wrong_signature_a_replayed_nonce_and_a_disabled_key_are_refused_alike(world, lanes):
    a = world["a"]
    key, secret = access_key_create(actor=a["user"])
    signed = _signer(key, secret)
    wrong = lanes.both(PATH, signed(_firing("x"), tamper=True))
    assert wrong[0] == 401 and _code(wrong) == "signature_mismatch"
    assert wrong[2]["www-authenticate"].startswith("UM-HMAC-SHA256")
    assert wrong[3][-1][:2] == ("access.denied", "denied")

    replayed = []
    for lane in (lanes.short, lanes.whole):
        body, headers = signed(_firing(f"replay-{len(replayed)}"))()
        assert _answer(lane, PATH, body, headers, "POST")[0] == 200
        replayed.append(_answer(lane, PATH, body, headers, "POST"))
    assert replayed[0] == replayed[1] and replayed[0][0] == 401 and _code(replayed[0]) == "nonce_reused"

    access_key_set_active(actor=a["user"], key=key, active=False)
    disabled = lanes.both(PATH, signed(_firing("off")))
    assert disabled[0] == 401 and _code(disabled) == "access_key_disabled"
    assert lanes.short_taken == 4
    assert not Alert.objects.filter(labels__probe__in=["x", "off"]).exists()


def test_another_organizations_scope_and_a_key_without_the_permission_are_refused_alike(world, lanes):
    a, b = world["a"], world["b"]
    key, secret = access_key_create(actor=a["user"])
    theirs = f"{PATH}?organization={b['org'].pk}"
    other = lanes.both(theirs, _signer(key, secret, theirs)(_firing("theirs")))
    # The organization named is not one the key's owner may see: the same answer as a missing one.
    assert other[0] == 400 and other[1]["detail"] == {"organization": ["Not found."]}
    reader = f.user("reader-a", a["org"])
    f.grant(f.role("alerts:alert:read"), reader, a["org"])
    weak, weak_secret = access_key_create(actor=reader)
    refused = lanes.both(PATH, _signer(weak, weak_secret)(_firing("weak")))
    assert refused[0] == 403 and _code(refused) == "forbidden"
    assert lanes.short_taken == 2
    assert not Alert.objects.exists()


def test_invalid_and_malformed_bodies_are_400_alike_and_write_no_alert(world, lanes):
    key, secret = access_key_create(actor=world["a"]["user"])
    signed = _signer(key, secret)
    invalid = lanes.both(PATH, signed([{"labels": {}}]))
    assert invalid[0] == 400 and "alerts[0].labels" in invalid[1]["detail"]
    assert invalid[3][-1][:2] == ("request.failed", "failure")
    malformed = lanes.both(PATH, signed(None, raw=b"[{"))
    assert malformed[0] == 400 and _code(malformed) == "parse_error"
    not_json = lanes.both(PATH, signed(None, raw=b"a=b", content_type="application/x-www-form-urlencoded"))
    assert not_json[0] == 415
    assert lanes.short_taken == 3
    assert not Alert.objects.exists()


def test_a_body_over_the_size_limit_is_refused_alike(world, lanes, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_000
    key, secret = access_key_create(actor=world["a"]["user"])
    big = [{"labels": {"alertname": "big", "n": str(n), "pad": "x" * 50}} for n in range(40)]
    answer = lanes.both(PATH, _signer(key, secret)(big))
    assert answer[0] in (400, 413) and answer[1]["code"]
    assert not Alert.objects.exists()


def test_another_method_and_an_unsigned_request_take_the_whole_stack(world, lanes):
    key, secret = access_key_create(actor=world["a"]["user"])
    put = lanes.both(PATH, _signer(key, secret)(_firing("put"), method="PUT"), method="PUT")
    assert put[0] == 405 and _code(put) == "method_not_allowed"
    unsigned = lanes.both(PATH, lambda: (json.dumps(_firing("anon")).encode(), {"Content-Type": "application/json"}))
    assert unsigned[0] == 401 and _code(unsigned) == "not_authenticated"
    assert lanes.short_taken == 0


def test_every_middleware_not_skipped_wraps_the_short_way_in_the_projects_order(settings):
    kept = [name for name in settings.MIDDLEWARE if name not in lane_module.SKIPPED_MIDDLEWARE]
    assert {"apps.security.middleware.AuditMiddleware", "apps.core.middleware.RequestContextMiddleware"} <= set(kept)
    lane = IngestionLane(None)
    chain, seen = lane._signed_handler._middleware_chain, []
    while chain is not None:  # convert_exception_to_response(middleware(inner)) down to the view
        inner = getattr(chain, "__wrapped__", chain)
        if inner.__class__.__module__ + "." + inner.__class__.__qualname__ in kept:
            seen.append(inner.__class__.__module__ + "." + inner.__class__.__qualname__)
        chain = getattr(inner, "get_response", None)
    assert seen == kept
