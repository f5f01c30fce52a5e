"""An alert received from outside is notified before the alert lists and badges are told: the
announcement (its streams' frames, each carrying that stream's new badge counts, and its subscribers
in other apps, which write the audit log and recompute dashboards) waits until the first tries the
sender threads were handed are written to their receivers (not for their answers), but never for
long: a receiver that does not read does not hold it.
One receive writes its history (state change and notification) in one transaction."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.alerts import channels, services
from apps.alerts.models import AlertHistory, Delivery, Silence
from apps.alerts.tests.conftest import senders_idle
from apps.alerts.tests.factories import alert
from apps.alerts.tests.receivers import HttpReceiver
from apps.core import events
from apps.core.consumers import fanout

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "order-secret"


def _hooked(a, receiver, path):
    hook = services.contact_point_create(actor=a["user"], organization=a["org"], name="hook", kind="webhook",
                                         config={"url": receiver.url + path}, secrets={"secret": SECRET})
    services.route_create(actor=a["user"], organization=a["org"], name="by probe", contact_points=[hook],
                          group_by=["probe"])


@pytest.fixture
def hooked(world):
    """Organization A, notifying an HTTP receiver's ``/hook`` of every alert (grouped by probe), and that receiver."""
    receiver = HttpReceiver(secret=SECRET)
    try:
        _hooked(world["a"], receiver, "/hook")
        yield world["a"], receiver
    finally:
        receiver.stop()


def _receive(a, probe: str) -> None:
    services.external_alerts_receive(actor=a["user"], organization=a["org"], alerts=[
        {"labels": {"alertname": "probe", "probe": probe, "severity": "critical"}}])


def _told(monkeypatch) -> tuple[dict[str, list], list]:
    """What the streams were sent ({topic: [(when, data)]}) and what the subscribers heard ([(when, payload)])."""
    frames: dict[str, list] = {}
    heard: list = []
    send = fanout.send_all

    async def sent(layer, messages):
        for _group, message in messages:
            frame = json.loads(message["text"])
            frames.setdefault(message["topic"], []).append((time.perf_counter(), frame["data"]))
        await send(layer, messages)

    monkeypatch.setattr(fanout, "send_all", sent)
    monkeypatch.setattr(events, "_batch_subscribers", [
        *events._batch_subscribers,
        ("alerts:", lambda batch: heard.extend((time.perf_counter(), payload) for _o, _t, payload in batch))])
    return frames, heard


def _counts(critical=0, warning=0, info=0):
    return {"critical": critical, "warning": warning, "info": info, "total": critical + warning + info}


def _written(monkeypatch) -> list[float]:
    """When each webhook request was wholly written to its receiver's socket (before its answer): by the
    thread that committed it, on a connection kept or opened before (``channels.begin``), else by its sender."""
    stamps: list[float] = []
    begin, send = channels.begin, channels.send

    def beginning(post):
        begun = begin(post)
        if begun is not None and begun.whole:
            stamps.append(time.perf_counter())
        return begun

    def sending(*args, written=None, begun=None, **kwargs):
        def told() -> None:
            if begun is None or not begun.whole:
                stamps.append(time.perf_counter())
            if written is not None:
                written()

        return send(*args, written=told, begun=begun, **kwargs)

    monkeypatch.setattr(channels, "begin", beginning)
    monkeypatch.setattr(channels, "send", sending)
    return stamps


def test_the_lists_are_told_of_a_received_alert_once_its_webhook_is_written(hooked, monkeypatch):
    # Long enough for a first send of the process (its HTTP client is built then): the order is the point.
    monkeypatch.setattr(services, "ANNOUNCE_AFTER_SENDS_SECONDS", 30)
    a, receiver = hooked
    frames, heard = _told(monkeypatch)
    written = _written(monkeypatch)
    _receive(a, "p1")
    (written_at,) = written  # the request was out before the receive returned
    ((sent_at, own),) = frames[f"alerts:{a['org'].pk}"]
    ((_at, platform),) = frames["alerts:platform"]
    assert own == {"event": "ingested", "count": 1, "counts": _counts(critical=1)}
    assert platform == {"event": "ingested", "count": 1, "counts": _counts(critical=1)}
    assert sent_at > written_at
    # The subscribers (audit log, dashboards) hear the payload without any stream's counts.
    ((at, payload),) = heard
    assert payload == {"event": "ingested", "count": 1}
    assert at > written_at
    (got,) = receiver.wait_for(lambda received: received, timeout=10)
    assert got["signature_ok"] and got["body"]["groupLabels"] == {"probe": "p1"}
    kinds = list(AlertHistory.objects.order_by("id").values_list("kind", "to_state"))
    assert kinds == [("state", "firing"), ("notify", "")]


def test_each_stream_counts_only_what_its_followers_may_see(world, monkeypatch):
    """Organization A's stream counts A's firing alerts, silenced and inhibited ones apart; the platform's
    stream counts every organization's; organization B's stream hears nothing of A's alert."""
    a, b = world["a"], world["b"]
    alert(b["org"], severity="critical")
    alert(b["org"], severity="info")
    alert(a["org"], severity="warning")
    alert(a["org"], severity="warning", state="resolved")
    now = timezone.now()
    silence = Silence.objects.create(organization=a["org"], matchers=[{"name": "alertname", "op": "=", "value": "x"}],
                                     starts_at=now, ends_at=now + timedelta(hours=1))
    silenced = alert(a["org"], severity="critical")
    silenced.silenced_by = silence
    silenced.save(update_fields=["silenced_by"])
    inhibited = alert(a["org"], severity="critical")
    inhibited.inhibited_by = silenced
    inhibited.save(update_fields=["inhibited_by"])
    frames, _heard = _told(monkeypatch)
    services.external_alerts_receive(actor=a["user"], organization=a["org"], alerts=[
        {"labels": {"alertname": "disk", "severity": "critical"}},
        {"labels": {"alertname": "load", "severity": "info"}}])
    ((_at, own),) = frames[f"alerts:{a['org'].pk}"]
    ((_at, platform),) = frames["alerts:platform"]
    assert own["counts"] == _counts(critical=1, warning=1, info=1)
    assert platform["counts"] == _counts(critical=2, warning=1, info=2)
    assert f"alerts:{b['org'].pk}" not in frames
    # What the summary says for each follower is what its stream's frame said.
    from tests.fixtures import api_as

    summary = api_as(a["user"]).get("/api/v1/alerts/alerts/summary/").json()
    assert summary["topics"] == [f"alerts:{a['org'].pk}"]
    assert summary["by_topic"] == {f"alerts:{a['org'].pk}": own["counts"]}
    assert {k: summary[k] for k in ("critical", "warning", "info", "total")} == own["counts"]
    summary = api_as(b["user"]).get("/api/v1/alerts/alerts/summary/").json()
    assert summary["by_topic"] == {f"alerts:{b['org'].pk}": _counts(critical=1, info=1)}


def test_a_receiver_that_does_not_answer_does_not_hold_the_announcement(world, monkeypatch):
    monkeypatch.setattr(services, "ANNOUNCE_AFTER_SENDS_SECONDS", 0.05)
    a = world["a"]
    receiver = HttpReceiver(secret=SECRET, hold_first="/slow")
    try:
        _hooked(a, receiver, "/slow")
        frames, heard = _told(monkeypatch)
        services.external_alerts_receive(actor=a["user"], organization=a["org"], alerts=[
            {"labels": {"alertname": "probe", "probe": "p2", "severity": "critical"}}])
        assert [data["event"] for _at, data in frames["alerts:platform"]] == ["ingested"]
        assert [payload["event"] for _at, payload in heard] == ["ingested"]
        assert receiver.held.is_set() and receiver.received == []  # told while the receiver still holds the try
        assert Delivery.objects.get().status == "pending"
    finally:
        receiver.release()
        receiver.stop()


def _status_when_told(monkeypatch) -> list[list[tuple]]:
    """The deliveries' (status, response code) at each hand-over of frames to the streams."""
    seen: list[list[tuple]] = []
    send = events.send_to_groups

    def sent(messages, **kwargs):
        send(messages, **kwargs)
        seen.append(list(Delivery.objects.values_list("status", "response_code")))

    monkeypatch.setattr(events, "send_to_groups", sent)
    return seen


def _delivery_settled(timeout: float = 10.0) -> Delivery:
    """The delivery once its sender thread is idle again (it wrote the first try's outcome). Not polled: on the
    tests' in-memory database a read beside the sender's write fails that write ("table is locked")."""
    assert senders_idle(timeout), "the first try's sender thread never finished"
    got = Delivery.objects.get()
    assert got.status != "pending", "the first try's outcome was never written"
    return got


def test_a_first_tries_outcome_is_written_once_the_lists_were_told(hooked, monkeypatch):
    """The sender thread's update of the delivery waits for the announcement: the two would otherwise take
    turns at the interpreter while the lists wait for their frames."""
    monkeypatch.setattr(services, "ANNOUNCE_AFTER_SENDS_SECONDS", 30)
    a, receiver = hooked
    seen = _status_when_told(monkeypatch)
    # The receiver answers long before the lists are told: only the hold keeps the outcome back.
    told = events._deliver_all
    monkeypatch.setattr(events, "_deliver_all", lambda batch: (receiver.wait_for(lambda r: r, 10),
                                                              time.sleep(0.2), told(batch)))
    _receive(a, "p3")
    assert seen == [[("pending", None)]]
    got = _delivery_settled()
    assert (got.status, got.response_code, got.attempts) == ("sent", 200, 1)
    assert receiver.received[0]["signature_ok"]


def test_a_held_outcome_is_written_anyway_when_the_holder_takes_too_long(hooked, monkeypatch):
    from apps.alerts import sender

    monkeypatch.setattr(sender, "HOLD_SECONDS", 0.1)
    a, _receiver = hooked
    told = events._deliver_all
    stuck: list[Delivery] = []

    def slow(batch):  # the announcement is stuck until the outcome was written without it
        stuck.append(_delivery_settled())
        told(batch)

    monkeypatch.setattr(events, "_deliver_all", slow)
    _receive(a, "p4")
    (got,) = stuck
    assert (got.status, got.response_code) == ("sent", 200)


def test_a_held_outcome_is_let_go_once_the_frames_are_out_before_the_subscribers_write(hooked, monkeypatch):
    """The subscribers (the audit log, dashboards) write after the frames: the sender thread need not wait for them."""
    from apps.alerts import sender

    monkeypatch.setattr(sender, "HOLD_SECONDS", 30)  # only the announcement lets it go
    monkeypatch.setattr(services, "ANNOUNCE_AFTER_SENDS_SECONDS", 30)
    a, _receiver = hooked
    settled: list[Delivery] = []
    monkeypatch.setattr(events, "_batch_subscribers", [
        ("alerts:", lambda batch: settled.append(_delivery_settled(timeout=5))), *events._batch_subscribers])
    _receive(a, "p5")
    (got,) = settled
    assert (got.status, got.response_code) == ("sent", 200)


def test_a_first_try_is_written_by_the_thread_that_commits_on_a_connection_opened_before(hooked, monkeypatch):
    """The dispatch opens a connection to the receiver (``channels.warm``) while its transaction is written, and
    the committing thread writes the request on it at commit, without waiting; a sender thread reads the answer
    and writes the outcome."""
    import threading

    from apps.alerts import sender

    a, receiver = hooked
    _pool, idle = sender._executor()
    free = 0
    while free < sender.THREADS and idle.acquire(timeout=10):  # earlier tries still out finish first
        free += 1
    for _ in range(free):
        idle.release()
    assert free == sender.THREADS
    begun: list[tuple[int, bool, bool]] = []
    begin = channels.begin

    def beginning(post):
        before = receiver.received == []  # nothing reached the receiver before this (it may read it at once)
        got = begin(post)
        begun.append((threading.get_ident(), got is not None and got.whole, before))
        return got

    monkeypatch.setattr(channels, "begin", beginning)
    _receive(a, "p6")
    assert begun == [(threading.get_ident(), True, True)]
    (got,) = receiver.wait_for(lambda received: received, timeout=10)
    assert got["signature_ok"] and got["body"]["groupLabels"] == {"probe": "p6"}
    settled = _delivery_settled()
    assert (settled.status, settled.attempts, settled.response_code) == ("sent", 1, 200)


def test_a_receiver_url_saved_with_a_port_out_of_range_fails_its_try_not_the_ingestion(hooked, monkeypatch):
    """Contact points are checked when written now; one saved before is warmed by nothing and fails its try by name."""
    import threading

    from apps.alerts.models import ContactPoint

    a, receiver = hooked
    ContactPoint.objects.filter(organization=a["org"]).update(config={"url": "http://127.0.0.1:99999/hook"})
    # The try fails at once, and its outcome would be written beside the announcement's subscribers (the audit
    # log): on the tests' in-memory database one of the two writes would fail ("table is locked"). The try
    # waits until the receive returned.
    gate, send = threading.Event(), channels.send
    monkeypatch.setattr(channels, "send", lambda *args, **kwargs: (gate.wait(10), send(*args, **kwargs))[1])
    _receive(a, "p7")
    gate.set()
    assert senders_idle()  # the try was given to a sender thread before the receive returned
    failed = Delivery.objects.get()
    assert "port" in failed.last_error and failed.status == "pending" and failed.next_attempt_at is not None
    assert receiver.received == []
