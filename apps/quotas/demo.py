"""Demo quotas: limits down the demo tree (headquarters -> regions -> departments -> the Web shop
project). Usage comes from the inventory: the first collection of the simulated region (its
``sync_finished`` event) recomputes it, so the Web shop's instances (3 of 4) sit just under its 80%
warning threshold, and one more instance fills it."""

from __future__ import annotations

from apps.core.demo import register_demo

LIMITS = [  # (organization, project or None, dimension, limit, warning percent)
    ("Headquarters", None, "ecs.instance", 40, 80),
    ("Headquarters", None, "ecs.vcpu", 160, 80),
    ("Headquarters", None, "ecs.memory_gib", 640, 80),
    ("East Region", None, "ecs.instance", 16, 80),
    ("East Region", None, "ecs.vcpu", 64, 80),
    ("West Region", None, "ecs.instance", 10, 80),
    ("West Region", None, "ecs.vcpu", 40, 80),
    ("East IT Department", None, "ecs.instance", 8, 80),
    ("East IT Department", None, "ecs.vcpu", 24, 75),
    ("East IT Department", "Web shop", "ecs.instance", 4, 80),
    ("East IT Department", "Web shop", "ecs.vcpu", 12, 80),
    ("West Operations Department", None, "ecs.instance", 4, 70),
]


@register_demo(order=370)
def seed_quotas() -> None:
    from apps.organizations.models import Organization, Project
    from apps.quotas import services
    from apps.quotas.models import QuotaLimit

    for org_name, project_name, dimension, limit, warning in LIMITS:
        org = Organization.objects.filter(name=org_name).order_by("path").first()
        project = Project.objects.filter(organization=org, name=project_name).first() if project_name else None
        if org is None or (project_name and project is None):
            continue
        if QuotaLimit.objects.filter(organization=org, project=project, dimension=dimension).exists():
            continue
        services.limit_set(actor=None, organization=org, project=project, dimension=dimension, limit=limit,
                           warning_percent=warning, reason="demo")
