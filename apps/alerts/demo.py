"""Demo data of monitoring and alerts: rules over the simulated region's metrics (one that fires at
its first evaluation, one after a minute above its threshold), event rules, and an in-app inbox route,
all in the organization that owns the simulated platform. Metrics flow once the first collection of
the platform finishes (``events._first_metrics``), so a new console shows firing alerts within a
minute of its first start."""

from __future__ import annotations

from apps.core.demo import register_demo

THRESHOLD_RULES = [
    {"name": "Memory pressure", "metric": "memory_usedutilization", "aggregation": "max", "operator": ">",
     "threshold": 50, "window_seconds": 300, "for_seconds": 0, "severity": "critical",
     "summary": "Memory above 50% (a demo threshold)"},
    {"name": "High CPU", "metric": "CPUUtilization", "aggregation": "avg", "operator": ">", "threshold": 40,
     "window_seconds": 300, "for_seconds": 60, "severity": "warning",
     "summary": "CPU above 40% for a minute (5-minute average)"},
    {"name": "Database CPU", "metric": "CpuUsage", "aggregation": "avg", "operator": ">", "threshold": 70,
     "window_seconds": 600, "for_seconds": 120, "severity": "warning", "scope": {"service": "rds"}},
]
EVENT_RULES = [
    ("Platform unreachable", "platform_unreachable", "critical"),
    ("Inventory sync failed", "sync_failed", "warning"),
    ("Operation failed", "operation_failed", "warning"),
    ("Resources deleted outside the console", "resource_deleted", "info"),
    ("Quota threshold crossed", "quota_threshold", "warning"),
    ("Budget threshold crossed", "budget_threshold", "warning"),
]


@register_demo(order=500)
def seed_alert_rules() -> None:
    from apps.alerts import services
    from apps.alerts.models import AlertRule, ContactPoint, NotificationRoute
    from apps.clouds.demo import SIM_NAME
    from apps.clouds.models import CloudPlatform

    platform = CloudPlatform.objects.filter(name=SIM_NAME).select_related("organization").first()
    if platform is None:
        return
    org = platform.organization
    for data in THRESHOLD_RULES:
        if not AlertRule.objects.filter(organization=org, name=data["name"]).exists():
            services.rule_create(actor=None, organization=org, data=data)
    for name, event_type, severity in EVENT_RULES:
        if not AlertRule.objects.filter(organization=org, name=name).exists():
            services.rule_create(actor=None, organization=org, data={
                "name": name, "kind": "event", "event_type": event_type, "severity": severity})
    if not ContactPoint.objects.filter(organization=org, kind="inbox").exists():
        inbox = services.contact_point_create(actor=None, organization=org, name="Console inbox", kind="inbox",
                                              config={})
        if not NotificationRoute.objects.filter(organization=org).exists():
            services.route_create(actor=None, organization=org, name="Everything to the inbox", contact_points=[inbox],
                                  group_by=["alertname"], group_wait_seconds=0, group_interval_seconds=60,
                                  repeat_interval_seconds=4 * 3600)
