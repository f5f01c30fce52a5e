"""Cached access profiles are dropped whenever people or the tree change, and the source address
of each request is remembered for policy conditions (``acs:SourceIp``)."""

from __future__ import annotations

from typing import Any

from django.core.signals import request_finished, request_started
from django.db.models.signals import m2m_changed, post_delete, post_save

from apps.rbac import engine


def _invalidate(**_: Any) -> None:
    engine.invalidate()


def _remember_source_ip(sender: Any, environ: Any = None, scope: Any = None, **_: Any) -> None:
    address = None
    if environ is not None:
        address = environ.get("REMOTE_ADDR")
    elif scope is not None and scope.get("client"):
        address = scope["client"][0]
    engine.source_ip_var.set(address)


def _forget_source_ip(**_: Any) -> None:
    engine.source_ip_var.set(None)


def connect() -> None:
    from apps.organizations.models import Membership, Organization, Project, User, UserGroup

    for model in (Membership, Organization, Project, UserGroup):
        post_save.connect(_invalidate, sender=model, dispatch_uid=f"rbac-invalidate-save-{model.__name__}")
        post_delete.connect(_invalidate, sender=model, dispatch_uid=f"rbac-invalidate-del-{model.__name__}")
    post_save.connect(_invalidate, sender=User, dispatch_uid="rbac-invalidate-save-User")
    for through in (UserGroup.members.through, Project.members.through, Project.groups.through):
        m2m_changed.connect(_invalidate, sender=through, dispatch_uid=f"rbac-invalidate-m2m-{through.__name__}")
    request_started.connect(_remember_source_ip, dispatch_uid="rbac-source-ip")
    request_finished.connect(_forget_source_ip, dispatch_uid="rbac-source-ip-end")
