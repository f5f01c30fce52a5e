"""Demo data: the predefined dashboards (resources, organization, security, network, operations)
in the headquarters, so the console shows them on first start."""

from apps.core.demo import register_demo


@register_demo(order=900)
def seed_predefined_dashboards() -> None:
    from apps.dashboards import predefined, services
    from apps.dashboards.models import Dashboard
    from apps.organizations.models import Organization

    hq = Organization.objects.filter(parent=None, name="Headquarters").first()
    if hq is None:
        return
    for name in predefined.PREDEFINED:
        if not Dashboard.objects.filter(pk=name).exists():
            services.dashboard_create(actor=None, organization=hq, document=predefined.template(name),
                                      message="predefined")
