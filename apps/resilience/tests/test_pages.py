"""Disaster-recovery pages: the console and the portal list only the viewer's groups, the form protects by
tag (or names the field it refuses), a group shows its members with RPO bars, a run shows its steps and
evidence, and another organization's group or run is 404."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.resilience.models import PlanRun, ProtectionGroup
from apps.resilience.tests.conftest import PRIMARY, SECONDARY, drive, make_disks, make_group

pytestmark = pytest.mark.django_db(transaction=False)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_groups_page_lists_own_groups_with_rpo_bars(world):
    make_disks(world, 1, tags={"app": "shop"})
    group = make_group(world)
    page = _client(world["operator"]).get("/console/resilience/")
    assert page.status_code == 200
    html = page.content.decode()
    assert group.name in html and 'data-testid="group-row"' in html and "data-rpo-target" in html
    assert group.name not in _client(world["outsider"]).get("/portal/resilience/").content.decode()


def test_protect_by_tag_form_makes_a_group_or_names_the_refused_field(world):
    make_disks(world, 2, tags={"app": "shop"})
    client = _client(world["operator"])
    form = {"name": "Shop", "organization": str(world["hq"].pk), "tag_key": "app", "tag_value": "shop",
            "primary_platform": str(world["platform"].pk), "primary_region": PRIMARY,
            "secondary_region": SECONDARY, "target_rpo_seconds": "30", "target_rto_seconds": "300",
            "auto_join": "on"}
    refused = client.post("/console/resilience/", {**form, "tag_value": ""})
    assert refused.status_code == 400 and "is-invalid" in refused.content.decode()
    assert not ProtectionGroup.objects.exists()
    made = client.post("/console/resilience/", form)
    group = ProtectionGroup.objects.get()
    assert made.status_code == 302 and made["Location"].endswith(f"/console/resilience/groups/{group.pk}/")
    assert group.members.count() == 2


def test_group_and_run_pages_show_members_steps_and_evidence(world):
    from apps.resilience import plans
    from apps.resilience.tests.conftest import wait_replicating

    make_disks(world, 2, tags={"app": "shop"})
    group = make_group(world)
    wait_replicating(group)
    client = _client(world["operator"])
    html = client.get(f"/console/resilience/groups/{group.pk}/").content.decode()
    assert html.count('data-testid="member-row"') == 2 and 'data-testid="dry-run"' in html
    run = drive(plans.plan_start(actor=world["operator"], group=group, kind="drill"))
    page = client.get(f"/console/resilience/runs/{run.pk}/").content.decode()
    assert page.count('data-testid="step-row"') == 8 and "Measured RTO" in page and "RPO met" in page
    portal = _client(world["operator"]).get(f"/portal/resilience/runs/{run.pk}/")
    assert portal.status_code == 200


def test_another_organizations_group_and_run_are_404(world):
    from apps.core.services import operation_create

    make_disks(world, 1, tags={"app": "shop"})
    group = make_group(world)
    run = PlanRun.objects.create(organization=world["hq"], group=group, kind="drill", status="succeeded",
                                 operation=operation_create(organization=world["hq"], kind="resilience.drill"))
    client = _client(world["outsider"])
    assert client.get(f"/console/resilience/groups/{group.pk}/").status_code == 404
    assert client.get(f"/portal/resilience/runs/{run.pk}/").status_code == 404


def test_backups_page_renders(world):
    assert _client(world["operator"]).get("/console/resilience/backups/").status_code == 200
