"""Every change to what makes up an access snapshot drops the snapshots it affects, from model
signals, so no service has to remember it (``engine.invalidate``, published on commit).

A change that concerns one person (their memberships, user groups, projects, direct grants, attached
policies, active and superuser flags) drops that person's snapshot; a change that may reach many (the
organization tree, roles, policies, grants to groups, organizations or projects, a group's projects
and policies) drops everyone's.

Two writes send no model signal: moving an organization subtree and enabling or disabling one
rewrite rows with ``QuerySet.update``/``bulk_update``. The organizations app announces both
(``organization:<id>`` events ``moved``, ``enabled``, ``disabled``, delivered on commit in the
writing process), and those drop everyone's snapshot. A migration may rewrite anything (the duty
of custom roles is derived again after each one), so it does too.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save

from apps.rbac import engine

# Saving a user changes their access only through these fields (a sign-in saves ``last_login``).
USER_ACCESS_FIELDS = frozenset({"is_active", "is_superuser"})
# Organization events whose writes send no model signal.
TREE_EVENTS = frozenset({"moved", "enabled", "disabled"})


def _everyone(**_: Any) -> None:
    engine.invalidate()


def _user_saved(instance: Any, update_fields: Any = None, **_: Any) -> None:
    if update_fields is None or USER_ACCESS_FIELDS & set(update_fields):
        engine.invalidate([instance.pk])


def _user_deleted(instance: Any, **_: Any) -> None:
    engine.invalidate([instance.pk])


def _membership_saved(instance: Any, created: bool = False, **_: Any) -> None:
    # A row rewritten in place may have moved from one person to another: drop everyone's.
    engine.invalidate([instance.user_id] if created else None)


def _membership_deleted(instance: Any, **_: Any) -> None:
    engine.invalidate([instance.user_id])


def _grant_saved(instance: Any, created: bool = False, **_: Any) -> None:
    engine.invalidate([instance.user_id] if created and instance.grantee_type == "user" else None)


def _grant_deleted(instance: Any, **_: Any) -> None:
    engine.invalidate([instance.user_id] if instance.grantee_type == "user" else None)


def _people_changed(instance: Any, action: str, pk_set: Any, **_: Any) -> None:
    """A relation between people and a group, project or policy: only those people are affected,
    whichever side it was changed from (``group.members.add(user)``, ``user.user_groups.add(group)``)."""
    from apps.organizations.models import User

    if not action.startswith("post_"):
        return
    if isinstance(instance, User):
        engine.invalidate([instance.pk])
    elif action == "post_clear":
        engine.invalidate()  # who was related is no longer known
    else:
        engine.invalidate(pk_set or ())


def _groups_changed(action: str, **_: Any) -> None:
    """A relation between user groups and a project or policy reaches every member of the groups."""
    if action.startswith("post_"):
        engine.invalidate()


def _tree_event(org_id: Any, topic: str, payload: dict[str, Any]) -> None:
    if payload.get("event") in TREE_EVENTS:
        engine.invalidate()


_subscribed = False


def connect() -> None:
    global _subscribed
    from apps.core.events import subscribe
    from apps.organizations.models import Membership, Organization, Project, User, UserGroup
    from apps.rbac.models import AccessPolicy, Grant, Role

    def on(signal: Any, receiver: Any, sender: Any, name: str) -> None:
        signal.connect(receiver, sender=sender, dispatch_uid=f"rbac-invalidate-{name}-{sender.__name__}")

    for model in (Organization, Project, UserGroup, Role, AccessPolicy):
        on(post_save, _everyone, model, "save")
        on(post_delete, _everyone, model, "delete")
    on(post_save, _user_saved, User, "save")
    on(post_delete, _user_deleted, User, "delete")
    on(post_save, _membership_saved, Membership, "save")
    on(post_delete, _membership_deleted, Membership, "delete")
    on(post_save, _grant_saved, Grant, "save")
    on(post_delete, _grant_deleted, Grant, "delete")
    for through in (UserGroup.members.through, Project.members.through, AccessPolicy.users.through):
        on(m2m_changed, _people_changed, through, "m2m")
    for through in (Project.groups.through, AccessPolicy.groups.through):
        on(m2m_changed, _groups_changed, through, "m2m")
    post_migrate.connect(_everyone, dispatch_uid="rbac-invalidate-migrate")
    if not _subscribed:
        subscribe("organization:", _tree_event)
        _subscribed = True
