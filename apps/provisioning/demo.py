"""Demo data of self-service: the demo operator may request cloud resources in the "Web shop" project,
which the simulated platform serves, and the project's approval policy approves small requests at once
and sends larger ones to the East region's organization administrator. The operator may also run
scripts on the project's instances: two saved scripts are in the project's library, and once the
first collection of the simulated platform has finished, the health check runs on two of the Web shop's
running instances (``first_run_after_collection``), so a finished run is there on first start."""

from __future__ import annotations

from apps.core.demo import register_demo

PROVISIONER_ROLE = "web_shop_provisioner"
# What a project's engineers create and run themselves; nothing that changes people or permissions.
SERVICES = ("ecs", "vpc", "eip", "slb", "rds", "redis", "oss", "nat")
PROVISIONER_PERMISSIONS = [*(f"{service}:*:{verb}" for service in SERVICES for verb in ("create", "operate", "delete")),
                           "ecs:instance:command", "provisioning:script:*",
                           "provisioning:request:read", "provisioning:change:read", "resources:resource:read",
                           "core:operation:*", "menu:portal:*"]


@register_demo(order=360)
def seed_self_service() -> None:
    from apps.organizations.models import Project, User
    from apps.provisioning.models import ApprovalPolicy
    from apps.rbac.models import Grant, Role

    project = Project.objects.filter(name="Web shop", organization__name="East IT Department").first()
    operator = User.objects.filter(username="operator").first()
    if project is None or operator is None:
        return
    role = Role.objects.filter(key=PROVISIONER_ROLE).first() or Role.objects.create(
        key=PROVISIONER_ROLE, name="Web shop provisioner", permissions=PROVISIONER_PERMISSIONS,
        description="Requests and runs the Web shop's cloud resources from the portal.")
    if sorted(role.permissions) != sorted(PROVISIONER_PERMISSIONS):  # an older demo: day-2 on every type
        role.permissions = PROVISIONER_PERMISSIONS
        role.save(update_fields=["permissions"])
    Grant.objects.get_or_create(role=role, grantee_type="user", user=operator, scope_type="project",
                                scope_project=project, organization=project.organization,
                                defaults={"note": "demo"})
    if not ApprovalPolicy.objects.filter(organization=project.organization, project=project).exists():
        ApprovalPolicy.objects.create(
            organization=project.organization, project=project, name="Web shop: small requests at once",
            auto_approve_max_count=2, auto_approve_max_vcpu=8,
            levels=[{"mode": "any", "roles": ["organization_administrator"], "users": []}])


HEALTH_CHECK = "Web server health check"
DEMO_SCRIPTS = [
    {"name": HEALTH_CHECK, "description": "Host, uptime, disk space and whether the web server runs.",
     "content": "#!/bin/bash\nhostname\nuptime\ndf -h\nsystemctl is-active {{service}}\n",
     "parameters": [{"name": "service", "description": "The unit to look at", "default": "nginx",
                     "required": True}]},
    {"name": "Deploy a release", "description": "Roll a release of the web shop out and restart the server.",
     "content": "#!/bin/bash\necho Deploying release {{version}} on $(hostname)\nsystemctl restart {{service}}\n"
                "systemctl status {{service}}\necho Release {{version}} is live\n",
     "parameters": [{"name": "version", "description": "The release to deploy, e.g. 2.4.1", "default": "",
                     "required": True},
                    {"name": "service", "description": "The unit to restart", "default": "nginx",
                     "required": True}]},
]


@register_demo(order=365)
def seed_scripts() -> None:
    from apps.organizations.models import Project
    from apps.provisioning.models import Script
    from apps.provisioning.scripts import script_create

    project = Project.objects.filter(name="Web shop", organization__name="East IT Department").first()
    if project is None:
        return
    for item in DEMO_SCRIPTS:
        if not Script.objects.filter(organization=project.organization, name=item["name"]).exists():
            script_create(actor=None, organization=project.organization, project=project, **item)


def first_run_after_collection(org_id, topic: str, payload: dict) -> None:
    """After a collection of the simulated platform: the demo health check on two running Web shop
    instances, once (only while the demo script has never run)."""
    if not isinstance(payload, dict) or payload.get("event") != "sync_finished":
        return
    from apps.clouds.demo import SIM_NAME
    from apps.provisioning.models import Script
    from apps.provisioning.scripts import script_run_start
    from apps.resources.models import Resource

    script = Script.objects.filter(name=HEALTH_CHECK, project__name="Web shop", runs__isnull=True).first()
    if script is None:
        return
    instances = list(Resource.objects.filter(
        type="ecs.instance", deleted=False, status="running", project_id=script.project_id,
        platform__name=SIM_NAME, platform_id=topic.partition(":")[2]).order_by("name", "id")
        .values_list("pk", flat=True)[:2])
    if not instances:
        return
    try:
        script_run_start(actor=None, instances=instances, script=script,
                         comment="First-start check of the demo web servers")
    except Exception:  # noqa: BLE001 - the demo run is a nicety; the collection it follows has succeeded
        import logging

        logging.getLogger(__name__).exception("the demo script run could not start")
