"""Separation of duties holds whichever way a person would reach a second duty: joining a user
group that belongs to a project with a duty grant, or an organization moved under a parent whose
members hold another duty."""

from __future__ import annotations

import pytest

from apps.core.errors import ApplicationError
from apps.organizations import services as org_services
from apps.organizations.models import Organization, UserGroup
from apps.rbac import services
from apps.rbac.services import user_duties
from apps.rbac.tests import factories as f
from apps.rbac.tests.conftest import api_as

pytestmark = pytest.mark.django_db


def _grant(role_key, grantee_type, grantee, scope_type="platform", scope=None):
    return services.grant_create(actor=None, role=f.predefined(role_key), grantee_type=grantee_type,
                                 grantee=grantee, scope_type=scope_type, scope=scope)


def test_joining_a_group_whose_project_members_hold_a_duty_is_refused():
    a = f.org("A")
    project = f.project(a, name="P")
    group = f.group(a, name="G")
    org_services.project_add_group(actor=None, project=project, group=group)
    _grant("security_administrator", "project", project, "project", project)
    person = f.user("u", a)
    _grant("system_administrator", "user", person)
    with pytest.raises(ApplicationError) as refused:
        org_services.user_group_add_member(actor=None, group=group, user=person)
    assert refused.value.code == "separation_of_duties"
    assert not UserGroup.objects.filter(pk=group.pk, members=person).exists()
    assert user_duties(person) == {"system_administrator"}


def test_moving_an_organization_under_a_parent_whose_members_hold_another_duty_is_refused():
    root = f.org("Root")
    security = f.org("SecDept", root)
    other = f.org("Other", root)
    leaf = f.org("Leaf", other)
    _grant("security_auditor", "organization", security, "organization", security)
    person = f.user("u2", leaf)
    _grant("security_administrator", "user", person)
    admin = api_as(f.user("boss", root, is_superuser=True))
    response = admin.post(f"/api/v1/organizations/organizations/{other.pk}/move/", {"parent": str(security.pk)},
                          format="json")
    assert response.status_code == 422 and response.json()["code"] == "separation_of_duties"
    other.refresh_from_db()
    leaf.refresh_from_db()
    assert other.parent_id == root.pk and leaf.path == f"/{root.pk}/{other.pk}/{leaf.pk}/"
    assert user_duties(person) == {"security_administrator"}
    # a move that gives nobody a second duty still works
    org_services.organization_move(actor=None, organization=other, new_parent=None)
    assert Organization.objects.get(pk=other.pk).parent_id is None
