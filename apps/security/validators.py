"""Password rules of the organization policies, plugged into Django's password validation, so
every place that sets a password (services, forms) applies them."""

from __future__ import annotations

import string
from typing import Any

from django.core.exceptions import ValidationError


def character_classes(password: str) -> int:
    return sum(any(c in group for c in password) for group in (
        string.ascii_lowercase, string.ascii_uppercase, string.digits)) + any(
        not c.isalnum() for c in password)


class OrganizationPasswordPolicyValidator:
    """Applies the strictest password policy of the person's organizations (none: nothing more)."""

    def validate(self, password: str, user: Any = None) -> None:
        from apps.security.policy import effective_policy

        policy = effective_policy(user)
        if not policy.configured:
            return
        errors = []
        if len(password) < policy.password_min_length:
            errors.append(ValidationError(
                f"This password is too short: the organization's policy asks for at least "
                f"{policy.password_min_length} characters.", code="password_policy_length"))
        if character_classes(password) < policy.password_min_classes:
            errors.append(ValidationError(
                f"The organization's policy asks for at least {policy.password_min_classes} of: lower case, "
                f"upper case, digits, symbols.", code="password_policy_classes"))
        if errors:
            raise ValidationError(errors)

    def get_help_text(self) -> str:
        return "Your organization's password policy may ask for a minimum length and a mix of characters."
