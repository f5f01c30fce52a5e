"""Approval levels through the API: a person decides at most one level of a request, and a level
that needs a role is satisfied only by that role held where the request is (its organization or
an ancestor of it, its project, or the whole platform), not by the same role held elsewhere."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.provisioning.models import ApprovalDecision, ApprovalPolicy, ChangeRecord, ProvisioningRequest
from apps.provisioning.tests.conftest import spec
from apps.rbac.models import Role
from tests import factories as f

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def submit(world: dict[str, Any], project=None) -> dict[str, Any]:
    body = {"project": str((project or world["project"]).pk), "platform": world["platform"].pk,
            "region": "cn-hangzhou", "spec": spec(world), "count": 1}
    response = api(world["tenant"]).post("/api/v1/provisioning/requests/", body, format="json")
    assert response.status_code == 202, response.content
    return response.json()


def approve(user, request_id: str):
    return api(user).post(f"/api/v1/provisioning/requests/{request_id}/approve/", {"comment": "ok"}, format="json")


def snapshot(request_id: str) -> tuple:
    row = ProvisioningRequest.objects.get(pk=request_id)
    return (row.status, row.level, ApprovalDecision.objects.filter(request=row).count(), row.events.count(),
            ChangeRecord.objects.filter(request=row).count())


def two_levels(organization, **level: Any) -> ApprovalPolicy:
    levels = [{"mode": "any", "roles": [], "users": [], **level}] * 2
    return ApprovalPolicy.objects.create(organization=organization, name="two levels", levels=levels)


def approver_in(org, username: str):
    """A person who may approve requests in ``org`` (and below), holding no level's role yet."""
    person = f.user(username, org)
    f.grant(Role.objects.get(key="approver_role"), person, org)
    return person


@pytest.mark.parametrize("level", [{"roles": ["reviewer"]}, {"users": "both"}], ids=["by role", "by user"])
def test_one_person_cannot_approve_two_levels(world, level):
    reviewer = f.role(key="reviewer")
    second = approver_in(world["hq"], "second")
    for person in (world["approver"], second):
        f.grant(reviewer, person, world["hq"])
    if level.get("users") == "both":
        level = {"users": [str(world["approver"].pk), str(second.pk)]}
    two_levels(world["hq"], **level)
    request_id = submit(world)["id"]

    first = approve(world["approver"], request_id)
    assert first.status_code == 202, first.content
    assert first.json()["level"] == 1 and first.json()["status"] == "pending"
    before = snapshot(request_id)

    again = approve(world["approver"], request_id)
    assert again.status_code == 409, again.content
    body = again.json()
    assert body["code"] == "already_decided" and body["message"] and isinstance(body["detail"], dict)
    assert snapshot(request_id) == before

    other = approve(second, request_id)
    assert other.status_code == 202, other.content
    assert other.json()["status"] in ("approved", "provisioning")
    assert ChangeRecord.objects.filter(request_id=request_id).count() == 1


def test_a_person_who_decided_a_level_may_not_deny_the_next(world):
    reviewer = f.role(key="reviewer")
    second = approver_in(world["hq"], "second")
    for person in (world["approver"], second):
        f.grant(reviewer, person, world["hq"])
    two_levels(world["hq"], roles=["reviewer"])
    request_id = submit(world)["id"]
    assert approve(world["approver"], request_id).status_code == 202
    before = snapshot(request_id)
    response = api(world["approver"]).post(f"/api/v1/provisioning/requests/{request_id}/deny/",
                                           {"comment": "changed my mind"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "already_decided"
    assert snapshot(request_id) == before


def test_a_role_held_on_an_unrelated_organization_does_not_approve(world):
    reviewer = f.role(key="reviewer")
    stranger = approver_in(world["hq"], "stranger")
    f.grant(reviewer, stranger, world["other"])  # the role, but in another organization
    two_levels(world["hq"], roles=["reviewer"])
    request_id = submit(world)["id"]
    before = snapshot(request_id)

    response = approve(stranger, request_id)
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "not_an_approver"
    assert snapshot(request_id) == before


def test_a_role_held_on_an_ancestor_organization_approves(world):
    department = f.org("Web department", world["hq"])
    project = f.project(department, world["tenant"], name="dept-web")
    reviewer = f.role(key="reviewer")
    lead = approver_in(world["hq"], "lead")
    f.grant(reviewer, lead, world["hq"])  # held on the parent of the request's organization
    ApprovalPolicy.objects.create(organization=department, name="one level",
                                  levels=[{"mode": "any", "roles": ["reviewer"], "users": []}])
    request_id = submit(world, project=project)["id"]

    response = approve(lead, request_id)
    assert response.status_code == 202, response.content
    assert response.json()["status"] in ("approved", "provisioning")


def test_a_role_held_on_a_sibling_organization_does_not_approve(world):
    department = f.org("Web department", world["hq"])
    sibling = f.org("Finance department", world["hq"])
    project = f.project(department, world["tenant"], name="dept-web")
    reviewer = f.role(key="reviewer")
    accountant = approver_in(world["hq"], "accountant")
    f.grant(reviewer, accountant, sibling)
    ApprovalPolicy.objects.create(organization=department, name="one level",
                                  levels=[{"mode": "all", "roles": ["reviewer"], "users": []}])
    request_id = submit(world, project=project)["id"]
    assert approve(accountant, request_id).status_code == 403
    assert ProvisioningRequest.objects.get(pk=request_id).status == "pending"


@pytest.mark.parametrize("through", ["organization", "project"])
def test_a_role_held_only_through_an_organization_or_project_grant_approves(world, through):
    """The approver role given to everyone of an organization (or to the members of a project)
    reaches a person who belongs to it: they may decide the level that names that role."""
    department = f.org("Web department", world["hq"])
    project = f.project(department, world["tenant"], name="dept-web")
    lead = f.user("lead", department)
    approver_role = Role.objects.get(key="approver_role")
    if through == "organization":
        f.grant(approver_role, department, department)
    else:
        project.members.add(lead)
        f.grant(approver_role, project, project)
    ApprovalPolicy.objects.create(organization=department, name="one level",
                                  levels=[{"mode": "all", "roles": ["approver_role"], "users": []}])
    request_id = submit(world, project=project)["id"]

    response = approve(lead, request_id)
    assert response.status_code == 202, response.content
    assert response.json()["status"] in ("approved", "provisioning")
