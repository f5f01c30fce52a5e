"""Alerts received from outside, on PostgreSQL: the transaction's first statements carry its ``BEGIN`` and its
last writes its ``COMMIT`` in the same query strings (``statements.together``, ``statements.Batch.flush(commit=True)``),
so from ``BEGIN`` to the hand-over of the notification there are two round trips on the wire, not four; a failing
statement in either string commits nothing and hands nothing over; inside a caller's transaction nothing is
committed early, and what the caller does after it stays in its transaction."""

from __future__ import annotations

import contextlib
import threading

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
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
    # The first sends each statement as it is; the second prepares them (statements.together).
    services.external_alerts_receive(actor=a["user"], organization=a["org"], alerts=_firing("warm-up"))
    services.external_alerts_receive(actor=a["user"], organization=a["org"], alerts=_firing("warm-up 2"))
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
    monkeypatch.setattr(sender, "hand_over", lambda d, *a: (handed.append(len(sent)), hand_over(d, *a))[1])
    return sent, handed


def test_begin_and_commit_travel_with_the_statements_two_round_trips_from_begin_to_the_hand_over(hooked, wire):
    a, receiver = hooked
    sent, handed = wire
    services.external_alerts_receive(actor=a["user"], organization=a["org"], alerts=_firing("p1"))
    assert handed, "the notification was handed over"
    trips = sent[:handed[0]]
    assert len(trips) == 2, trips
    assert trips[0].startswith("BEGIN; EXECUTE um_alerts_"), trips[0]
    assert trips[1].startswith("EXECUTE um_alerts_") and trips[1].rstrip().endswith("; COMMIT"), trips[1]
    assert not connection.in_atomic_block and connection.get_autocommit() and connection.connection.autocommit
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
    assert connection.get_autocommit() and connection.connection.autocommit
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


def test_a_failing_statement_in_the_string_that_begins_writes_and_hands_over_nothing(hooked, wire, monkeypatch):
    a, receiver = hooked
    sent, handed = wire
    together = statements.together

    def failing(batch):
        if any("alerts_alert" in sql for sql, _ in batch) and not any(sql == "COMMIT" for sql, _ in batch):
            batch = [*batch, ("SELECT 1 / 0", [])]
        return together(batch)

    monkeypatch.setattr(statements, "together", failing)
    before = (Alert.objects.count(), AlertGroup.objects.count(), Delivery.objects.count(), AlertHistory.objects.count())
    start = len(sent)
    with pytest.raises(DatabaseError):
        services.external_alerts_receive(actor=a["user"], organization=a["org"], alerts=_firing("p4"))
    assert sent[start].startswith("BEGIN; ") and sent[start + 1:] == ["ROLLBACK"], sent[start:]
    assert not handed
    assert connection.get_autocommit() and connection.connection.autocommit
    assert (Alert.objects.count(), AlertGroup.objects.count(), Delivery.objects.count(),
            AlertHistory.objects.count()) == before
    monkeypatch.setattr(statements, "together", together)
    services.external_alerts_receive(actor=a["user"], organization=a["org"], alerts=_firing("p4"))
    assert receiver.wait_for(lambda rs: any(x["body"]["groupLabels"].get("probe") == "p4" for x in rs), 10)


def test_statements_that_begin_a_callers_transaction_commit_or_roll_back_with_what_it_does_after_them(hooked, wire):
    a, receiver = hooked
    sent, handed = wire
    for name, fails in (("rolled back", True), ("committed", False)):
        start = len(sent)
        with contextlib.suppress(RuntimeError), transaction.atomic():
            assert statements.together([("SELECT 1", []), ("SELECT 2", [])]) == [[(1,)], [(2,)]]
            sent[start:] = [s for s in sent[start:] if not s.startswith("PREPARE ")]  # the first time's, seen again
            assert sent[start] in ("BEGIN; SELECT 1; SELECT 2", "BEGIN; EXECUTE {}; EXECUTE {}".format(
                *(statements._prepared[connection.connection].get(sql) for sql in ("SELECT 1", "SELECT 2")))), sent
            assert not connection.get_autocommit() and connection.connection.autocommit
            Alert.objects.create(organization=a["org"], source=Alert.Source.EXTERNAL, fingerprint=name, name=name,
                                 labels={"alertname": name}, state_changed_at=timezone.now())
            if fails:
                raise RuntimeError("the caller rolls back")
        assert sent[-1] == ("ROLLBACK" if fails else "COMMIT") and "BEGIN" not in sent[start + 1:], sent[start:]
        assert connection.get_autocommit() and connection.connection.autocommit
        assert Alert.objects.filter(organization=a["org"], fingerprint=name).exists() is not fails


def test_an_alert_sent_again_with_nothing_to_write_is_committed_at_the_end_of_the_block(hooked, wire):
    a, receiver = hooked
    sent, handed = wire
    services.external_alerts_receive(actor=a["user"], organization=a["org"], alerts=_firing("p6"))
    assert receiver.wait_for(lambda rs: any(x["body"]["groupLabels"].get("probe") == "p6" for x in rs), 10)
    start = len(sent)
    services.external_alerts_receive(actor=a["user"], organization=a["org"], alerts=_firing("p6"))
    assert sent[start].startswith("BEGIN; ") and sent[-1] == "COMMIT", sent[start:]
    assert connection.get_autocommit() and connection.connection.autocommit
    assert Alert.objects.filter(organization=a["org"], labels__probe="p6").count() == 1


def test_a_statement_postgresql_cannot_prepare_is_sent_as_it_is(hooked, wire):
    sent, handed = wire
    untyped = "SELECT %s IS NULL"  # PostgreSQL cannot tell its parameter's type without its value
    for _ in range(3):
        with transaction.atomic():
            assert statements.together([(untyped, [None]), ("SELECT 3", [])]) == [[(True,)], [(3,)]]
    held = statements._prepared[connection.connection]
    assert held[untyped] is None and held["SELECT 3"].startswith("um_alerts_")
    assert sent[-2:] == [f"BEGIN; SELECT NULL IS NULL; EXECUTE {held['SELECT 3']}", "COMMIT"], sent[-3:]
    assert not connection.errors_occurred and connection.get_autocommit() and connection.connection.autocommit


def test_a_session_keeps_at_most_its_share_of_statements_to_prepare(monkeypatch):
    # The session may come from the pool with statements of earlier work: its share is counted from there.
    connection.ensure_connection()
    driver = connection.connection

    def kept() -> int:
        return len(statements._to_prepare.get(driver, ())) + len(statements._prepared.get(driver, {}))

    monkeypatch.setattr(statements, "PREPARED_PER_SESSION", kept() + 3)
    for n in range(10):  # outside any transaction: nothing is prepared, texts only wait
        assert statements.together([(f"SELECT {n} + 1000", [])]) == [[(n + 1000,)]]
    assert connection.connection is driver
    assert kept() == statements.PREPARED_PER_SESSION
