"""Rules of the API: separated duties, no escalation, project grants, policy validation, explain,
the access matrix, and constant query counts for lists."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core.models import Operation
from apps.rbac.models import Grant
from tests import factories as f
from tests.fixtures import api_as

pytestmark = pytest.mark.django_db


@pytest.fixture
def hq():
    return f.org("HQ")


@pytest.fixture
def root(hq):
    return api_as(f.user("root", hq, is_superuser=True))


def grant_body(role, user, scope_type="platform", scope=None):
    return {"role": str(role.pk), "grantee_type": "user", "grantee": str(user.pk), "scope_type": scope_type,
            "scope": str(scope.pk) if scope else None}


def test_a_second_separated_duty_is_refused_with_a_clear_code(hq, root):
    sam = f.user("sam", hq)
    assert root.post("/api/v1/rbac/grants/", grant_body(f.predefined("system_administrator"), sam)).status_code == 201
    refused = root.post("/api/v1/rbac/grants/", grant_body(f.predefined("security_auditor"), sam))
    assert refused.status_code == 422
    assert refused.json()["code"] == "separation_of_duties"
    assert Grant.objects.filter(user=sam).count() == 1


def test_joining_a_group_that_holds_another_duty_is_refused(hq, root):
    from apps.organizations.models import UserGroup

    sam = f.user("sam", hq)
    auditors = f.group(hq, name="auditors")
    f.grant(f.predefined("security_auditor"), auditors, None)
    f.grant(f.predefined("security_administrator"), sam, None)
    response = root.post(f"/api/v1/organizations/groups/{auditors.pk}/add-member/", {"user": str(sam.pk)})
    assert response.status_code == 422 and response.json()["code"] == "separation_of_duties"
    assert not UserGroup.objects.filter(pk=auditors.pk, members=sam).exists()


def test_a_platform_administrator_cannot_also_be_security_auditor(hq, root):
    boss = f.user("boss", hq, is_superuser=True)
    response = root.post("/api/v1/rbac/grants/", grant_body(f.predefined("security_auditor"), boss))
    assert response.status_code == 422 and response.json()["code"] == "separation_of_duties"


def test_organization_administrators_cannot_hand_out_more_than_they_hold(hq):
    east = f.org("East", hq)
    admin = f.user("eastadmin", east)
    f.grant(f.predefined("organization_administrator"), admin, east)
    worker = f.user("worker", east)
    client = api_as(admin)
    escalation = client.post("/api/v1/rbac/grants/", grant_body(f.predefined("system_administrator"), worker,
                                                                 "organization", east))
    assert escalation.status_code == 403 and escalation.json()["code"] == "escalation_refused"
    ok = client.post("/api/v1/rbac/grants/", grant_body(f.predefined("viewer"), worker, "organization", east))
    assert ok.status_code == 403  # viewer reads billing, which the organization administrator does not hold
    own = client.post("/api/v1/rbac/grants/", grant_body(f.predefined("organization_member"), worker,
                                                         "organization", east))
    assert own.status_code == 201, own.content
    platform = client.post("/api/v1/rbac/grants/", grant_body(f.predefined("organization_member"), worker))
    assert platform.status_code == 403


def test_project_grants_must_name_the_projects_own_people(hq, root):
    ann = f.user("ann", hq)
    outsider = f.user("out", hq)
    web = f.project(hq, ann, name="web")
    viewer = f.predefined("viewer")
    assert root.post("/api/v1/rbac/grants/", grant_body(viewer, ann, "project", web)).status_code == 201
    refused = root.post("/api/v1/rbac/grants/", grant_body(viewer, outsider, "project", web))
    assert refused.status_code == 422 and refused.json()["code"] == "grantee_not_in_project"


def test_an_invalid_policy_is_refused_with_the_exact_path(root):
    response = root.post("/api/v1/rbac/policies/", {"name": "bad", "document": {"Statement": [
        {"Effect": "Allow", "Action": "core:*", "Resource": "*"},
        {"Effect": "Maybe", "Action": ["core:*", "NOT A CODE"], "Resource": "org/xyz",
         "Condition": {"IpAddress": {"acs:SourceIp": ["300.1.1.1"]}}}]}}, format="json")
    assert response.status_code == 400
    body = response.json()
    paths = {e["path"] for e in body["detail"]["document"]}
    assert {"Statement[1].Effect", "Statement[1].Action[1]", "Statement[1].Resource[0]",
            "Statement[1].Condition.IpAddress.acs:SourceIp[0]"} <= paths
    assert "Statement[1].Effect" in body["message"]


def test_explain_names_the_grant_that_allows(hq, root):
    east = f.org("East", hq)
    bob = f.user("bob")
    grant = f.grant(f.predefined("operator"), bob, hq)
    target = Operation.objects.create(organization=east, kind="t")
    response = root.get("/api/v1/rbac/explain/", {"user": str(bob.pk), "action": "core:operation:write",
                                                  "target_type": "core.operation", "target_id": target.pk})
    body = response.json()
    assert response.status_code == 200 and body["allowed"] is True
    assert body["allowed_by"][0]["grant"] == str(grant.pk)
    denied = root.get("/api/v1/rbac/explain/", {"user": str(bob.pk), "action": "audit:log:read"}).json()
    assert denied["allowed"] is False and denied["reason"] == "implicit_deny"


def test_access_matrix_exports_csv(hq, root):
    f.user("carol", hq)
    response = root.get("/api/v1/rbac/matrix/", {"organization": str(hq.pk), "export": "csv"})
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    header, *rows = response.content.decode().splitlines()
    assert header.startswith("username,display_name,") and "core:operation:read" in header
    assert any(r.startswith("carol,") for r in rows)


def test_list_queries_do_not_grow_with_page_size(hq):
    depts = [f.org(f"d{i}", hq) for i in range(5)]
    Operation.objects.bulk_create([Operation(organization=depts[i % 5], kind="t") for i in range(120)])
    member = f.user("m", hq)
    f.grant(f.predefined("viewer"), member, depts[0])
    counts = []
    for size in (10, 50):
        client = api_as(member)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/api/v1/core/operations/", {"page_size": size}).status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1] and counts[0] <= 12, counts


def test_predefined_roles_cannot_be_changed(root):
    role = f.predefined("viewer")
    response = root.patch(f"/api/v1/rbac/roles/{role.pk}/", {"name": "x"}, format="json")
    assert response.status_code == 422 and response.json()["code"] == "predefined_role"


@pytest.mark.parametrize("api", [True, False])
def test_the_access_matrix_costs_the_same_queries_for_5_or_50_people(api):
    from django.test import Client

    hq = f.org("HQ")
    admin = f.user("matrix-admin", hq)
    f.grant(f.predefined("organization_administrator"), admin, hq)
    team = f.org("Team", hq)
    reader = f.role("core:operation:read", key="matrix_reader")
    group = f.group(team, name="matrix-group")
    project = f.project(team, name="matrix-project")
    project.groups.add(group)

    def add_people(n: int, tag: str) -> None:
        for i in range(n):
            person = f.user(f"{tag}-{i}", team)
            group.members.add(person)
            f.grant(reader, person, team)

    def queries() -> int:
        client = Client()
        client.force_login(admin)
        url = (f"/api/v1/rbac/matrix/?organization={team.pk}" if api
               else f"/console/access/matrix/?organization={team.pk}")
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    add_people(5, "few")
    few = queries()
    add_people(45, "many")
    many = queries()
    assert many == few, f"{few} queries for 5 people, {many} for 50"
