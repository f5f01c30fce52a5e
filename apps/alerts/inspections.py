"""Inspections: scheduled checks over an organization's platforms and resources, each producing a
report (``InspectionRun``) and an alert per finding; a finding gone at the next run resolves its alert.

Checks, over the live inventory the organization owns (its descendants' resources and the unassigned
ones of its platforms, as threshold rules see them):

- ``stopped_instance``: an ECS instance stopped (prepaid ones are billed all the same);
- ``unattached_disk``: a disk attached to no instance;
- ``unattached_eip``: an elastic IP bound to nothing (billed while idle);
- ``collection_lag``: a platform not collected for twice its sync interval (at least an hour);
- ``platform_unhealthy``: a platform whose last connection check was not healthy;
- ``metrics_lag``: a platform with collectable resources and no metric point for ten minutes.

Security-group rules (0.0.0.0/0 on admin ports) and the platform API's latency are not in the
inventory the adapters collect today, so they are not checked.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.alerts.matchers import fingerprint
from apps.alerts.metrics import metric_catalog
from apps.alerts.models import Alert, InspectionRun, MetricSample
from apps.alerts.rules import Change, record_changes
from apps.clouds.models import CloudPlatform
from apps.core.scoping import require
from apps.resources.models import Resource

RUN = "alerts:inspection:run"
CHECKS = {
    "stopped_instance": ("warning", "Stopped instance"),
    "unattached_disk": ("info", "Unattached disk"),
    "unattached_eip": ("warning", "Unattached elastic IP"),
    "collection_lag": ("warning", "Inventory collection lagging"),
    "platform_unhealthy": ("critical", "Platform not healthy"),
    "metrics_lag": ("warning", "Metrics not flowing"),
}


def _owned(org: Any) -> tuple[Any, Any]:
    platforms = CloudPlatform.objects.filter(organization=org, is_active=True)
    resources = Resource.objects.filter(deleted=False).filter(
        Q(organization__path__startswith=org.path) | Q(organization__isnull=True, platform__organization=org))
    return platforms, resources


def _findings(org: Any, now: datetime) -> list[dict[str, Any]]:
    platforms, resources = _owned(org)
    out: list[dict[str, Any]] = []

    def add(check: str, subject: str, name: str, platform: str, detail: str) -> None:
        out.append({"check": check, "severity": CHECKS[check][0], "subject": subject, "name": name,
                    "platform": platform, "detail": detail})

    for r in resources.filter(type="ecs.instance", status="stopped").only("id", "name", "platform_id", "spec"):
        charge = (r.spec or {}).get("charge_type") or "unknown"
        add("stopped_instance", r.id, r.name, r.platform_id,
            f"stopped; charge type {charge}" + (" (billed while stopped)" if charge == "PrePaid" else ""))
    for r in resources.filter(type="ecs.disk").only("id", "name", "platform_id", "spec", "storage_gib"):
        if not (r.spec or {}).get("instance_id"):
            add("unattached_disk", r.id, r.name, r.platform_id, f"{r.storage_gib} GiB attached to no instance")
    for r in resources.filter(type="eip.eip").only("id", "name", "platform_id", "spec"):
        if not (r.spec or {}).get("instance_id"):
            add("unattached_eip", r.id, r.name, r.platform_id,
                f"{(r.spec or {}).get('ip_address', '')} bound to nothing".strip())
    collectable = [t for t, names in metric_catalog().items() if names]
    for p in platforms:
        limit = timedelta(minutes=max(60, 2 * (p.sync_interval_minutes or 30)))
        if p.last_synced_at is None or now - p.last_synced_at > limit:
            when = p.last_synced_at.isoformat() if p.last_synced_at else "never"
            add("collection_lag", p.id, p.name, p.id, f"last collected {when}; expected within {limit}")
        if p.health in (CloudPlatform.Health.UNREACHABLE, CloudPlatform.Health.DEGRADED):
            add("platform_unhealthy", p.id, p.name, p.id, f"{p.health}: {p.health_message}"[:300])
        if resources.filter(platform=p, type__in=collectable).exists() and not MetricSample.objects.filter(
                resource__platform=p, resolution="raw", ts__gte=now - timedelta(minutes=10)).exists():
            add("metrics_lag", p.id, p.name, p.id, "no metric point in the last 10 minutes")
    return out


def inspection_run(*, actor: Any, organization: Any, now: datetime | None = None) -> InspectionRun:
    """Inspect ``organization`` now: write the report, fire an alert per finding, resolve the alerts of
    findings that are gone."""
    require(actor, RUN, InspectionRun(organization=organization))
    now = now or timezone.now()
    findings = _findings(organization, now)
    counts: dict[str, int] = {}
    for f in findings:
        counts[f["check"]] = counts.get(f["check"], 0) + 1
    with transaction.atomic():
        run = InspectionRun.objects.create(organization=organization, started_at=now, finished_at=timezone.now(),
                                           findings=findings, counts=counts,
                                           actor=actor if getattr(actor, "is_authenticated", False) else None)
        _raise_alerts(organization, findings, now)
    from apps.alerts.services import object_changed

    object_changed(organization.pk, "inspection", run.id, "finished", f"{len(findings)} findings",
                   counts=counts)
    return run


def _raise_alerts(org: Any, findings: list[dict[str, Any]], now: datetime) -> None:
    wanted = {fingerprint({"inspection": f["check"], "subject": f["subject"]}): f for f in findings}
    existing = {a.fingerprint: a for a in Alert.objects.select_for_update().filter(
        organization=org, labels__event="inspection")}
    changes: list[Change] = []
    new: list[Alert] = []
    for fp, f in wanted.items():
        a = existing.get(fp)
        labels = {"alertname": f"Inspection: {CHECKS[f['check']][1]}", "event": "inspection", "check": f["check"],
                  "severity": f["severity"], "subject": f["subject"], "resource_name": f["name"],
                  "platform": f["platform"], "organization": str(org.pk)}
        if a is None:
            a = Alert(organization=org, source=Alert.Source.EVENT, fingerprint=fp, name=labels["alertname"],
                      labels=labels, annotations={"summary": f["detail"]}, severity=f["severity"],
                      state=Alert.State.FIRING, starts_at=now, state_changed_at=now,
                      platform_id=f["platform"] or None,
                      resource_id=f["subject"] if f["subject"].startswith("res-") else None)
            new.append(a)
            changes.append(Change(a, "", Alert.State.FIRING, f"Inspection found: {f['detail']}"))
        elif a.state != Alert.State.FIRING:
            changes.append(Change(a, a.state, Alert.State.FIRING, f"Inspection found again: {f['detail']}"))
            a.state, a.starts_at, a.ends_at, a.state_changed_at = Alert.State.FIRING, now, None, now
            a.annotations = {"summary": f["detail"]}
            a.save(update_fields=["state", "starts_at", "ends_at", "state_changed_at", "annotations"])
    for fp, a in existing.items():
        if fp not in wanted and a.state == Alert.State.FIRING:
            changes.append(Change(a, a.state, Alert.State.RESOLVED, "No longer found by the inspection"))
            a.state, a.ends_at, a.state_changed_at = Alert.State.RESOLVED, now, now
            a.save(update_fields=["state", "ends_at", "state_changed_at"])
    Alert.objects.bulk_create(new, batch_size=1000)
    record_changes(changes, now)


def inspections_run_all(*, now: datetime | None = None) -> int:
    """The scheduled pass: every organization owning an active platform."""
    from apps.organizations.models import Organization

    orgs = Organization.objects.filter(pk__in=CloudPlatform.objects.filter(is_active=True)
                                       .values("organization_id"))
    n = 0
    for org in orgs:
        inspection_run(actor=None, organization=org, now=now)
        n += 1
    return n
