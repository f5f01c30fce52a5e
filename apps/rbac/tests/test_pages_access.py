"""Console pages of access: roles, grants, policies and the access panel, scoped like the API."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.rbac.models import AccessPolicy, Grant, Role
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    hq = f.org("HQ", kind="headquarters")
    east = f.org("East", hq, kind="region")
    west = f.org("West", hq, kind="region")
    east_it = f.org("East IT", east)
    root = f.user("root", hq, is_superuser=True)
    secadmin = f.user("secadmin", hq)
    f.grant(f.predefined("security_administrator"), secadmin, None)
    eastadmin = f.user("eastadmin", east)
    f.grant(f.predefined("organization_administrator"), eastadmin, east)
    viewer = f.user("viewer", east)
    f.grant(f.predefined("viewer"), viewer, east)
    easty = f.user("easty", east_it)
    westy = f.user("westy", west)
    custom = Role.objects.create(key="east_reader", name="East reader", permissions=["organizations:*:read"],
                                 organization=east)
    return {"hq": hq, "east": east, "west": west, "east_it": east_it, "root": root, "secadmin": secadmin,
            "eastadmin": eastadmin, "viewer": viewer, "easty": easty, "westy": westy, "custom": custom,
            "east_grant": f.grant(f.predefined("viewer"), easty, east_it),
            "west_grant": f.grant(f.predefined("viewer"), westy, west),
            "policy": AccessPolicy.objects.create(name="Office only", organization=east, document={
                "Version": "1", "Statement": [{"Effect": "Deny", "Action": "core:operation:write", "Resource": "*",
                                               "Condition": {"NotIpAddress": {"acs:SourceIp": ["10.0.0.0/8"]}}}]}),
            "west_policy": AccessPolicy.objects.create(name="West rules", organization=west, document={
                "Version": "1", "Statement": [{"Effect": "Allow", "Action": "*:*:read", "Resource": "*"}]})}


def _as(client, user):
    client.force_login(user)
    return client


def test_every_access_page_renders_for_the_platform_administrator(client, world):
    _as(client, world["root"])
    predefined = f.predefined("organization_administrator")
    for url in ["/console/access/", "/console/access/grants/", "/console/access/grants/new/",
                "/console/access/roles/new/", f"/console/access/roles/{predefined.pk}/",
                f"/console/access/roles/{world['custom'].pk}/", f"/console/access/roles/{world['custom'].pk}/edit/",
                "/console/access/policies/", "/console/access/policies/new/",
                f"/console/access/policies/{world['policy'].pk}/", "/console/access/explain/",
                "/console/access/matrix/"]:
        assert client.get(url).status_code == 200, url
    role_page = client.get(f"/console/access/roles/{predefined.pk}/").content.decode()
    assert "Predefined · read-only" in role_page and 'data-testid="actions"' not in role_page
    assert "organizations:organization:write" in role_page  # grouped by service, from the catalog
    form = client.get("/console/access/roles/new/").content.decode()
    assert 'data-testid="permission-filter"' in form and 'value="rbac:grant:write"' in form


def test_role_create_edit_and_delete_through_the_picker(client, world):
    _as(client, world["secadmin"])
    response = client.post("/console/access/roles/new/", {
        "name": "Grant keeper", "key": "", "description": "Reads and writes grants", "organization": "",
        "permissions": ["rbac:grant:read", "rbac:grant:write"], "patterns": "organizations:*:read"})
    role = Role.objects.get(name="Grant keeper")
    assert response.status_code == 302 and response.url == f"/console/access/roles/{role.pk}/"
    assert role.permissions == ["rbac:grant:read", "rbac:grant:write", "organizations:*:read"]
    edit = client.get(f"/console/access/roles/{role.pk}/edit/").content.decode()
    assert 'value="rbac:grant:write" checked' in edit and "organizations:*:read" in edit
    client.post(f"/console/access/roles/{role.pk}/edit/", {"name": "Grant keeper 2",
                                                          "permissions": ["rbac:grant:read"]})
    role.refresh_from_db()
    assert role.name == "Grant keeper 2" and role.permissions == ["rbac:grant:read"]
    f.grant(role, world["easty"], world["east"])
    response = client.post(f"/console/access/roles/{role.pk}/delete/")
    assert response.status_code == 422 and "still granted 1 time" in response.content.decode()
    Grant.objects.filter(role=role).delete()
    assert client.post(f"/console/access/roles/{role.pk}/delete/").status_code == 302
    assert not Role.objects.filter(pk=role.pk).exists()


def test_a_bad_role_is_refused_with_the_exact_path_and_nothing_is_created(client, world):
    _as(client, world["secadmin"])
    response = client.post("/console/access/roles/new/", {"name": "Broken", "permissions": ["rbac:grant:read"],
                                                           "patterns": "no:such:code\nBAD CODE"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "permissions[1]" in html and "is not in the permission catalog" in html and "permissions[2]" in html
    assert 'value="rbac:grant:read" checked' in html  # the form keeps what was chosen
    assert client.post("/console/access/roles/new/", {"name": "Empty"}).status_code == 400
    assert not Role.objects.filter(name__in=["Broken", "Empty"]).exists()


def test_predefined_roles_cannot_be_edited(client, world):
    _as(client, world["root"])
    role = f.predefined("viewer")
    response = client.post(f"/console/access/roles/{role.pk}/edit/", {"name": "Hacked", "permissions": ["*"]})
    assert response.status_code == 422 and "Predefined roles cannot be changed" in response.content.decode()
    assert client.post(f"/console/access/roles/{role.pk}/delete/").status_code == 422
    role.refresh_from_db()
    assert role.name == "Viewer"


@pytest.mark.parametrize("grantee_type,scope_type", [
    ("user", "organization"), ("group", "organization"), ("organization", "organization"),
    ("user", "project"), ("group", "project"), ("project", "project"),
    ("user", "platform"), ("group", "cloud_service"), ("organization", "cloud_platform"),
])
def test_grants_for_every_grantee_and_scope_type(client, world, grantee_type, scope_type):
    _as(client, world["root"])
    group = f.group(world["east_it"], world["easty"])
    project = f.project(world["east_it"], world["easty"])
    project.groups.add(group)
    grantee = {"user": world["easty"], "group": group, "organization": world["east_it"], "project": project}
    data = {"role": str(f.predefined("operator").pk), "grantee_type": grantee_type,
            "grantee": str(grantee[grantee_type].pk), "scope_type": scope_type,
            "scope": str(project.pk if scope_type == "project" else world["east_it"].pk),
            "scope_key": "ecs" if scope_type == "cloud_service" else "platform-1", "note": "ticket 42"}
    response = client.post("/console/access/grants/new/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    grant = Grant.objects.get(note="ticket 42")
    assert grant.grantee_type == grantee_type and grant.scope_type == scope_type


def test_grant_errors_are_clear_and_change_nothing(client, world):
    _as(client, world["root"])
    before = Grant.objects.count()
    base = {"role": str(f.predefined("viewer").pk), "grantee_type": "user", "grantee": str(world["easty"].pk),
            "scope_type": "organization", "scope": str(world["east"].pk)}
    response = client.post("/console/access/grants/new/", {**base, "grantee": ""})
    assert response.status_code == 400 and "grantee is required" in response.content.decode()
    response = client.post("/console/access/grants/new/", {**base, "scope": ""})
    assert response.status_code == 400 and "scope is required" in response.content.decode()
    response = client.post("/console/access/grants/new/", {**base, "scope_type": "cloud_service", "scope_key": "!"})
    assert response.status_code == 400 and "needs its id or code" in response.content.decode()
    response = client.post("/console/access/grants/new/", {**base, "scope_type": "galaxy"})
    assert response.status_code == 400 and "Unknown scope type" in response.content.decode()
    project = f.project(world["east_it"])
    response = client.post("/console/access/grants/new/", {**base, "scope_type": "project", "scope": str(project.pk)})
    assert response.status_code == 422 and "not a member of the project" in response.content.decode()
    f.grant(f.predefined("security_auditor"), world["easty"], None)
    response = client.post("/console/access/grants/new/", {**base, "role": str(f.predefined("security_administrator")
                                                                                .pk), "scope_type": "platform"})
    assert response.status_code == 422
    assert "Separated duties cannot be combined: easty would hold" in response.content.decode()
    assert Grant.objects.count() == before + 1  # only the auditor grant written above


def test_an_organization_administrator_grants_in_their_subtree_only(client, world):
    _as(client, world["eastadmin"])
    assert client.get(f"/console/access/panel/organization/{world['west'].pk}/").status_code == 404
    assert client.get(f"/console/access/panel/user/{world['westy'].pk}/").status_code == 404
    assert client.post(f"/console/access/grants/{world['west_grant'].pk}/revoke/").status_code == 404
    assert client.get(f"/console/access/policies/{world['west_policy'].pk}/").status_code == 404
    grants = client.get("/console/access/grants/").content.decode()
    assert "easty" in grants and "westy" not in grants
    reader = str(world["custom"].pk)  # built from permissions they hold: no escalation
    response = client.post("/console/access/grants/new/", {"role": reader, "grantee_type": "user",
                                                           "grantee": str(world["easty"].pk),
                                                           "scope_type": "organization",
                                                           "scope": str(world["west"].pk)})
    assert response.status_code == 400 and "scope was not found" in response.content.decode()
    response = client.post("/console/access/grants/new/", {"role": reader, "grantee_type": "user",
                                                           "grantee": str(world["easty"].pk),
                                                           "scope_type": "organization",
                                                           "scope": str(world["east"].pk),
                                                           "next": f"/console/organizations/{world['east'].pk}/"})
    assert response.status_code == 302 and response.url == f"/console/organizations/{world['east'].pk}/"
    assert Grant.objects.filter(user=world["easty"], scope_organization=world["east"]).exists()
    viewer = str(f.predefined("viewer").pk)  # its wildcards reach beyond what they hold
    response = client.post("/console/access/grants/new/", {"role": viewer, "grantee_type": "user",
                                                           "grantee": str(world["easty"].pk),
                                                           "scope_type": "organization",
                                                           "scope": str(world["east"].pk)})
    assert response.status_code == 403 and "permissions you do not hold" in response.content.decode()
    response = client.post(f"/console/access/grants/{world['east_grant'].pk}/revoke/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Revoked" in response.content.decode()
    assert not Grant.objects.filter(pk=world["east_grant"].pk).exists()


def test_a_viewer_sees_roles_without_buttons_and_gets_403_when_posting(client, world):
    _as(client, world["viewer"])
    role = world["custom"]
    page = client.get(f"/console/access/roles/{role.pk}/").content.decode()
    assert 'data-testid="actions"' not in page
    assert 'New custom role' not in client.get("/console/access/").content.decode()
    assert client.post(f"/console/access/roles/{role.pk}/edit/", {"name": "x", "permissions": ["rbac:role:read"]}
                       ).status_code == 403
    assert client.post(f"/console/access/roles/{role.pk}/delete/").status_code == 403
    assert client.post("/console/access/roles/new/", {"name": "Mine", "organization": str(world["east"].pk),
                                                      "permissions": ["rbac:role:read"]}).status_code == 403
    role.refresh_from_db()
    assert role.name == "East reader" and not Role.objects.filter(name="Mine").exists()
    panel = client.get(f"/console/access/panel/organization/{world['east'].pk}/").content.decode()
    assert "Grant a role" not in panel


def test_policy_edit_shows_path_exact_errors_inline_and_keeps_the_document(client, world):
    _as(client, world["secadmin"])
    policy = world["policy"]
    broken = {"Version": "1", "Statement": [{"Effect": "Maybe", "Action": ["core:operation:write"],
                                             "Resource": "org/not-a-uuid"}]}
    response = client.post(f"/console/access/policies/{policy.pk}/", {"name": "Office only",
                                                                      "document": json.dumps(broken)})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-testid="document-errors"' in html
    assert "Statement[0].Effect" in html and "Statement[0].Resource[0]" in html
    assert "Maybe" in html  # the editor keeps what was typed
    response = client.post(f"/console/access/policies/{policy.pk}/", {"name": "Office only", "document": "{oops"})
    assert response.status_code == 400 and "not JSON" in response.content.decode()
    policy.refresh_from_db()
    assert policy.document["Statement"][0]["Effect"] == "Deny"
    wide = {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*:*:read", "Resource": "*"}]}
    response = client.post(f"/console/access/policies/{policy.pk}/", {"name": "Readers", "document": json.dumps(wide)})
    assert response.status_code == 403  # allows reading the audit log, which a security administrator may not
    fixed = {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "organizations:*:read",
                                            "Resource": f"org/{world['east'].pk}"}]}
    response = client.post(f"/console/access/policies/{policy.pk}/", {"name": "Readers", "document": json.dumps(fixed)})
    assert response.status_code == 302
    policy.refresh_from_db()
    assert policy.name == "Readers" and policy.document == fixed


def test_policy_create_attach_detach_and_delete(client, world):
    _as(client, world["secadmin"])
    document = {"Version": "1", "Statement": [{"Effect": "Deny", "Action": "rbac:*", "Resource": "*"}]}
    response = client.post("/console/access/policies/new/", {"name": "No RBAC", "organization": str(world["east"].pk),
                                                             "document": json.dumps(document)})
    policy = AccessPolicy.objects.get(name="No RBAC")
    assert response.url == f"/console/access/policies/{policy.pk}/"
    group = f.group(world["east_it"], world["easty"])
    client.post(f"/console/access/policies/{policy.pk}/attach/", {"user": str(world["easty"].pk)})
    client.post(f"/console/access/policies/{policy.pk}/attach/", {"group": str(group.pk)})
    assert policy.users.filter(pk=world["easty"].pk).exists() and policy.groups.filter(pk=group.pk).exists()
    response = client.post(f"/console/access/policies/{policy.pk}/attach/", {"user": str(world["westy"].pk)})
    assert response.status_code == 422 and "another organization" in response.content.decode()
    assert client.post(f"/console/access/policies/{policy.pk}/attach/", {}).status_code == 400
    panel = client.get(f"/console/access/panel/user/{world['easty'].pk}/").content.decode()
    assert "No RBAC" in panel
    client.post(f"/console/access/policies/{policy.pk}/detach/", {"user": str(world["easty"].pk)})
    client.post(f"/console/access/policies/{policy.pk}/detach/", {"group": str(group.pk)})
    assert not policy.users.exists() and not policy.groups.exists()
    response = client.post("/console/access/policies/new/", {"name": "Bad", "document": '{"Statement": []}'})
    assert response.status_code == 400 and "must be a non-empty list of statements" in response.content.decode()
    client.post(f"/console/access/policies/{policy.pk}/delete/")
    assert not AccessPolicy.objects.filter(name__in=["No RBAC", "Bad"]).exists()


def test_the_user_panel_lists_direct_and_inherited_grants_with_why_links(client, world):
    _as(client, world["root"])
    easty = world["easty"]
    group = f.group(world["east_it"], easty, name="Night shift")
    f.grant(f.predefined("operator"), group, world["east_it"])
    f.grant(f.predefined("billing_administrator"), world["east"], world["east"])
    html = client.get(f"/console/access/panel/user/{easty.pk}/").content.decode()
    assert "through group Night shift" in html and "as a member of East" in html and ">direct<" in html
    assert "Organization member" in html
    assert html.count('data-testid="why"') >= 3
    why = client.get("/console/access/explain/", {"user": str(easty.pk), "action": "core:operation:operate",
                                                  "target_type": "organizations.organization",
                                                  "target_id": str(world["east_it"].pk)})
    assert "Allowed" in why.content.decode() and "Night shift" in why.content.decode()


def test_grants_list_filters_and_pages_by_keyset(client, world):
    role = f.predefined("viewer")
    people = [f.user(f"bulk{i:02d}", world["east_it"]) for i in range(55)]
    for person in people:
        f.grant(role, person, world["east_it"])
    _as(client, world["root"])
    first = client.get("/console/access/grants/", {"q": "bulk"})
    page = first.context["page"]
    assert len(page.rows) == 50 and page.next_query
    second = client.get(f"/console/access/grants/?{page.next_query}").context["page"]
    assert len(second.rows) == 5 and second.next_query is None
    assert not {g.pk for g in page.rows} & {g.pk for g in second.rows}
    by_role = client.get("/console/access/grants/", {"role": str(world["custom"].pk)}).context["page"]
    assert by_role.rows == []


def _queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx)


@pytest.mark.parametrize("url", ["/console/access/", "/console/access/grants/", "/console/access/policies/"])
def test_access_lists_cost_the_same_queries_when_rows_grow(client, world, url):
    _as(client, world["eastadmin"] if "policies" not in url else world["secadmin"])
    _queries(client, url)
    few = _queries(client, url)
    for i in range(15):
        person = f.user(f"extra{i}", world["east_it"])
        f.grant(f.predefined("viewer"), person, world["east_it"])
        Role.objects.create(key=f"extra_{i}", name=f"Extra {i}", permissions=["rbac:role:read"],
                            organization=world["east"])
        policy = AccessPolicy.objects.create(name=f"P{i}", organization=world["east"], document={
            "Version": "1", "Statement": [{"Effect": "Allow", "Action": "*:*:read", "Resource": "*"}]})
        policy.users.add(person)
    many = _queries(client, url)
    assert many <= few, (url, few, many)
