"""Inspections: each check finds what it should in the organization's inventory, writes a report and
an alert per finding, and a finding gone at the next run resolves its alert; another organization's
reports are 404."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.alerts.inspections import inspection_run
from apps.alerts.metrics import store_points
from apps.alerts.models import Alert, InspectionRun
from tests import factories as f
from tests.fixtures import api_as

pytestmark = pytest.mark.django_db


def test_an_inspection_reports_its_findings_and_raises_then_resolves_their_alerts(world):
    a = world["a"]
    now = timezone.now()
    platform = a["platform"]
    platform.last_synced_at = now - timedelta(minutes=5)
    platform.health = "unreachable"
    platform.health_message = "timeout"
    platform.save()
    stopped = a["resources"][0]
    stopped.status, stopped.spec = "stopped", {"charge_type": "PrePaid"}
    stopped.save()
    for r in a["resources"][1:]:
        store_points(r, "CPUUtilization", [(now - timedelta(minutes=1), 10)])
    loose = f.resource(platform, organization=a["org"], type="ecs.disk", spec={"instance_id": ""}, storage_gib=40)
    f.resource(platform, organization=a["org"], type="ecs.disk", spec={"instance_id": "i-1"})
    eip = f.resource(platform, organization=None, type="eip.eip", spec={"ip_address": "47.1.1.1", "instance_id": ""})
    f.resource(world["b"]["platform"], organization=world["b"]["org"], type="eip.eip", spec={"instance_id": ""})

    run = inspection_run(actor=a["user"], organization=a["org"], now=now)
    found = sorted((x["check"], x["subject"]) for x in run.findings)
    assert found == sorted([("stopped_instance", stopped.pk), ("unattached_disk", loose.pk),
                            ("unattached_eip", eip.pk), ("platform_unhealthy", platform.pk)])
    assert run.counts == {"stopped_instance": 1, "unattached_disk": 1, "unattached_eip": 1, "platform_unhealthy": 1}
    assert "billed while stopped" in next(x["detail"] for x in run.findings if x["check"] == "stopped_instance")
    firing = Alert.objects.filter(organization=a["org"], labels__event="inspection", state="firing")
    assert firing.count() == 4

    loose.spec = {"instance_id": "i-2"}
    loose.save()
    again = inspection_run(actor=a["user"], organization=a["org"], now=now + timedelta(minutes=1))
    assert "unattached_disk" not in again.counts
    disk_alert = Alert.objects.get(labels__check="unattached_disk")
    assert disk_alert.state == "resolved"
    assert disk_alert.history.filter(to_state="resolved", reason__contains="No longer found").exists()
    assert Alert.objects.filter(labels__event="inspection", state="firing").count() == 3


def test_collection_and_metrics_lag_are_found(world):
    a = world["a"]
    run = inspection_run(actor=None, organization=a["org"], now=timezone.now())
    assert {x["check"] for x in run.findings} == {"collection_lag", "metrics_lag"}


def test_inspections_through_the_api_are_scoped_to_the_organization(world):
    a, b = world["a"], world["b"]
    client = api_as(a["user"])
    made = client.post("/api/v1/alerts/inspections/", {"organization": str(a["org"].pk)}, format="json")
    assert made.status_code == 201 and made.json()["counts"]
    theirs = inspection_run(actor=None, organization=b["org"])
    assert client.get(f"/api/v1/alerts/inspections/{theirs.pk}/").status_code == 404
    refused = client.post("/api/v1/alerts/inspections/", {"organization": str(b["org"].pk)}, format="json")
    assert refused.status_code == 400 and "organization" in refused.json()["detail"]
    assert [r["id"] for r in client.get("/api/v1/alerts/inspections/").json()["results"]] == [made.json()["id"]]
    assert InspectionRun.objects.filter(organization=b["org"]).count() == 1
    assert client.get("/console/alerts/inspections/").status_code == 200
