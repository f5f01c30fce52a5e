"""Keys-first paging (apps/core/pagination.py): a list whose model declares an index on its tenant
column followed by the list's ordering picks the page's keys from that index, then reads those rows.
The pages are exactly those of the plain query, in both directions and in either ordering."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.core.models import IdempotencyRecord, Operation
from apps.core.pagination import _keys_first_fits

OPERATIONS = "/api/v1/core/operations/"


def _operations(world, n: int) -> None:
    """``n`` operations over alice's organization, its department and bob's, with some timestamps
    shared so the id decides between them."""
    orgs = (world.org_a, world.dept_a, world.org_b)
    ops = Operation.objects.bulk_create(Operation(organization=orgs[i % 3], kind="test") for i in range(n))
    base = timezone.now()
    for i, op in enumerate(ops):
        Operation.objects.filter(pk=op.pk).update(created_at=base - timezone.timedelta(seconds=i // 4))


def _walk(client, params: dict, link: str) -> tuple[list[str], list[list[str]]]:
    pages: list[list[str]] = []
    url, query = OPERATIONS, params
    while url:
        body = client.get(url, query).json()
        pages.append([row["id"] for row in body["results"]])
        url, query = body[link], None
    return [i for page in pages for i in page], pages


@pytest.mark.parametrize("ordering", ["-created_at", "created_at"])
def test_scoped_pages_are_the_plain_querys_rows_in_its_order(world, alice_api, ordering):
    _operations(world, 38)  # 26 of them in alice's organizations
    visible = Operation.objects.filter(organization__in=[world.org_a, world.dept_a])
    sign = "-" if ordering.startswith("-") else ""
    expected = list(visible.order_by(ordering, f"{sign}id").values_list("id", flat=True))
    seen, pages = _walk(alice_api, {"page_size": 5, "ordering": ordering}, "next")
    assert seen == expected
    assert [len(p) for p in pages] == [5] * 5 + [1]


def test_previous_links_walk_the_same_pages_back(world, alice_api):
    _operations(world, 23)
    forward, pages = _walk(alice_api, {"page_size": 4}, "next")
    last_page_url = None
    url, query = OPERATIONS, {"page_size": 4}
    while url:  # follow to the last page, remembering the link that reached it
        body = alice_api.get(url, query).json()
        if body["next"] is None:
            last_page_url = url
        url, query = body["next"], None
    backward: list[list[str]] = []
    url = last_page_url
    while url:
        body = alice_api.get(url).json()
        backward.append([row["id"] for row in body["results"]])
        url = body["previous"]
    assert list(reversed(backward)) == pages
    assert len(forward) == Operation.objects.exclude(organization=world.org_b).count() == 16


def test_another_organizations_rows_never_reach_a_scoped_page(world, bob_api):
    _operations(world, 12)
    seen, _ = _walk(bob_api, {"page_size": 3}, "next")
    assert set(seen) == set(Operation.objects.filter(organization=world.org_b).values_list("id", flat=True))


def test_a_page_is_still_one_statement_on_the_operations_table(world, alice_api):
    _operations(world, 12)
    alice_api.get(OPERATIONS)  # the access profile is loaded by the first list
    with CaptureQueriesContext(connection) as captured:
        assert alice_api.get(OPERATIONS, {"page_size": 5}).status_code == 200
    page_queries = [q["sql"] for q in captured.captured_queries if 'FROM "core_operation"' in q["sql"]]
    assert len(page_queries) == 1, page_queries


def test_the_page_keys_come_from_the_covering_index_on_sqlite(world, alice_api):
    if connection.vendor != "sqlite":
        pytest.skip("the plan checked is SQLite's")  # the fast tier always runs on SQLite
    _operations(world, 12)
    alice_api.get(OPERATIONS)
    with CaptureQueriesContext(connection) as captured:
        alice_api.get(OPERATIONS, {"page_size": 5})
    sql = next(q["sql"] for q in captured.captured_queries if 'FROM "core_operation"' in q["sql"])
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        plan = " | ".join(str(row[-1]) for row in cursor.fetchall())
    assert "COVERING INDEX operation_org_created_id" in plan, plan


def test_keys_first_applies_only_where_an_index_covers_the_ordering(db):
    ops = Operation.objects.all()
    assert _keys_first_fits(ops, ("-created_at", "-pk"))
    assert _keys_first_fits(ops, ("created_at", "pk"))
    assert not _keys_first_fits(ops, ("-created_at", "pk"))  # mixed directions: not that index's order
    assert not _keys_first_fits(ops, ("-status", "-pk"))
    assert not _keys_first_fits(ops.distinct(), ("-created_at", "-pk"))
    assert not _keys_first_fits(IdempotencyRecord.objects.all(), ("-created_at", "-pk"))  # no tenant column
