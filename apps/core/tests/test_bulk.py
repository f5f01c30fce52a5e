"""rows_update writes each row's own values of the fields named, and only those, in one statement."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core import services
from apps.core.bulk import rows_update
from apps.core.models import Operation

pytestmark = pytest.mark.django_db


def test_each_row_gets_its_own_values_and_other_fields_are_left_alone(world):
    ops = [services.operation_create(organization=world.org_a, kind="diagnostic", message="Queued")
           for _n in range(4)]
    Operation.objects.filter(pk=ops[0].pk).update(error="kept")
    started = ops[0].created_at
    for n, op in enumerate(ops):
        op.status, op.step, op.message = Operation.Status.RUNNING, 2, f"step {n}"  # same, same, different
        op.started_at = started if n % 2 else None
        op.result = {"n": n} if n else {"n": 1}
        op.error = "not written"
    with CaptureQueriesContext(connection) as statements:
        assert rows_update(Operation, ops, ["status", "step", "message", "started_at", "result"]) == 4
    assert len(statements.captured_queries) == 1
    rows = {op.pk: op for op in Operation.objects.filter(pk__in=[op.pk for op in ops])}
    for n, op in enumerate(ops):
        row = rows[op.pk]
        assert (row.status, row.step, row.message, row.result) == ("running", 2, f"step {n}", op.result)
        assert row.started_at == (started if n % 2 else None)
    assert rows[ops[0].pk].error == "kept" and {r.error for r in rows.values()} == {"kept", ""}


def test_no_rows_is_no_statement():
    with CaptureQueriesContext(connection) as statements:
        assert rows_update(Operation, [], ["status"]) == 0
    assert statements.captured_queries == []

