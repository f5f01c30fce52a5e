"""The pickers of the people pages page and search as you type instead of stopping at a fixed
number: each offers only what the user may choose (another organization's people and
organizations never), and a search finds a choice far beyond the first page."""

from __future__ import annotations

import html
import re

import pytest

from apps.core.pagination import CursorPagination
from apps.organizations.models import Membership, Organization, User
from tests import factories as f

pytestmark = pytest.mark.django_db

PAGE = CursorPagination.page_size
OPTION = re.compile(r'<option value="([^"]*)"[^>]*>([^<]*)</option>')


@pytest.fixture
def world():
    """HQ -> East (-> East IT), West (-> West Ops); an East organization administrator, a person of
    East IT and one of West Ops."""
    hq = f.org("HQ", kind="headquarters")
    east = f.org("East", hq, kind="region")
    west = f.org("West", hq, kind="region")
    east_it = f.org("East IT", east)
    west_ops = f.org("West Ops", west)
    eastadmin = f.user("eastadmin", east)
    f.grant(f.predefined("organization_administrator"), eastadmin, east)
    return {"hq": hq, "east": east, "west": west, "east_it": east_it, "west_ops": west_ops, "eastadmin": eastadmin,
            "easty": f.user("easty", east_it), "westy": f.user("westy", west_ops)}


def _people(org: Organization, n: int, prefix: str) -> list[User]:
    people = User.objects.bulk_create(User(username=f"{prefix}{i:03}") for i in range(n))
    Membership.objects.bulk_create(Membership(user=p, organization=org) for p in people)
    return people


def _orgs(parent: Organization, n: int, prefix: str) -> list[Organization]:
    return [f.org(f"{prefix} {i:03}", parent) for i in range(n)]


def _last_in_tree_order(orgs: list[Organization]) -> Organization:
    """The organization a picker in tree order (``path``) offers last."""
    return max(orgs, key=lambda o: o.path)


def _options(client, url: str, **params) -> list[tuple[str, str]]:
    response = client.get(url, params)
    assert response.status_code == 200, response.content[:500]
    return [(value, html.unescape(text).strip()) for value, text in OPTION.findall(response.content.decode())]


def _values(options) -> set[str]:
    return {value for value, _ in options if value}


def _signed_in(client, user):
    client.force_login(user)
    return client


def test_member_candidates_never_offer_another_organizations_people(client, world):
    c = _signed_in(client, world["eastadmin"])
    offered = _values(_options(c, f"/console/organizations/{world['east'].pk}/", options="candidates"))
    assert str(world["easty"].pk) in offered
    assert str(world["westy"].pk) not in offered
    assert str(world["eastadmin"].pk) not in offered  # already a member of East
    assert not _values(_options(c, f"/console/organizations/{world['east'].pk}/", options="candidates", q="westy"))


def test_member_candidates_search_finds_a_person_beyond_the_first_page(client, world):
    _people(world["east_it"], PAGE + 10, "aaa")
    late = f.user("zz-late", world["east_it"])
    c = _signed_in(client, world["eastadmin"])
    first = _options(c, f"/console/organizations/{world['east'].pk}/", options="candidates")
    assert str(late.pk) not in _values(first)
    assert ("", "More than these: type to narrow the list") in first
    found = _options(c, f"/console/organizations/{world['east'].pk}/", options="candidates", q="zz-la")
    assert _values(found) == {str(late.pk)}


def test_the_organization_page_offers_the_first_page_of_candidates_and_a_search_box(client, world):
    _people(world["east_it"], PAGE + 10, "aaa")
    page = _signed_in(client, world["eastadmin"]).get(f"/console/organizations/{world['east'].pk}/")
    body = page.content.decode()
    assert 'data-testid="member-user-search"' in body
    assert f'hx-get="/console/organizations/{world["east"].pk}/?options=candidates"' in body
    assert len(page.context["candidates"].rows) == PAGE and page.context["candidates"].next_query


def test_a_new_organizations_parent_is_searched_among_those_the_user_may_change(client, world):
    late = _last_in_tree_order(_orgs(world["east_it"], PAGE + 5, "Lab"))
    c = _signed_in(client, world["eastadmin"])
    first = _values(_options(c, "/console/organizations/", options="parents"))
    assert str(world["east"].pk) in first and str(world["west"].pk) not in first and str(world["hq"].pk) not in first
    assert str(late.pk) not in first
    assert _values(_options(c, "/console/organizations/", options="parents", q=late.name)) == {str(late.pk)}
    assert not _values(_options(c, "/console/organizations/", options="parents", q="West"))


def test_a_refused_new_organization_keeps_its_chosen_parent_selected_though_beyond_the_first_page(client, world):
    late = _last_in_tree_order(_orgs(world["east_it"], PAGE + 5, "Lab"))
    c = _signed_in(client, world["eastadmin"])
    response = c.post("/console/organizations/", {"name": "", "parent": str(late.pk), "kind": "department"})
    assert response.status_code == 400
    assert response.context["parents"].rows[0] == (late.pk, "\u00a0\u00a0" * late.depth + late.name)


def test_a_move_offers_neither_the_organizations_own_subtree_nor_its_present_parent(client, world):
    c = _signed_in(client, world["eastadmin"])
    offered = _values(_options(c, f"/console/organizations/{world['east_it'].pk}/", options="parents"))
    assert str(world["east_it"].pk) not in offered and str(world["east"].pk) not in offered
    offered = _values(_options(c, f"/console/organizations/{world['east'].pk}/", options="parents"))
    assert offered.isdisjoint({str(world["east"].pk), str(world["east_it"].pk), str(world["west"].pk)})


def test_a_person_may_join_only_organizations_they_are_not_in_and_the_user_may_change(client, world):
    c = _signed_in(client, world["eastadmin"])
    offered = _values(_options(c, f"/console/organizations/users/{world['easty'].pk}/", options="joinable"))
    assert offered == {str(world["east"].pk)}  # East IT is theirs already; West and HQ are not eastadmin's
    late = _last_in_tree_order(_orgs(world["east"], PAGE + 5, "Lab"))
    found = _options(c, f"/console/organizations/users/{world['easty'].pk}/", options="joinable", q=late.name)
    assert _values(found) == {str(late.pk)}


def test_group_and_project_candidates_come_from_their_organization_and_are_searched(client, world):
    group = f.group(world["east_it"], name="East engineers")
    project = f.project(world["east_it"], name="Web shop")
    west_group = f.group(world["west_ops"], world["westy"], name="West engineers")
    _people(world["east_it"], PAGE + 10, "aaa")
    late = f.user("zz-late", world["east_it"])
    c = _signed_in(client, world["eastadmin"])
    for url in (f"/console/organizations/groups/{group.pk}/", f"/console/organizations/projects/{project.pk}/"):
        first = _values(_options(c, url, options="candidates"))
        assert str(world["westy"].pk) not in first and str(late.pk) not in first
        assert _values(_options(c, url, options="candidates", q="zz-late")) == {str(late.pk)}
        assert not _values(_options(c, url, options="candidates", q="westy"))
    groups = _values(_options(c, f"/console/organizations/projects/{project.pk}/", options="groups"))
    assert str(group.pk) in groups and str(west_group.pk) not in groups


def test_the_home_of_a_new_user_group_is_searched_among_the_users_organizations(client, world):
    late = _last_in_tree_order(_orgs(world["east_it"], PAGE + 5, "Lab"))
    c = _signed_in(client, world["eastadmin"])
    for url in ("/console/organizations/groups/", "/console/organizations/projects/", "/console/organizations/users/"):
        first = _values(_options(c, url, options="homes"))
        assert str(world["east"].pk) in first and str(world["west"].pk) not in first and str(late.pk) not in first
        assert _values(_options(c, url, options="homes", q=late.name)) == {str(late.pk)}


def test_the_organization_tree_pages_instead_of_stopping(client, world):
    _orgs(world["east_it"], PAGE + 5, "Lab")
    c = _signed_in(client, world["eastadmin"])
    first = c.get("/console/organizations/")
    assert len(first.context["orgs"]) == PAGE and first.context["page"].next_query
    second = c.get(f"/console/organizations/?{first.context['page'].next_query}")
    seen = {o.pk for o in first.context["orgs"]} | {o.pk for o in second.context["orgs"]}
    assert seen == set(Organization.objects.filter(path__startswith=world["east"].path).values_list("pk", flat=True))


def test_a_lists_own_search_and_cursor_never_narrow_the_pages_pickers(client, world):
    _people(world["east_it"], PAGE + 10, "aaa")
    c = _signed_in(client, world["eastadmin"])
    first = c.get("/console/organizations/users/")
    searched = c.get("/console/organizations/users/", {"q": "no such person"})
    further = c.get(f"/console/organizations/users/?{first.context['page'].next_query}")
    assert not searched.context["page"].rows and further.context["page"].rows
    for page in (searched, further):
        assert page.context["homes"].rows == first.context["homes"].rows
        assert (world["east"].pk, "\u00a0\u00a0" + "East") in page.context["homes"].rows
