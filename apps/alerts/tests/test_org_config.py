"""The notification settings an organization's dispatch reads (routes with their contact points,
templates, silences) are kept by each process and read again after any of them changed: a second
received alert reads none of them, a new silence mutes the very next alert, a new route is used
at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.alerts import services
from apps.alerts.models import Delivery
from apps.alerts.tests.conftest import senders_idle
from apps.alerts.tests.receivers import HttpReceiver

pytestmark = pytest.mark.django_db(transaction=True)
SETTINGS_TABLES = ("alerts_notificationroute", "alerts_contactpoint", "alerts_messagetemplate", "alerts_silence")


def _receive(a, probe: str) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        services.external_alerts_receive(actor=a["user"], organization=a["org"], alerts=[
            {"labels": {"alertname": "probe", "probe": probe, "severity": "critical"}}])
    # The first try's outcome is written by a sender thread: on the tests' in-memory database a write beside
    # it (the next receive's) would fail at once ("table is locked").
    assert senders_idle()
    return [q["sql"] for q in queries.captured_queries]


def _reads_settings(statements: list[str]) -> bool:
    return any(s.startswith("SELECT") and any(f'FROM "{t}"' in s for t in SETTINGS_TABLES) for s in statements)


def test_settings_are_kept_and_read_again_after_a_silence_or_route_changed(world):
    a = world["a"]
    receiver = HttpReceiver(secret="s")
    try:
        hook = services.contact_point_create(actor=a["user"], organization=a["org"], name="hook", kind="webhook",
                                             config={"url": receiver.url + "/hook"}, secrets={"secret": "s"})
        services.route_create(actor=a["user"], organization=a["org"], name="by probe", contact_points=[hook],
                              matchers=[{"name": "alertname", "op": "=", "value": "probe"}], group_by=["probe"])
        _receive(a, "p0")
        assert not _reads_settings(_receive(a, "p1"))  # kept
        services.silence_create(actor=a["user"], organization=a["org"], starts_at=None,
                                ends_at=timezone.now() + timedelta(hours=1),
                                matchers=[{"name": "probe", "op": "=", "value": "p2"}])
        assert _reads_settings(_receive(a, "p2"))  # read again: the new silence mutes p2
        assert not Delivery.objects.filter(payload__groupLabels__probe="p2").exists()
        other = services.contact_point_create(actor=a["user"], organization=a["org"], name="other", kind="webhook",
                                              config={"url": receiver.url + "/other"}, secrets={"secret": "s"})
        services.route_create(actor=a["user"], organization=a["org"], name="first", contact_points=[other],
                              matchers=[{"name": "probe", "op": "=", "value": "p3"}], group_by=["probe"], priority=1)
        assert _reads_settings(_receive(a, "p3"))
        assert receiver.wait_for(lambda rs: any(x["path"] == "/other" and x["body"]["groupLabels"].get("probe") == "p3"
                                                for x in rs), 10)
        assert receiver.wait_for(lambda rs: {x["body"]["groupLabels"].get("probe") for x in rs
                                             if x["path"] == "/hook"} >= {"p0", "p1"}, 10)
    finally:
        receiver.stop()
    assert Delivery.objects.filter(payload__groupLabels__probe="p3", contact_point=other).count() == 1
