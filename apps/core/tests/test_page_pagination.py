"""Pages list through the API's paginator (``page_of``): the same cursors, a stale or tampered
cursor starts again at the first page instead of failing, and an ordering may follow a relation."""

from __future__ import annotations

import base64

from django.test import RequestFactory

from apps.core.models import Operation
from apps.core.pagination import page_of


def page_request(query: str = "", **params):
    """A page's request: ``query`` as a link carries it (``?{{ page.next_query }}``), or ``params``."""
    return RequestFactory().get(f"/console/somewhere/?{query}", params)


def test_pages_follow_the_cursor_to_the_end_and_offer_the_first_page_back(world):
    ops = Operation.objects.bulk_create(Operation(organization=world.org_a, kind=f"k{i}") for i in range(5))
    first = page_of(Operation.objects.all(), page_request(q="x"), ("kind", "id"), page_size=2)
    assert [o.kind for o in first.rows] == ["k0", "k1"] and first.first_query is None
    assert "q=x" in first.next_query
    seen = [o.kind for o in first.rows]
    page = first
    while page.next_query:
        page = page_of(Operation.objects.all(), page_request(page.next_query), ("kind", "id"), page_size=2)
        assert page.first_query == "q=x"
        seen += [o.kind for o in page.rows]
    assert seen == [o.kind for o in ops]


def test_a_cursor_that_does_not_fit_starts_again_at_the_first_page(world):
    Operation.objects.bulk_create(Operation(organization=world.org_a, kind=f"k{i}") for i in range(3))
    wrong_position = base64.b64encode(b"o=0&r=0&p=not-a-time").decode()
    for cursor in ("%%%", wrong_position, "x" * 500):
        page = page_of(Operation.objects.all(), page_request(cursor=cursor), ("-created_at", "-id"), page_size=2)
        assert len(page.rows) == 2 and page.next_query and page.first_query is None


def test_an_ordering_may_follow_a_relation(world):
    Operation.objects.bulk_create(Operation(organization=org, kind="k") for org in (world.org_a, world.org_b) * 2)
    page = page_of(Operation.objects.select_related("organization"), page_request(),
                   ("organization__name", "id"), page_size=3)
    rest = page_of(Operation.objects.select_related("organization"), page_request(page.next_query),
                   ("organization__name", "id"), page_size=3)
    assert len(page.rows) + len(rest.rows) == 4 and not {o.pk for o in page.rows} & {o.pk for o in rest.rows}
