"""Lists use cursor (keyset) pagination: no COUNT, a constant number of queries whatever the page
size, a capped page size, and a cursor that visits every row exactly once."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.core.models import Operation
from apps.core.pagination import CursorPagination

OPERATIONS = "/api/v1/core/operations/"


def make_operations(org, n: int, **fields) -> list[Operation]:
    return Operation.objects.bulk_create(Operation(organization=org, kind="test", **fields) for _ in range(n))


def queries_for(client, **params) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(OPERATIONS, params)
    assert response.status_code == 200, response.content
    return [q["sql"] for q in ctx.captured_queries]


def test_a_list_page_never_counts_rows(world, alice_api):
    make_operations(world.org_a, 30)
    for sql in queries_for(alice_api, page_size=10):
        assert "COUNT(" not in sql.upper(), sql


def test_a_list_costs_the_same_queries_for_5_rows_as_for_50(world, alice_api):
    make_operations(world.org_a, 60, actor=world.alice)
    small = queries_for(alice_api, page_size=5)
    large = queries_for(alice_api, page_size=50)
    assert len(small) == len(large), (small, large)
    # The session, the user, the permission profile of the production backend (the organization tree, the
    # person's memberships, groups and projects, grants and policies: six) and one query for the page.
    assert len(large) <= 9, large
    assert sum('FROM "core_operation"' in sql for sql in large) == 1, large


def test_page_size_is_capped(world, root_api):
    make_operations(world.org_a, CursorPagination.max_page_size + 5)
    body = root_api.get(OPERATIONS, {"page_size": 100_000}).json()
    assert len(body["results"]) == CursorPagination.max_page_size
    assert body["next"]


def test_default_page_size_applies_without_a_parameter(world, root_api):
    make_operations(world.org_a, CursorPagination.page_size + 1)
    assert len(root_api.get(OPERATIONS).json()["results"]) == CursorPagination.page_size


def test_the_cursor_visits_every_row_once_even_when_timestamps_tie(world, alice_api):
    ops = make_operations(world.org_a, 13)
    Operation.objects.update(created_at=timezone.now())  # all on one instant
    seen: list[str] = []
    url, params = OPERATIONS, {"page_size": 5}
    while url:
        body = alice_api.get(url, params).json()
        seen += [row["id"] for row in body["results"]]
        url, params = body["next"], None
    assert sorted(seen) == sorted(op.id for op in ops)
    assert len(seen) == len(set(seen))


def test_newest_operations_come_first(world, alice_api):
    old, new = make_operations(world.org_a, 2)
    Operation.objects.filter(pk=old.pk).update(created_at=timezone.now() - timezone.timedelta(hours=1))
    ids = [row["id"] for row in alice_api.get(OPERATIONS).json()["results"]]
    assert ids == [new.id, old.id]


def test_ordering_by_a_declared_field_is_honoured(world, alice_api):
    old, new = make_operations(world.org_a, 2)
    Operation.objects.filter(pk=old.pk).update(created_at=timezone.now() - timezone.timedelta(hours=1))
    ids = [row["id"] for row in alice_api.get(OPERATIONS, {"ordering": "created_at"}).json()["results"]]
    assert ids == [old.id, new.id]


def test_ordering_by_an_undeclared_field_is_ignored(world, alice_api):
    low, high = make_operations(world.org_a, 2)
    Operation.objects.filter(pk=high.pk).update(progress=90)
    Operation.objects.filter(pk=low.pk).update(created_at=timezone.now() + timezone.timedelta(hours=1))
    ids = [row["id"] for row in alice_api.get(OPERATIONS, {"ordering": "-progress"}).json()["results"]]
    assert ids == [low.id, high.id]
