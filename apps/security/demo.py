"""Demo data of the security center: the demo accounts publish their passwords in the README, so
they are exempt from the MFA that separated duties otherwise require (a real installation enrols)."""

from apps.core.demo import register_demo
from apps.organizations.models import User
from apps.security.models import AccountSecurity

DEMO_MFA_EXEMPT = ("sysadmin", "secadmin", "auditor")


@register_demo(order=40)
def seed_demo_mfa_exemptions() -> None:
    for user in User.objects.filter(username__in=DEMO_MFA_EXEMPT):
        AccountSecurity.objects.update_or_create(user=user, defaults={"mfa_exempt": True})
