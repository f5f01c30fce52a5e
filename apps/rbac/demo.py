"""Demo data: headquarters -> regions -> departments, a project, and one person per predefined
duty role (the separated duties, an organization administrator, an operator and a viewer)."""

from __future__ import annotations

from apps.core.demo import register_demo
from apps.organizations.models import Membership, Organization, Project, User, UserGroup
from apps.rbac.models import Grant, Role
from apps.rbac.services import sync_predefined_roles

DEMO_PEOPLE = [
    # (role label, username, password, role key, scope: "platform" or organization name)
    ("System administrator", "sysadmin", "demo-sysadmin-2024", "system_administrator", "platform"),
    ("Security administrator", "secadmin", "demo-secadmin-2024", "security_administrator", "platform"),
    ("Security auditor", "auditor", "demo-auditor-2024", "security_auditor", "platform"),
    ("Organization administrator (East region)", "eastadmin", "demo-eastadmin-2024", "organization_administrator",
     "East Region"),
    ("Operator (East IT)", "operator", "demo-operator-2024", "operator", "East IT Department"),
    ("Viewer (West region)", "viewer", "demo-viewer-2024", "viewer", "West Region"),
]
TREE = [
    ("East Region", "region", None),
    ("West Region", "region", None),
    ("East IT Department", "department", "East Region"),
    ("East Finance Department", "department", "East Region"),
    ("West Operations Department", "department", "West Region"),
]


def _org(name: str, kind: str, parent: Organization | None) -> Organization:
    org = Organization.objects.filter(parent=parent, name=name).first()
    return org or Organization.objects.create(name=name, kind=kind, parent=parent)


@register_demo(order=20, sign_ins=[(label, username, password) for label, username, password, *_ in DEMO_PEOPLE])
def seed_people_and_access() -> None:
    sync_predefined_roles()
    hq = Organization.objects.filter(parent=None, name="Headquarters").first()
    if hq is None:
        hq = Organization.objects.create(name="Headquarters", kind="headquarters")
    if hq.kind != "headquarters":
        Organization.objects.filter(pk=hq.pk).update(kind="headquarters")
    orgs = {"Headquarters": hq}
    for name, kind, parent in TREE:
        orgs[name] = _org(name, kind, orgs[parent] if parent else hq)
    project = Project.objects.filter(organization=orgs["East IT Department"], name="Web shop").first() \
        or Project.objects.create(organization=orgs["East IT Department"], name="Web shop",
                                  description="The e-commerce site: its VMs, databases and load balancers.")
    group = UserGroup.objects.filter(organization=orgs["East IT Department"], name="Web shop engineers").first() \
        or UserGroup.objects.create(organization=orgs["East IT Department"], name="Web shop engineers")
    project.groups.add(group)
    for label, username, password, role_key, scope in DEMO_PEOPLE:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create_user(username=username, password=password, display_name=label,
                                            is_staff=True)
        home = hq if scope == "platform" else orgs[scope]
        Membership.objects.get_or_create(user=user, organization=home)
        role = Role.objects.get(key=role_key)
        if scope == "platform":
            Grant.objects.get_or_create(role=role, grantee_type="user", user=user, scope_type="platform",
                                        defaults={"note": "demo"})
        else:
            Grant.objects.get_or_create(role=role, grantee_type="user", user=user, scope_type="organization",
                                        scope_organization=home, organization=home, defaults={"note": "demo"})
    operator = User.objects.get(username="operator")
    group.members.add(operator)
    project.members.add(operator)
