"""Alerts received from outside, on PostgreSQL: a signed request costs a fixed number of round trips to
the database until the commit that hands its notification over (the alert's insert and read, its
group's members and the group read in one; the group, the notification and the history written in
another; the version of the organization's notification settings read with the first), and the
ingestion tests of the fast tier (the lane, the order of sends and announcements, the kept
notification settings) run again here, where several statements go in one query string."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.alerts import services
from apps.alerts.models import Alert, AlertGroup, AlertHistory, Delivery
from apps.alerts.tests.conftest import fresh_cache, world  # noqa: F401 - fixtures
from apps.alerts.tests.receivers import HttpReceiver
from apps.alerts.tests.test_lane import *  # noqa: F403 - the lane's tests, run here on PostgreSQL
from apps.alerts.tests.test_lane import _firing, _signed
from apps.alerts.tests.test_org_config import *  # noqa: F403 - run here on PostgreSQL
from apps.alerts.tests.test_receive_order import *  # noqa: F403 - run here on PostgreSQL
from apps.security.services import access_key_create
from tests.fixtures import fast_passwords, rbac_scoping  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)
PATH = "/api/v1/alerts/ingest/v2/alerts"


def _round_trips_to_commit(queries: list[dict]) -> list[str]:
    sql = [q["sql"] for q in queries]
    upto = next((n for n, s in enumerate(sql) if s.upper().startswith("COMMIT")), len(sql))
    return sql[:upto + 1]


def test_one_signed_ingestion_costs_four_round_trips_until_its_commit_on_postgresql(world):  # noqa: F811
    """BEGIN, the nonce (with the key's check) and the alert's insert and read with its group's members and
    group, the writes, COMMIT (the key and its organization are read once, then held by the process for a
    few seconds); the same for a second alert of another group and for an alert sent again, and every
    row written. On the wire the BEGIN goes with the first string and the COMMIT with the second."""
    assert connection.vendor == "postgresql"
    a = world["a"]
    key, secret = access_key_create(actor=a["user"])
    receiver = HttpReceiver(secret="s")
    client = Client()
    try:
        hook = services.contact_point_create(actor=a["user"], organization=a["org"], name="hook", kind="webhook",
                                             config={"url": receiver.url + "/hook"}, secrets={"secret": "s"})
        services.route_create(actor=a["user"], organization=a["org"], name="by probe", contact_points=[hook],
                              group_by=["probe"], group_wait_seconds=0)
        counts = []
        for name in ("warm-up", "p1", "p2", "p2"):
            raw, headers = _signed(key, secret, _firing(name))
            meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k != "Content-Type"}
            with CaptureQueriesContext(connection) as queries:
                answer = client.generic("POST", PATH, raw, content_type="application/json", **meta)
            assert answer.status_code == 200, answer.content
            trips = _round_trips_to_commit(queries.captured_queries)
            counts.append(len(trips))
            if name != "warm-up":  # the held key's nonce: first in the transaction's first string (prepared)
                first = trips[1].split("; ", 2)
                assert trips[0] == "BEGIN" and first[0] == "BEGIN" and key.id in first[1], trips
                assert headers["X-UM-Nonce"] in first[1], trips
                assert not any(headers["X-UM-Nonce"] in sql for sql in trips[2:]), trips
            assert receiver.wait_for(lambda rs, name=name: any(x["body"]["groupLabels"].get("probe") == name
                                                               for x in rs), 10)
    finally:
        receiver.stop()
    counts = counts[1:]  # the first request of the process may read the organization's settings
    assert counts[:2] == [4, 4], counts
    assert counts[2] <= 4, counts
    assert Alert.objects.filter(organization=a["org"]).count() == 3
    assert AlertGroup.objects.filter(organization=a["org"]).count() == 3
    assert Delivery.objects.filter(organization=a["org"]).count() == 3
    assert AlertHistory.objects.filter(alert__organization=a["org"], kind="notify").count() == 3
    assert AlertHistory.objects.filter(alert__organization=a["org"], kind="state").count() == 3


def test_one_received_alert_is_two_statements_between_begin_and_commit_on_postgresql(world):  # noqa: F811
    assert connection.vendor == "postgresql"
    a = world["a"]
    receiver = HttpReceiver(secret="s")
    try:
        hook = services.contact_point_create(actor=a["user"], organization=a["org"], name="hook", kind="webhook",
                                             config={"url": receiver.url + "/hook"}, secrets={"secret": "s"})
        services.route_create(actor=a["user"], organization=a["org"], name="by probe", contact_points=[hook],
                              group_by=["probe"], group_wait_seconds=0, group_interval_seconds=0)
        services.external_alerts_receive(actor=a["user"], organization=a["org"], alerts=_firing("warm-up"))
        with CaptureQueriesContext(connection) as queries:
            services.external_alerts_receive(actor=a["user"], organization=a["org"], alerts=_firing("p1"))
        trips = _round_trips_to_commit(queries.captured_queries)
        # Django's log names the transaction's BEGIN and COMMIT; on the wire the first string carries the BEGIN and
        # the second the COMMIT (test_alerts_commit_with_writes counts what is sent). The statements the warm-up
        # sent are prepared by now: each string executes them by name.
        assert len(trips) == 4 and trips[0] == "BEGIN" and trips[-1] == "COMMIT", trips
        assert trips[1].startswith("BEGIN; EXECUTE um_alerts_") and trips[2].startswith("EXECUTE um_alerts_"), trips
        assert trips[2].endswith("; COMMIT"), trips
        # Resolved from outside: its group is told, through the same path.
        services.external_alerts_receive(actor=a["user"], organization=a["org"], alerts=[
            {**_firing("p1")[0], "status": "resolved"}])
        assert receiver.wait_for(lambda rs: any(x["body"]["groupLabels"].get("probe") == "p1"
                                                and x["body"]["status"] == "resolved" for x in rs), 10)
    finally:
        receiver.stop()
    assert json.dumps(sorted(Alert.objects.filter(organization=a["org"]).values_list("state", flat=True))) == (
        '["firing", "resolved"]')


def test_copies_of_one_signed_ingestion_sent_at_once_are_accepted_once_on_postgresql(world):  # noqa: F811
    """Eight copies of one request, its key held by the process: each records the nonce in its own
    transaction, the first to commit wins, the others wait for it, insert nothing and roll back."""
    import threading

    from django.db import connections

    from apps.security import authentication

    a = world["a"]
    authentication._keys.clear()
    key, secret = access_key_create(actor=a["user"])
    raw, headers = _signed(key, secret, _firing("warm-up"))
    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k != "Content-Type"}
    assert Client().generic("POST", PATH, raw, content_type="application/json", **meta).status_code == 200
    assert key.id in authentication._keys
    raw, headers = _signed(key, secret, _firing("raced"))
    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k != "Content-Type"}
    start, answers = threading.Barrier(8), []

    def send() -> None:
        try:
            start.wait()
            answer = Client().generic("POST", PATH, raw, content_type="application/json", **meta)
            answers.append((answer.status_code, answer.json().get("code")))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers, key=str) == [(200, None)] + [(401, "nonce_reused")] * 7, answers
    assert Alert.objects.filter(organization=a["org"], labels__probe="raced").count() == 1
    assert AlertHistory.objects.filter(alert__labels__probe="raced").count() == 1
