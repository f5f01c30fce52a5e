"""Notifications received by real local endpoints: a signed webhook checked by its receiver, email
over SMTP on loopback, the collaborative tools' formats, and a failing receiver retried with a
growing backoff, then marked failed, while the others are delivered at their first try."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.alerts import services
from apps.alerts.models import Delivery, InboxMessage
from apps.alerts.notify import MAX_ATTEMPTS, delivery_attempt, notifications_dispatch
from apps.alerts.tests.conftest import senders_idle
from apps.alerts.tests.factories import alert
from apps.alerts.tests.receivers import HttpReceiver, SmtpReceiver

pytestmark = pytest.mark.django_db
SECRET = "webhook-signing-secret"


@pytest.fixture
def http():
    receiver = HttpReceiver(secret=SECRET, status_for={"/dead": 500})
    yield receiver
    receiver.stop()


@pytest.fixture
def smtp():
    receiver = SmtpReceiver()
    yield receiver
    receiver.stop()


def _contact(a, name, kind, config, secrets=None):
    return services.contact_point_create(actor=a["user"], organization=a["org"], name=name, kind=kind, config=config,
                                         secrets=secrets or {})


def test_a_firing_alert_reaches_a_signed_webhook_email_and_the_inbox_while_a_dead_receiver_is_retried_then_failed(
        world, http, smtp, monkeypatch):
    monkeypatch.setenv("UNIMANAGER_ALERTS_RETRY_SECONDS", "30")
    a = world["a"]
    dead = _contact(a, "dead", "webhook", {"url": http.url + "/dead"}, {"secret": SECRET})
    hook = _contact(a, "hook", "webhook", {"url": http.url + "/hook"}, {"secret": SECRET})
    mail = _contact(a, "mail", "email", {"to": ["oncall@example.com"], "host": "127.0.0.1", "port": smtp.port})
    inbox = _contact(a, "inbox", "inbox", {})
    services.route_create(actor=a["user"], organization=a["org"], name="all", contact_points=[dead, hook, mail, inbox])
    alert(a["org"], severity="critical", alertname="Disk full", resource_name="db-1")
    deliveries = notifications_dispatch(now=timezone.now())
    assert {d.contact_point_id for d in deliveries} == {dead.pk, hook.pk, mail.pk}
    # The dead receiver comes first in the worker's queue: its failure returns a countdown at once.
    order = sorted(deliveries, key=lambda d: d.contact_point_id != dead.pk)
    # Each delivery is made holding its first try (what the sender threads are handed at commit).
    assert [(d.attempts, d.claimed_until is not None) for d in order] == [(1, True)] * 3
    countdowns = [delivery_attempt(delivery_id=d.pk, attempt=1) for d in order]
    assert countdowns == [30.0, None, None]
    assert [r["path"] for r in http.received] == ["/dead", "/hook"]
    hooked = http.received[1]
    assert hooked["signature_ok"] and hooked["body"]["status"] == "firing"
    assert [x["labels"]["resource_name"] for x in hooked["body"]["alerts"]] == ["db-1"]
    assert len(smtp.messages) == 1 and smtp.messages[0]["message"]["Subject"].startswith("[FIRING:1] Disk full")
    assert "db-1" in smtp.messages[0]["message"].get_payload()
    assert InboxMessage.objects.filter(user=a["user"], subject__startswith="[FIRING:1]").count() == 1
    # The dead one is tried until MAX_ATTEMPTS with a doubling backoff, then marked failed.
    assert delivery_attempt(delivery_id=order[0].pk) is None  # its retry is not due yet: nothing sent
    assert len([r for r in http.received if r["path"] == "/dead"]) == 1
    later = [delivery_attempt(delivery_id=order[0].pk, now=timezone.now() + timedelta(minutes=10 * n))
             for n in range(1, MAX_ATTEMPTS)]
    assert later == [60.0, 120.0, None]
    failed = Delivery.objects.get(pk=order[0].pk)
    assert (failed.status, failed.attempts, failed.response_code) == ("failed", MAX_ATTEMPTS, 500)
    assert failed.last_error.startswith("HTTP 500")
    assert delivery_attempt(delivery_id=failed.pk) is None  # a finished delivery is never sent again
    assert [d.status for d in Delivery.objects.filter(contact_point__in=[hook, mail])] == ["sent", "sent"]
    assert len([r for r in http.received if r["path"] == "/dead"]) == MAX_ATTEMPTS


def test_a_receiver_refuses_a_body_whose_signature_does_not_match(http):
    from apps.alerts.channels import sign, verify_signature

    body = b'{"status":"firing"}'
    header = sign(SECRET, body)
    assert verify_signature(SECRET, header, body)
    assert not verify_signature(SECRET, header, body.replace(b"firing", b"resolved"))
    assert not verify_signature("another-secret", header, body)
    assert not verify_signature(SECRET, sign(SECRET, body, timestamp=1_000_000), body)  # too old: a replay


@pytest.mark.parametrize(("kind", "shape"), [
    ("dingtalk", lambda b: b["msgtype"] == "markdown" and "Disk full" in b["markdown"]["title"]),
    ("wecom", lambda b: b["msgtype"] == "markdown" and "Disk full" in b["markdown"]["content"]),
    ("feishu", lambda b: b["msg_type"] == "text" and "Disk full" in b["content"]["text"] and b["sign"]),
    ("slack", lambda b: "Disk full" in b["text"]),
    ("teams", lambda b: b["@type"] == "MessageCard" and "Disk full" in b["title"]),
])
def test_collaborative_tools_receive_their_own_format(world, http, kind, shape):
    a = world["a"]
    cp = _contact(a, kind, kind, {"url": http.url + f"/{kind}"}, {"secret": "robot-secret"})
    services.route_create(actor=a["user"], organization=a["org"], name=kind, contact_points=[cp])
    alert(a["org"], alertname="Disk full")
    (delivery,) = notifications_dispatch(now=timezone.now())
    assert delivery_attempt(delivery_id=delivery.pk, attempt=1) is None
    (got,) = http.received
    assert shape(got["body"]), got["body"]
    if kind == "dingtalk":
        assert "timestamp=" in got["path"] and "sign=" in got["path"]


def test_an_alert_from_outside_notifies_only_its_group_and_is_still_inhibited_by_an_unreachable_platform(world):
    from apps.alerts.models import Alert

    a = world["a"]
    hook = _contact(a, "hook", "webhook", {"url": "http://127.0.0.1:9/hook"})
    services.route_create(actor=a["user"], organization=a["org"], name="by service", contact_points=[hook],
                          group_by=["service"])
    alert(a["org"], alertname="old", service="db")  # firing in group "db", never notified yet
    down = alert(a["org"], alertname="Platform unreachable", service="", event="platform_unreachable",
                 platform="cp-1")
    new = services.external_alerts_ingest(actor=a["user"], organization=a["org"], alerts=[
        {"labels": {"alertname": "web slow", "service": "web"}},
        {"labels": {"alertname": "web down", "service": "web", "platform": "cp-1"}}])
    sent = notifications_dispatch(organization_id=a["org"].pk, touched=new)
    assert [sorted(x["name"] for x in d.payload["alerts"]) for d in sent] == [["web slow"]]
    assert Alert.objects.get(name="web down").inhibited_by_id == down.pk
    assert {d.payload["groupLabels"]["service"] for d in notifications_dispatch(organization_id=a["org"].pk)} == {
        "db", ""}


def _one_hook_alert(a, http):
    hook = _contact(a, "hook", "webhook", {"url": http.url + "/hook"}, {"secret": SECRET})
    services.route_create(actor=a["user"], organization=a["org"], name="all", contact_points=[hook])
    alert(a["org"], severity="critical", alertname="Disk full")
    (delivery,) = notifications_dispatch(now=timezone.now())
    return delivery


def test_a_notification_whose_try_was_lost_is_found_by_the_sweeper_and_delivered_exactly_once(world, http):
    from apps.alerts.notify import SWEEP_AFTER, deliveries_sweep, lease

    # The dispatch's transaction never handed the delivery to a sender (on-commit hooks do not run
    # here): its first try is lost, as when the process died right after commit.
    delivery = _one_hook_alert(world["a"], http)
    now = timezone.now()
    assert deliveries_sweep(now=now) == []  # its lease still runs: its sender may be sending
    assert delivery_attempt(delivery_id=delivery.pk, now=now) is None  # nor may anyone else claim it
    later = now + lease() + SWEEP_AFTER
    assert deliveries_sweep(now=later) == [delivery.pk]
    assert deliveries_sweep(now=later) == [delivery.pk]  # not yet claimed: queued again, still one send
    # Both queued tasks run; the first claims and sends, the second finds it sent.
    assert [delivery_attempt(delivery_id=delivery.pk, now=later) for _ in range(2)] == [None, None]
    assert [r["path"] for r in http.received] == ["/hook"] and http.received[0]["signature_ok"]
    got = Delivery.objects.get(pk=delivery.pk)
    assert (got.status, got.attempts, got.claimed_until) == ("sent", 2, None)
    assert deliveries_sweep(now=later + lease()) == []


def test_a_lost_retry_is_re_queued_and_a_delivery_that_used_every_try_is_marked_failed(world, http):
    from apps.alerts.notify import SWEEP_AFTER, deliveries_sweep, lease

    delivery = _one_hook_alert(world["a"], http)
    Delivery.objects.filter(pk=delivery.pk).update(claimed_until=None, next_attempt_at=timezone.now(), attempts=2)
    assert deliveries_sweep(now=timezone.now()) == []  # its retry is not late yet
    assert deliveries_sweep(now=timezone.now() + SWEEP_AFTER * 2) == [delivery.pk]
    # Its last try was claimed by a sender that died: once the lease ran out it is failed, not sent.
    Delivery.objects.filter(pk=delivery.pk).update(attempts=MAX_ATTEMPTS, claimed_until=timezone.now())
    assert deliveries_sweep(now=timezone.now() + lease()) == []
    got = Delivery.objects.get(pk=delivery.pk)
    assert (got.status, got.last_error) == ("failed", "Its last try was lost with its sender.")
    assert http.received == []


@pytest.mark.django_db(transaction=True)
def test_an_alert_received_from_outside_is_sent_by_a_sender_thread_right_after_commit(world, http):
    a = world["a"]
    hook = _contact(a, "hook", "webhook", {"url": http.url + "/hook"}, {"secret": SECRET})
    services.route_create(actor=a["user"], organization=a["org"], name="by probe", contact_points=[hook],
                          group_by=["probe"])
    services.external_alerts_receive(actor=a["user"], organization=a["org"], alerts=[
        {"labels": {"alertname": "probe", "probe": "p1", "severity": "critical"}}])
    assert http.wait_for(lambda received: received, timeout=10), "the sender thread sent nothing"
    # Not polled: on the tests' in-memory database a read beside the sender's write fails it ("table is locked").
    assert senders_idle(), "the sender thread never wrote the try's outcome"
    (sent,) = Delivery.objects.all()
    assert (sent.status, sent.attempts, sent.response_code, sent.claimed_until) == ("sent", 1, 200, None)
    (got,) = http.received
    assert got["signature_ok"] and got["body"]["groupLabels"] == {"probe": "p1"}


def test_a_dispatch_reads_routes_contact_points_and_silences_again_after_any_of_them_changed(world, http):
    from datetime import timedelta as td

    from apps.alerts.models import Alert

    a = world["a"]
    hook = _contact(a, "hook", "webhook", {"url": http.url + "/hook"})
    other = _contact(a, "other", "webhook", {"url": http.url + "/other"})
    route = services.route_create(actor=a["user"], organization=a["org"], name="all", contact_points=[hook])
    alert(a["org"], alertname="one")
    assert [d.contact_point_id for d in notifications_dispatch(now=timezone.now())] == [hook.pk]
    route.contact_points.add(other)  # a change of the route's contact points (not through a service)
    alert(a["org"], alertname="two")
    assert sorted(d.contact_point_id for d in notifications_dispatch(now=timezone.now())) == sorted([hook.pk,
                                                                                                     other.pk])
    other.enabled = False
    other.save()
    alert(a["org"], alertname="three")
    assert [d.contact_point_id for d in notifications_dispatch(now=timezone.now())] == [hook.pk]
    services.silence_create(actor=a["user"], organization=a["org"], matchers=[
        {"name": "alertname", "op": "=", "value": "four"}], starts_at=None, ends_at=timezone.now() + td(hours=1))
    alert(a["org"], alertname="four")
    assert notifications_dispatch(now=timezone.now()) == []
    assert Alert.objects.get(name="four").silenced_by_id is not None


def test_when_every_sender_thread_is_busy_a_try_goes_through_celery_instead_of_waiting(world, http):
    from apps.alerts import sender
    from apps.alerts.tasks import delivery_send_task

    delivery = _one_hook_alert(world["a"], http)
    _pool, idle = sender._executor()
    held = 0
    while idle.acquire(blocking=False):  # every sender thread is stuck on a dead receiver
        held += 1
    app = delivery_send_task.app
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True  # the Celery task runs here, in this thread, as a worker would
    try:
        sender.hand_over(delivery)
    finally:
        app.conf.task_always_eager = eager
        for _ in range(held):
            idle.release()
    assert held == sender.THREADS
    (got,) = http.received
    assert got["signature_ok"]
    sent = Delivery.objects.get(pk=delivery.pk)
    assert (sent.status, sent.attempts) == ("sent", 1)


def test_what_follows_a_handed_try_runs_once_on_the_thread_that_set_it():
    """``sender.Handed``: followers registered before it is set run on the setting thread, in order, once;
    one registered after runs at once; a failing follower costs the others nothing."""
    import threading

    from apps.alerts import sender

    handed = sender.Handed()
    ran: list[tuple[str, str]] = []

    def broken() -> None:
        raise RuntimeError("follower bug")

    handed.then(lambda: ran.append(("first", threading.current_thread().name)))
    handed.then(broken)
    handed.then(lambda: ran.append(("second", threading.current_thread().name)))
    assert not handed.is_set() and not handed.wait(0.01) and ran == []
    setter = threading.Thread(target=handed.set, name="sender-like")
    setter.start()
    setter.join()
    assert handed.is_set() and handed.wait(0)
    assert ran == [("first", "sender-like"), ("second", "sender-like")]
    handed.set()  # again: nothing runs again
    handed.then(lambda: ran.append(("late", threading.current_thread().name)))
    assert ran[2:] == [("late", threading.current_thread().name)]
