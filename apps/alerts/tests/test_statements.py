"""``statements``: the INSERT kept for a few rows writes what the ORM's compiler writes (same text, same
values; the compiler still writes the rest), and rows read with a connection's kept converters come back
as the ORM converts them."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import connection
from django.db.models import Value
from django.db.models.constants import OnConflict
from django.db.models.functions import Upper
from django.db.models.sql import InsertQuery
from django.utils import timezone

from apps.alerts import statements
from apps.alerts.models import Alert, AlertGroup, AlertHistory, ContactPoint, Delivery
from apps.alerts.tests.factories import alert

pytestmark = pytest.mark.django_db


def _compiled(model, objs, ignore_conflicts=False):
    fields = [f for f in model._meta.concrete_fields if not (f.primary_key and getattr(objs[0], f.attname) is None)]
    query = InsertQuery(model, on_conflict=OnConflict.IGNORE if ignore_conflicts else None)
    query.insert_values(fields, objs, raw=False)
    return _plain(query.get_compiler(connection=connection).as_sql())


def _plain(statements_):
    """Statements with their values comparable: PostgreSQL's JSON values are wrappers without equality."""
    def value(v):
        if isinstance(v, list | tuple):
            return [value(x) for x in v]
        return ("json", v.obj) if type(v).__name__ in ("Jsonb", "Json") else v
    return [(sql, value(list(params))) for sql, params in statements_]


@pytest.fixture
def frozen_now():
    """One ``now`` for the ``auto_now_add`` fields both ways set when they prepare their values."""
    at = timezone.now()
    with mock.patch("django.utils.timezone.now", return_value=at):
        yield at


def _rows(world):
    org = world["a"]["org"]
    now = timezone.now()
    cp = ContactPoint.objects.create(organization=org, name="hook", kind="webhook", config={"url": "http://x"})
    a = Alert(organization=org, source=Alert.Source.EXTERNAL, fingerprint="fp-kept", name="probe",
              labels={"alertname": "probe", "probe": "p1"}, annotations={"summary": "s"}, severity="critical",
              state=Alert.State.FIRING, starts_at=now, state_changed_at=now)
    return [
        (Alert, [a], True),
        (AlertGroup, [AlertGroup(organization=org, key="k", labels={"probe": "p1"}, first_seen_at=now)], False),
        (Delivery, [Delivery(organization=org, contact_point=cp, group_key="k", subject="s", body="b",
                             payload={"alerts": [{"labels": {"probe": "p1"}}]}, attempts=1, claimed_until=now)],
         False),
    ]


def test_one_rows_insert_is_the_text_and_values_the_orm_compiles(world, frozen_now):
    for model, objs, ignore in _rows(world):
        assert _plain(statements.insert(model, objs, ignore_conflicts=ignore)) == _compiled(model, objs, ignore), model


def test_kept_inserts_write_the_rows_and_history_written_after_them(world):
    rows = _rows(world)
    writes = [s for model, objs, ignore in rows for s in statements.insert(model, objs, ignore_conflicts=ignore)]
    a = rows[0][1][0]
    history = [AlertHistory(alert=a, at=timezone.now(), kind=AlertHistory.Kind.STATE, to_state="firing",
                            reason=f"r{n}") for n in range(3)]
    writes += statements.insert(AlertHistory, history)
    statements.together(writes)
    got = Alert.objects.get(pk=a.pk)
    assert (got.labels, got.annotations, got.severity, got.starts_at) == (a.labels, a.annotations, "critical",
                                                                           a.starts_at)
    assert AlertGroup.objects.get(key="k").labels == {"probe": "p1"}
    assert Delivery.objects.get(group_key="k").payload == {"alerts": [{"labels": {"probe": "p1"}}]}
    assert sorted(AlertHistory.objects.filter(alert=a).values_list("reason", flat=True)) == ["r0", "r1", "r2"]


def test_a_kept_insert_ignoring_conflicts_leaves_an_existing_row_alone(world):
    org = world["a"]["org"]
    there = alert(org, probe="p1")
    again = Alert(organization=org, source=Alert.Source.EXTERNAL, fingerprint=there.fingerprint, name="other",
                  labels={"alertname": "other"}, state=Alert.State.FIRING, starts_at=timezone.now(),
                  state_changed_at=timezone.now())
    statements.together(statements.insert(Alert, [again], ignore_conflicts=True))
    assert list(Alert.objects.filter(organization=org, fingerprint=there.fingerprint).values_list("name", flat=True)
                ) == [there.name]


def test_an_expression_among_the_values_is_left_to_the_compiler(world, frozen_now):
    org = world["a"]["org"]
    group = AlertGroup(organization=org, key="k", labels={}, first_seen_at=timezone.now())
    group.notified_digest = Upper(Value("d"))
    got = _plain(statements.insert(AlertGroup, [group]))
    assert got == _compiled(AlertGroup, [group]) and "UPPER" in got[0][0]


def test_many_rows_are_compiled_by_the_orm(world, frozen_now):
    org = world["a"]["org"]
    now = timezone.now()
    groups = [AlertGroup(organization=org, key=f"k{n}", labels={}, first_seen_at=now)
              for n in range(statements.KEPT_ROWS + 1)]
    assert _plain(statements.insert(AlertGroup, groups)) == _compiled(AlertGroup, groups)


def test_rows_read_twice_on_a_connection_are_converted_as_the_orm_converts_them(world):
    org = world["a"]["org"]
    mine = [alert(org, probe=f"p{n}", severity="critical") for n in range(2)]
    sql = statements.select(Alert, "organization_id = %s ORDER BY id")
    params = [Alert._meta.get_field("organization").get_db_prep_value(org.pk, connection)]
    for _ in range(2):
        got = statements.instances(Alert, statements.together([(sql, params)])[0])
        expected = list(Alert.objects.filter(organization=org).order_by("id"))
        assert [{f.attname: getattr(x, f.attname) for f in Alert._meta.concrete_fields} for x in got] == [
            {f.attname: getattr(x, f.attname) for f in Alert._meta.concrete_fields} for x in expected]
        assert {x.pk for x in got} == {x.pk for x in mine} and isinstance(got[0].labels, dict)
        assert got[0].starts_at.tzinfo is not None and not got[0]._state.adding
