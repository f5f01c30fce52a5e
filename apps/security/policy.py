"""The security rules in force for a person: the strictest of the policies of their organizations
and those organizations' ancestors, and whether they must use MFA."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from apps.security.models import AccountSecurity, SecurityPolicy


@dataclass
class EffectivePolicy:
    configured: bool = False
    password_min_length: int = 0
    password_min_classes: int = 0
    lockout_threshold: int = 0
    lockout_minutes: int = 0
    mfa_required: bool = False
    mfa_required_roles: set[str] = field(default_factory=set)


def effective_policy(user: Any) -> EffectivePolicy:
    result = EffectivePolicy(lockout_threshold=settings.SIGNIN_LOCKOUT_THRESHOLD,
                             lockout_minutes=settings.SIGNIN_LOCKOUT_MINUTES)
    if user is None or not getattr(user, "pk", None):
        return result
    from apps.rbac.engine import organizations_reaching

    org_ids = organizations_reaching(user)
    policies = list(SecurityPolicy.objects.filter(organization_id__in=org_ids)) if org_ids else []
    for p in policies:
        if not result.configured:
            result.configured = True
            result.lockout_threshold, result.lockout_minutes = p.lockout_threshold, p.lockout_minutes
        result.password_min_length = max(result.password_min_length, p.password_min_length)
        result.password_min_classes = max(result.password_min_classes, p.password_min_classes)
        result.lockout_threshold = min(result.lockout_threshold, p.lockout_threshold)
        result.lockout_minutes = max(result.lockout_minutes, p.lockout_minutes)
        result.mfa_required = result.mfa_required or p.mfa_required
        result.mfa_required_roles |= {str(r) for r in (p.mfa_required_roles or [])}
    return result


def granted_roles(user: Any) -> tuple[set[str], set[str]]:
    """(role keys, separated duties) the person holds through grants of any kind; the duties also
    through attached access policies, derived as RBAC derives them."""
    from apps.rbac.engine import grants_reaching
    from apps.rbac.services import granted_duties

    return set(grants_reaching(user).values_list("role__key", flat=True)), granted_duties(user)


def account_security(user: Any) -> AccountSecurity:
    found = AccountSecurity.objects.filter(user=user).first()
    return found or AccountSecurity(user=user)


def mfa_required(user: Any) -> bool:
    """Enrolled people always use their second factor. Others must enrol when a policy of one of
    their organizations asks for MFA, or for a role they hold, or when they hold a separated duty
    (system administrator, security administrator, security auditor) — unless a security
    administrator exempted the account."""
    sec = account_security(user)
    if sec.mfa_enabled:
        return True
    if sec.mfa_exempt:
        return False
    roles, duties = granted_roles(user)
    if duties and settings.MFA_REQUIRED_FOR_DUTIES:
        return True
    policy = effective_policy(user)
    return policy.mfa_required or bool(roles & policy.mfa_required_roles)
