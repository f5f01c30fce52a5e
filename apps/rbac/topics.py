"""Realtime topics of people and access: ``organization``, ``user``, ``user_group``, ``project``,
``role``, ``grant`` and ``policy``. Each resolves only for users who may read the object."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from apps.core.realtime import register_topic
from apps.core.scoping import restrict


def _resolver(model_path: str, action: str, org_of):
    def resolve(user: Any, key: str) -> str | None:
        from django.apps import apps

        model = apps.get_model(model_path)
        try:
            obj = restrict(model._default_manager.all(), user, action).filter(pk=key).first()
        except (ValueError, TypeError, ValidationError):
            return None
        if obj is None:
            return None
        org_id = org_of(obj)
        return str(org_id) if org_id else ""

    return resolve


def register() -> None:
    register_topic("organization", _resolver("organizations.Organization", "organizations:organization:read",
                                             lambda o: o.pk))
    register_topic("user", _resolver("organizations.User", "organizations:user:read", lambda o: None))
    register_topic("user_group", _resolver("organizations.UserGroup", "organizations:group:read",
                                           lambda o: o.organization_id))
    register_topic("project", _resolver("organizations.Project", "organizations:project:read",
                                        lambda o: o.organization_id))
    register_topic("role", _resolver("rbac.Role", "rbac:role:read", lambda o: o.organization_id))
    register_topic("grant", _resolver("rbac.Grant", "rbac:grant:read", lambda o: o.organization_id))
    register_topic("policy", _resolver("rbac.AccessPolicy", "rbac:policy:read", lambda o: o.organization_id))
