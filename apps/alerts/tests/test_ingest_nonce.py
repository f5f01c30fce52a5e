"""A signed ingestion whose key the process holds records its nonce in the ingestion's own transaction
(``authentication.NonceClaim``): first in it, so a refused nonce writes nothing, and never left out, so
no answer goes out for a nonce that was not recorded, whatever the ingestion did. (The race of two
copies of one request is run on PostgreSQL: tests/integration/test_alerts_ingest_round_trips.py.)"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient, APIRequestFactory

from apps.alerts import services
from apps.alerts.api.views import IngestAlertsView
from apps.alerts.models import Alert, Delivery
from apps.core.errors import Conflict
from apps.security import authentication
from apps.security.client import sign
from apps.security.models import AccessKey, AuditEntry, UsedNonce
from apps.security.services import access_key_create

# Committed for real: the ingestion's transaction is its own, as it is when served.
pytestmark = pytest.mark.django_db(transaction=True)
PATH = "/api/v1/alerts/ingest/v2/alerts"


def _request(key, secret: str, alerts) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(alerts).encode()
    headers = sign("POST", "http://testserver" + PATH, access_key_id=key.id, secret=secret, body=raw,
                   headers={"Content-Type": "application/json"})
    return raw, {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}


def _send(raw: bytes, meta: dict[str, str], **client):
    return APIClient(**client).generic("POST", PATH, raw, content_type="application/json", **meta)


def _firing(name: str) -> list[dict]:
    return [{"labels": {"alertname": name, "severity": "critical"}}]


@pytest.fixture
def held(world):
    """A key this process holds (its first request was checked against the database)."""
    authentication._keys.clear()
    key, secret = access_key_create(actor=world["a"]["user"])
    assert _send(*_request(key, secret, _firing("First"))).status_code == 200
    assert key.id in authentication._keys
    return key, secret


def _nonce(meta: dict[str, str]) -> str:
    return meta["HTTP_X_UM_NONCE"]


def test_a_held_keys_nonce_goes_first_in_the_ingestions_transaction_and_a_replay_is_refused(world, held):
    key, secret = held
    raw, meta = _request(key, secret, _firing("Second"))
    with CaptureQueriesContext(connection) as queries:
        answer = _send(raw, meta)
    assert answer.status_code == 200, answer.content
    sql = [q["sql"] for q in queries.captured_queries]
    first = next(n for n, s in enumerate(sql) if "security_usednonce" in s)
    assert sql[first].startswith("INSERT") and "ON CONFLICT" in sql[first]
    # Nothing written before it: the insert is the ingestion's first statement, in its transaction.
    assert not any(s.startswith(("INSERT", "UPDATE", "DELETE")) for s in sql[:first])
    assert sql[first + 1].startswith("INSERT") and "alerts_alert" in sql[first + 1]
    assert sum("security_usednonce" in s for s in sql) == 1
    assert UsedNonce.objects.filter(access_key=key, nonce=_nonce(meta)).count() == 1

    replay = _send(raw, meta)
    assert replay.status_code == 401 and replay.json()["code"] == "nonce_reused", replay.content
    assert replay["WWW-Authenticate"].startswith("UM-HMAC-SHA256")
    assert sorted(Alert.objects.values_list("name", flat=True)) == ["First", "Second"]
    assert Delivery.objects.count() == 0  # the world has no route: nothing to send either way
    # Logged as a refused signature is: no person, no key.
    entry = AuditEntry.objects.filter(action="access.denied").latest("id")
    assert entry.detail["code"] == "nonce_reused" and entry.actor_name == "" and "access_key" not in entry.detail


def test_a_nonce_used_by_another_process_meanwhile_refuses_the_ingestion_and_writes_nothing(world, held):
    key, secret = held
    raw, meta = _request(key, secret, _firing("Raced"))
    # Another copy of this request was accepted by another process first: its row is committed.
    UsedNonce.objects.create(access_key=key, nonce=_nonce(meta), expires_at=timezone.now() + timedelta(minutes=16))
    with CaptureQueriesContext(connection) as queries:
        refused = _send(raw, meta)
    assert refused.status_code == 401 and refused.json()["code"] == "nonce_reused", refused.content
    # This copy's transaction went as far as its writes, and rolled them back.
    assert any(q["sql"].startswith("INSERT") and "alerts_alert" in q["sql"] for q in queries.captured_queries)
    assert not Alert.objects.filter(name="Raced").exists()
    assert key.id not in authentication._keys  # dropped: the next request is checked against the database
    assert _send(*_request(key, secret, _firing("Next"))).status_code == 200


def test_a_held_key_disabled_meanwhile_ingests_nothing_and_keeps_its_code(world, held):
    key, secret = held
    AccessKey.objects.filter(pk=key.pk).update(status=AccessKey.Status.DISABLED)  # by another process
    assert key.id in authentication._keys
    answer = _send(*_request(key, secret, _firing("Late")))
    assert answer.status_code == 401 and answer.json()["code"] == "access_key_disabled", answer.content
    assert not Alert.objects.filter(name="Late").exists()
    assert key.id not in authentication._keys


def test_a_held_keys_owner_disabled_meanwhile_ingests_nothing(world, held):
    key, secret = held
    type(world["a"]["user"]).objects.filter(pk=world["a"]["user"].pk).update(is_active=False)
    answer = _send(*_request(key, secret, _firing("Late")))
    assert answer.status_code == 401 and answer.json()["code"] == "access_key_disabled", answer.content
    assert not Alert.objects.filter(name="Late").exists()


def test_a_refused_body_still_uses_its_nonce(world, held):
    key, secret = held
    raw, meta = _request(key, secret, [{"labels": {}}])
    answer = _send(raw, meta)
    assert answer.status_code == 400 and "alerts[0].labels" in answer.json()["detail"], answer.content
    assert UsedNonce.objects.filter(access_key=key, nonce=_nonce(meta)).exists()
    assert _send(raw, meta).json()["code"] == "nonce_reused"


def test_an_ingestion_rolled_back_after_its_nonce_still_uses_it(world, held, monkeypatch):
    """The nonce's row went with the rolled-back writes: it is recorded again before the answer leaves."""
    from apps.alerts import notify

    key, secret = held

    def refused_late(**kwargs):
        raise Conflict("Refused after the alerts were written.")

    monkeypatch.setattr(notify, "notifications_dispatch", refused_late)
    raw, meta = _request(key, secret, _firing("Undone"))
    with CaptureQueriesContext(connection) as queries:
        answer = _send(raw, meta)
    assert answer.status_code == 409, answer.content
    nonce_inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("INSERT")
                     and "security_usednonce" in q["sql"]]
    assert len(nonce_inserts) == 2  # in the transaction, then again once it had rolled back
    assert not Alert.objects.filter(name="Undone").exists()
    assert UsedNonce.objects.filter(access_key=key, nonce=_nonce(meta)).exists()
    monkeypatch.undo()
    assert _send(raw, meta).json()["code"] == "nonce_reused"
    assert not Alert.objects.filter(name="Undone").exists()


def test_a_failure_the_api_does_not_answer_still_uses_the_nonce(world, held, monkeypatch):
    key, secret = held

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(services, "external_alerts_receive", broken)
    raw, meta = _request(key, secret, _firing("Broken"))
    # The view itself, below the handler that would answer 500 (a status the API does not document).
    request = APIRequestFactory().generic("POST", PATH, raw, content_type="application/json", **meta)
    with pytest.raises(RuntimeError):
        IngestAlertsView.as_view()(request)
    assert UsedNonce.objects.filter(access_key=key, nonce=_nonce(meta)).exists()


def test_inside_a_callers_transaction_the_nonce_is_recorded_before_the_writes(world, held):
    """A caller's transaction (none when served: requests are not wrapped in one) holds the nonce with
    the writes; a refused nonce writes nothing, and a savepoint rolled back takes it along."""
    from django.db import transaction

    from apps.security.authentication import NonceClaim

    key, secret = held
    moment = timezone.now()
    with transaction.atomic():
        claim = NonceClaim(key, "n" * 20, moment + timedelta(minutes=16), moment)
        services.external_alerts_receive(actor=world["a"]["user"], organization=world["a"]["org"],
                                         alerts=_firing("Nested"), nonce=claim)
        assert claim.state == NonceClaim.CALLERS
        again = NonceClaim(key, "n" * 20, moment + timedelta(minutes=16), moment)
        with pytest.raises(authentication.SignatureRefused):
            services.external_alerts_receive(actor=world["a"]["user"], organization=world["a"]["org"],
                                             alerts=_firing("Twice"), nonce=again)
        lost = NonceClaim(key, "l" * 20, moment + timedelta(minutes=16), moment)
        try:
            with transaction.atomic():
                services.external_alerts_receive(actor=world["a"]["user"], organization=world["a"]["org"],
                                                 alerts=_firing("Lost"), nonce=lost)
                raise Conflict("rolled back")
        except Conflict:
            pass
        assert not UsedNonce.objects.filter(nonce="l" * 20).exists()
        lost.settle()  # its row went with the savepoint: recorded again
        claim.settle()
    assert set(UsedNonce.objects.filter(access_key=key, nonce__in=["n" * 20, "l" * 20]).values_list(
        "nonce", flat=True)) == {"n" * 20, "l" * 20}
    assert sorted(Alert.objects.filter(name__in=["Nested", "Twice", "Lost"]).values_list("name", flat=True)) == [
        "Nested"]


def test_a_held_key_not_used_for_a_minute_is_marked_used_once_its_nonce_is_recorded(world, held):
    key, secret = held
    AccessKey.objects.filter(pk=key.pk).update(last_used_at=None)
    authentication._keys[key.pk][1].last_used_at = None
    assert _send(*_request(key, secret, _firing("Touch"))).status_code == 200
    assert AccessKey.objects.get(pk=key.pk).last_used_at is not None


def test_other_views_record_a_held_keys_nonce_before_they_run(world, held):
    key, secret = held
    raw = b""
    headers = sign("GET", "http://testserver/api/v1/alerts/alerts/", access_key_id=key.id, secret=secret, body=raw)
    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    assert APIClient().generic("GET", "/api/v1/alerts/alerts/", raw, **meta).status_code == 200
    assert UsedNonce.objects.filter(access_key=key, nonce=headers["X-UM-Nonce"]).exists()
    again = APIClient().generic("GET", "/api/v1/alerts/alerts/", raw, **meta)
    assert again.status_code == 401 and again.json()["code"] == "nonce_reused"


def test_the_ingestion_lane_records_a_held_keys_nonce_in_the_transaction_too(world, monkeypatch):
    """The lane's short way serves signed requests below Django's handler, on threads of its own: the same
    view, so the same claim."""
    from apps.alerts.api.lane import IngestionLane
    from apps.alerts.tests.test_lane import _call, _Inner, _signed

    authentication._keys.clear()
    key, secret = access_key_create(actor=world["a"]["user"])
    lane = IngestionLane(_Inner())
    inserted: list[bool] = []
    recorded = authentication.NonceClaim.recorded

    def watched(self, rows):
        inserted.append(bool(rows))
        return recorded(self, rows)

    monkeypatch.setattr(authentication.NonceClaim, "recorded", watched)
    assert _call(lane, PATH, *_signed(key, secret, _firing("Checked")))[0] == 200  # checked, then held
    assert inserted == []
    raw, headers = _signed(key, secret, _firing("Held"))
    assert _call(lane, PATH, raw, headers)[0] == 200
    assert inserted == [True]
    status, body = _call(lane, PATH, raw, headers)
    assert status == 401 and json.loads(body)["code"] == "nonce_reused"
    assert inserted == [True, False]
    assert sorted(Alert.objects.values_list("name", flat=True)) == ["Checked", "Held"]
