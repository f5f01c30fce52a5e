"""Cached access profiles are dropped whenever people or the tree change."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import m2m_changed, post_delete, post_save

from apps.rbac import engine


def _invalidate(**_: Any) -> None:
    engine.invalidate()


def connect() -> None:
    from apps.organizations.models import Membership, Organization, Project, User, UserGroup

    for model in (Membership, Organization, Project, UserGroup):
        post_save.connect(_invalidate, sender=model, dispatch_uid=f"rbac-invalidate-save-{model.__name__}")
        post_delete.connect(_invalidate, sender=model, dispatch_uid=f"rbac-invalidate-del-{model.__name__}")
    post_save.connect(_invalidate, sender=User, dispatch_uid="rbac-invalidate-save-User")
    for through in (UserGroup.members.through, Project.members.through, Project.groups.through):
        m2m_changed.connect(_invalidate, sender=through, dispatch_uid=f"rbac-invalidate-m2m-{through.__name__}")
