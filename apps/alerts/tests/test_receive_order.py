"""An alert received from outside is notified before the alert lists and badges are told: the
announcement (whose subscribers write the audit log and recompute dashboards) waits for the first
tries the sender threads were handed, but never for long: a receiver that does not answer does not
hold it. One receive writes its history (state change and notification) in one transaction."""

from __future__ import annotations

import time

import pytest

from apps.alerts import services
from apps.alerts.models import AlertHistory, Delivery
from apps.alerts.tests.receivers import HttpReceiver

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "order-secret"


def _hooked(a, receiver, path):
    hook = services.contact_point_create(actor=a["user"], organization=a["org"], name="hook", kind="webhook",
                                         config={"url": receiver.url + path}, secrets={"secret": SECRET})
    services.route_create(actor=a["user"], organization=a["org"], name="by probe", contact_points=[hook],
                          group_by=["probe"])


def _announcements(monkeypatch) -> list[tuple[float, str, dict]]:
    told: list[tuple[float, str, dict]] = []
    announce = services.alerts_announce

    def recorded(org_id, event, **data):
        told.append((time.perf_counter(), event, data))
        announce(org_id, event, **data)

    monkeypatch.setattr(services, "alerts_announce", recorded)
    return told


def test_the_lists_are_told_of_a_received_alert_after_its_webhook_arrived(world, monkeypatch):
    # Long enough for a first send of the process (its HTTP client is built then): the order is the point.
    monkeypatch.setattr(services, "ANNOUNCE_AFTER_SENDS_SECONDS", 30)
    a = world["a"]
    receiver = HttpReceiver(secret=SECRET)
    try:
        _hooked(a, receiver, "/hook")
        told = _announcements(monkeypatch)
        services.external_alerts_receive(actor=a["user"], organization=a["org"], alerts=[
            {"labels": {"alertname": "probe", "probe": "p1", "severity": "critical"}}])
        (got,) = receiver.received  # already there when the receive returned
        assert got["signature_ok"] and got["body"]["groupLabels"] == {"probe": "p1"}
        ((at, event, data),) = told
        assert (event, data) == ("ingested", {"count": 1})
        assert at > got["at"]
    finally:
        receiver.stop()
    kinds = list(AlertHistory.objects.order_by("id").values_list("kind", "to_state"))
    assert kinds == [("state", "firing"), ("notify", "")]


def test_a_receiver_that_does_not_answer_does_not_hold_the_announcement(world, monkeypatch):
    monkeypatch.setattr(services, "ANNOUNCE_AFTER_SENDS_SECONDS", 0.05)
    a = world["a"]
    receiver = HttpReceiver(secret=SECRET, hold_first="/slow")
    try:
        _hooked(a, receiver, "/slow")
        told = _announcements(monkeypatch)
        services.external_alerts_receive(actor=a["user"], organization=a["org"], alerts=[
            {"labels": {"alertname": "probe", "probe": "p2", "severity": "critical"}}])
        assert [event for _at, event, _data in told] == ["ingested"]
        assert receiver.held.is_set() and receiver.received == []  # told while the receiver still holds the try
        assert Delivery.objects.get().status == "pending"
    finally:
        receiver.release()
        receiver.stop()
