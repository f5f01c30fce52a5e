"""Demo data of the inventory: the simulated region's resources tagged ``team=shop`` belong to the Web shop
project of the East IT department and those tagged ``team=data`` to West Operations, so the first
collection (``unimanager.serve.collect_at_first_start``) hands each team its own resources."""

from __future__ import annotations

from apps.core.demo import register_demo

RULES = [  # (tag value, organization, project or None)
    ("shop", "East IT Department", "Web shop"),
    ("data", "West Operations Department", None),
]


@register_demo(order=350)
def seed_assignment_rules() -> None:
    from apps.clouds.demo import SIM_NAME
    from apps.clouds.models import CloudPlatform
    from apps.organizations.models import Organization, Project
    from apps.resources.models import AssignmentRule

    platform = CloudPlatform.objects.filter(name=SIM_NAME).first()
    if platform is None:
        return
    for value, org_name, project_name in RULES:
        org = Organization.objects.filter(name=org_name).first()
        if org is None or AssignmentRule.objects.filter(platform=platform, match="tag", key="team",
                                                        value=value).exists():
            continue
        project = Project.objects.filter(organization=org, name=project_name).first() if project_name else None
        AssignmentRule.objects.create(platform=platform, match="tag", key="team", value=value, organization=org,
                                      project=project, priority=10)
