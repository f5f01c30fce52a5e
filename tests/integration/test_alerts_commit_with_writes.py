"""Alerts received from outside, on PostgreSQL: the transaction's last writes carry its ``COMMIT`` in the same
query string (``statements.Batch.flush(commit=True)``), so from ``BEGIN`` to the hand-over of the
notification there are three round trips on the wire, not four; a failing statement in that string
commits nothing and hands nothing over; inside a caller's transaction nothing is committed early."""

from __future__ import annotations

import threading

import pytest
from django.db import DatabaseError, connection, transaction
from psycopg import _connection_base, client_cursor

from apps.alerts import sender, services, statements
from apps.alerts.models import Alert, AlertGroup, AlertHistory, Delivery
from apps.alerts.tests.conftest import fresh_cache, world  # noqa: F401 - fixtures
from apps.alerts.tests.receivers import HttpReceiver
from apps.alerts.tests.test_lane import _firing
from tests.fixtures import fast_passwords, rbac_scoping  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hooked(world):  # noqa: F811
    a = world["a"]
    receiver = HttpReceiver(secret="s")
    hook = services.contact_point_create(actor=a["user"], organization=a["org"], name="hook", kind="webhook",
                                         config={"url": receiver.url + "/hook"}, secrets={"secret": "s"})
    services.route_create(actor=a["user"], organization=a["org"], name="by probe", contact_points=[hook],
                          group_by=["probe"], group_wait_seconds=0)
    services.external_alerts_receive(actor=a["user"], organization=a["org"], alerts=_firing("warm-up"))
    yield a, receiver
    receiver.stop()


@pytest.fixture
def wire(monkeypatch):
    """What this thread sends to PostgreSQL (not the sender threads recording earlier tries): each query string
    and each command (BEGIN, COMMIT) psycopg sends."""
    sent: list[str] = []
    command, execute = _connection_base.BaseConnection._exec_command, client_cursor.ClientCursorMixin._execute_send
    ours = threading.get_ident()

    def counted_command(self, cmd, *args, **kwargs):
        if threading.get_ident() == ours:
            sent.append(bytes(cmd).decode() if isinstance(cmd, bytes | bytearray) else str(cmd))
        return command(self, cmd, *args, **kwargs)

    def counted_execute(self, query, *args, **kwargs):
        if threading.get_ident() == ours:
            sent.append(query.query.decode() if isinstance(query.query, bytes) else str(query.query))
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(_connection_base.BaseConnection, "_exec_command", counted_command)
    monkeypatch.setattr(client_cursor.ClientCursorMixin, "_execute_send", counted_execute)
    handed: list[int] = []
    hand_over = sender.hand_over
    monkeypatch.setattr(sender, "hand_over", lambda d: (handed.append(len(sent)), hand_over(d))[1])
    return sent, handed


def test_the_last_writes_carry_the_commit_three_round_trips_from_begin_to_the_hand_over(hooked, wire):
    a, receiver = hooked
    sent, handed = wire
    services.external_alerts_receive(actor=a["user"], organization=a["org"], alerts=_firing("p1"))
    assert handed, "the notification was handed over"
    trips = sent[:handed[0]]
    assert trips[0] == "BEGIN" and len(trips) == 3, trips
    assert trips[2].rstrip().endswith("; COMMIT") and "alerts_delivery" in trips[2], trips[2]
    assert not connection.in_atomic_block and connection.get_autocommit()
    assert receiver.wait_for(lambda rs: any(x["body"]["groupLabels"].get("probe") == "p1" for x in rs), 10)
    assert Delivery.objects.filter(organization=a["org"], payload__groupLabels__probe="p1").count() == 1
    assert AlertHistory.objects.filter(alert__organization=a["org"], alert__labels__probe="p1").count() == 2


def test_a_failing_statement_before_the_commit_writes_and_hands_over_nothing(hooked, wire, monkeypatch):
    a, receiver = hooked
    sent, handed = wire
    together = statements.together

    def failing(batch):
        if batch and batch[-1][0] == "COMMIT":
            batch = [*batch[:-1], ("SELECT 1 / 0", []), batch[-1]]
        return together(batch)

    monkeypatch.setattr(statements, "together", failing)
    before = (Alert.objects.count(), AlertGroup.objects.count(), Delivery.objects.count(), AlertHistory.objects.count())
    with pytest.raises(DatabaseError):
        services.external_alerts_receive(actor=a["user"], organization=a["org"], alerts=_firing("p2"))
    assert not handed
    assert (Alert.objects.count(), AlertGroup.objects.count(), Delivery.objects.count(),
            AlertHistory.objects.count()) == before
    monkeypatch.setattr(statements, "together", together)
    services.external_alerts_receive(actor=a["user"], organization=a["org"], alerts=_firing("p2"))
    assert receiver.wait_for(lambda rs: any(x["body"]["groupLabels"].get("probe") == "p2" for x in rs), 10)


def test_inside_a_callers_transaction_nothing_is_committed_before_the_caller_commits(hooked, wire):
    a, receiver = hooked
    sent, handed = wire
    with pytest.raises(RuntimeError), transaction.atomic():
        services.external_alerts_receive(actor=a["user"], organization=a["org"], alerts=_firing("p3"))
        assert not any("COMMIT" in s for s in sent), sent
        raise RuntimeError("the caller rolls back")
    assert not handed
    assert not Alert.objects.filter(organization=a["org"], labels__probe="p3").exists()
