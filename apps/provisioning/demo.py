"""Demo data of self-service: the demo operator may request cloud resources in the "Web shop" project,
which the simulated platform serves, and the project's approval policy approves small requests at once
and sends larger ones to the East region's organization administrator."""

from __future__ import annotations

from apps.core.demo import register_demo

PROVISIONER_ROLE = "web_shop_provisioner"
# What a project's engineers create and run themselves; nothing that changes people or permissions.
SERVICES = ("ecs", "vpc", "eip", "slb", "rds", "redis", "oss", "nat")
PROVISIONER_PERMISSIONS = [*(f"{service}:*:{verb}" for service in SERVICES for verb in ("create", "operate", "delete")),
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
