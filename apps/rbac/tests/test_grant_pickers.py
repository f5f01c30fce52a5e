"""The pickers of the access pages (grant form, role and policy owner, access matrix) page and search as
you type: only what the user may see is offered, never another organization's, and a search finds
a choice far beyond the first page; a form shown again keeps what was chosen."""

from __future__ import annotations

import html
import re

import pytest

from apps.core.pagination import CursorPagination
from apps.organizations.models import Membership, Organization, User
from apps.rbac.models import AccessPolicy, Grant, Role
from tests import factories as f

pytestmark = pytest.mark.django_db

PAGE = CursorPagination.page_size
OPTION = re.compile(r'<option value="([^"]*)"[^>]*>([^<]*)</option>')
FORM = "/console/access/grants/new/"


@pytest.fixture
def world():
    hq = f.org("HQ", kind="headquarters")
    east = f.org("East", hq, kind="region")
    west = f.org("West", hq, kind="region")
    east_it = f.org("East IT", east)
    eastadmin = f.user("eastadmin", east)
    f.grant(f.predefined("organization_administrator"), eastadmin, east)
    return {"hq": hq, "east": east, "west": west, "east_it": east_it, "eastadmin": eastadmin,
            "easty": f.user("easty", east_it), "westy": f.user("westy", west),
            "east_project": f.project(east_it, name="Web shop"), "west_project": f.project(west, name="Warehouse"),
            "east_group": f.group(east_it, name="East engineers"), "west_group": f.group(west, name="West engineers")}


def _people(org: Organization, n: int) -> None:
    people = User.objects.bulk_create(User(username=f"aaa{i:03}") for i in range(n))
    Membership.objects.bulk_create(Membership(user=p, organization=org) for p in people)


def _options(client, url: str, **params) -> set[str]:
    response = client.get(url, params)
    assert response.status_code == 200, response.content[:500]
    return {value for value, _ in OPTION.findall(response.content.decode()) if value}


def _access_author(world) -> User:
    """A person of East who may write roles and access policies there (and read its people)."""
    author = f.user("author", world["east"])
    maker = Role.objects.create(key="access_author", name="Access author", organization=world["east"],
                                permissions=["rbac:*:write", "rbac:*:read", "organizations:*:read"])
    f.grant(maker, author, world["east"])
    return author


def _signed_in(client, user):
    client.force_login(user)
    return client


@pytest.mark.parametrize("kind, mine, theirs", [
    ("user", "easty", "westy"), ("organization", "east_it", "west"), ("project", "east_project", "west_project"),
    ("group", "east_group", "west_group")])
def test_the_grant_form_never_offers_another_organizations_grantees_or_scopes(client, world, kind, mine, theirs):
    c = _signed_in(client, world["eastadmin"])
    offered = _options(c, FORM, options=kind)
    assert str(world[mine].pk) in offered and str(world[theirs].pk) not in offered
    assert not _options(c, FORM, options=kind, q=html.escape(str(getattr(world[theirs], "name", "westy"))))


def test_the_grant_forms_person_picker_finds_someone_beyond_the_first_page(client, world):
    _people(world["east_it"], PAGE + 10)
    late = f.user("zz-late", world["east_it"])
    c = _signed_in(client, world["eastadmin"])
    form = c.get(FORM)
    assert len(form.context["users"].rows) == PAGE and str(late.pk) not in _options(c, FORM)
    assert 'data-testid="grantee-user-search"' in form.content.decode()
    assert _options(c, FORM, options="user", q="zz-l") == {str(late.pk)}


def test_a_refused_grant_keeps_the_chosen_person_selected_though_beyond_the_first_page(client, world):
    _people(world["east_it"], PAGE + 10)
    late = f.user("zz-late", world["east_it"])
    c = _signed_in(client, world["eastadmin"])
    response = c.post(FORM, {"role": "", "grantee_type": "user", "grantee": str(late.pk),
                             "scope_type": "organization", "scope": str(world["east_it"].pk)})
    assert response.status_code == 400
    assert not Grant.objects.filter(user=late).exists()
    body = response.content.decode()
    assert f'<option value="{late.pk}" selected>zz-late</option>' in body
    assert f'<option value="{world["east_it"].pk}" selected>' in body


def test_the_role_owner_is_searched_among_the_organizations_where_roles_may_be_made(client, world):
    late = max((f.org(f"Lab {i:03}", world["east_it"]) for i in range(PAGE + 5)), key=lambda o: o.path)
    c = _signed_in(client, _access_author(world))
    for url in ("/console/access/roles/new/", "/console/access/policies/new/"):
        first = _options(c, url)
        assert str(world["east"].pk) in first and str(world["west"].pk) not in first and str(late.pk) not in first
        assert _options(c, url, options="owner", q=late.name) == {str(late.pk)}
        assert not _options(c, url, options="owner", q="West")


def test_the_access_matrix_searches_its_organization_and_keeps_the_one_shown(client, world):
    late = max((f.org(f"Lab {i:03}", world["east_it"]) for i in range(PAGE + 5)), key=lambda o: o.path)
    c = _signed_in(client, world["eastadmin"])
    assert _options(c, "/console/access/matrix/", options="organization", q=late.name) == {str(late.pk)}
    shown = c.get("/console/access/matrix/", {"organization": str(late.pk)})
    assert shown.status_code == 200
    assert f'<option value="{late.pk}" selected>' in shown.content.decode()
    assert str(world["west"].pk) not in _options(c, "/console/access/matrix/", options="organization", q="West")


def test_a_policy_is_attached_only_to_its_own_organizations_people_and_groups_searched(client, world):
    policy = AccessPolicy.objects.create(name="East rules", organization=world["east"], document={
        "Version": "1", "Statement": [{"Effect": "Allow", "Action": "*:*:read", "Resource": "*"}]})
    _people(world["east_it"], PAGE + 10)
    late = f.user("zz-late", world["east_it"])
    url = f"/console/access/policies/{policy.pk}/"
    c = _signed_in(client, _access_author(world))
    first = _options(c, url)
    assert str(late.pk) not in first and str(world["westy"].pk) not in first
    assert str(world["east_group"].pk) in first and str(world["west_group"].pk) not in first
    assert _options(c, url, options="user", q="zz-late") == {str(late.pk)}
    assert not _options(c, url, options="user", q="westy")
    assert not _options(c, url, options="group", q="West")


def test_the_why_page_searches_the_people_the_user_can_see(client, world):
    _people(world["east_it"], PAGE + 10)
    late = f.user("zz-late", world["east_it"])
    c = _signed_in(client, world["eastadmin"])
    assert _options(c, "/console/access/explain/", options="user", q="zz-late") == {str(late.pk)}
    assert not _options(c, "/console/access/explain/", options="user", q="westy")
    shown = c.get("/console/access/explain/", {"user": str(late.pk)}).content.decode()
    assert f'<option value="{late.pk}" selected>zz-late</option>' in shown


def test_the_access_policy_list_pages_instead_of_stopping(client, world):
    document = {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*:*:read", "Resource": "*"}]}
    AccessPolicy.objects.bulk_create(AccessPolicy(name=f"Rule {i:03}", organization=world["east"], document=document)
                                     for i in range(PAGE + 3))
    AccessPolicy.objects.create(name="West rules", organization=world["west"], document=document)
    c = _signed_in(client, _access_author(world))
    first = c.get("/console/access/policies/")
    second = c.get(f"/console/access/policies/?{first.context['page'].next_query}")
    names = [p.name for p in first.context["policies"]] + [p.name for p in second.context["policies"]]
    assert names == [f"Rule {i:03}" for i in range(PAGE + 3)]
    assert [p.name for p in c.get("/console/access/policies/", {"q": "Rule 052"}).context["policies"]] == ["Rule 052"]
