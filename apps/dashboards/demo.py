"""Demo data: the predefined dashboards (resources, organization, security, network, operations,
alerting) in the headquarters, so the console shows them on first start, and the home of each role:
the console's overview shows resources, operations and alerting (security for the security roles),
the portal's home shows resources and operations to every member, in every organization below."""

from apps.core.demo import register_demo

CONSOLE_HOME = ((None, "resources"), (None, "operations"), (None, "alerting"), ("security_administrator", "security"),
                ("security_auditor", "security"))
PORTAL_HOME = (("organization_member", "resources"), ("organization_member", "operations"))


@register_demo(order=900)
def seed_predefined_dashboards() -> None:
    from apps.dashboards import predefined, services
    from apps.dashboards.models import Dashboard, HomeDashboard
    from apps.organizations.models import Organization
    from apps.rbac.models import Role

    hq = Organization.objects.filter(parent=None, name="Headquarters").first()
    if hq is None:
        return
    for name in predefined.PREDEFINED:
        if not Dashboard.objects.filter(pk=name).exists():
            services.dashboard_create(actor=None, organization=hq, document=predefined.template(name),
                                      message="predefined")
    roles = {r.key: r for r in Role.objects.filter(key__in={k for k, _ in CONSOLE_HOME + PORTAL_HOME if k})}
    for surface, homes in (("console", CONSOLE_HOME), ("portal", PORTAL_HOME)):
        for position, (key, uid) in enumerate(homes):
            role = roles.get(key) if key else None
            dashboard = Dashboard.objects.filter(pk=uid, organization=hq).first()
            if dashboard is None or (key and role is None):
                continue
            if role is not None and surface == "portal":
                # Members of the organizations below see the headquarters' dashboard through the role.
                dashboard.shared_with_roles.add(role)
            there = HomeDashboard.objects.filter(organization=hq, surface=surface, role=role, dashboard=dashboard)
            if not there.exists():
                services.home_assign(actor=None, organization=hq, surface=surface, dashboard=dashboard, role=role,
                                     position=position)
