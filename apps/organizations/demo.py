"""Demo data of this app: the headquarters organization and the platform administrator."""

from apps.core.demo import register_demo
from apps.organizations.models import Membership, Organization, User

DEMO_ADMIN = ("admin", "unimanager-admin")


@register_demo(order=10, sign_ins=[("Platform administrator", *DEMO_ADMIN)])
def seed_headquarters() -> None:
    hq = Organization.objects.filter(parent=None, name="Headquarters").first()
    if hq is None:
        hq = Organization.objects.create(name="Headquarters")
    admin = User.objects.filter(username=DEMO_ADMIN[0]).first()
    if admin is None:
        admin = User.objects.create_superuser(
            username=DEMO_ADMIN[0], password=DEMO_ADMIN[1], email="admin@example.com",
            display_name="Platform Admin",
        )
    Membership.objects.get_or_create(user=admin, organization=hq)
