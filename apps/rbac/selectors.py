"""Reads of the RBAC app: roles, grants, policies, explanations and the access matrix."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.db.models import Model, Q, QuerySet

from apps.core.errors import Forbidden, InvalidInput, NotFound
from apps.core.scoping import authorize, restrict
from apps.organizations.models import Organization, Project, User
from apps.rbac.backend import decide
from apps.rbac.catalog import permission_catalog
from apps.rbac.engine import AccessProfile, ProfileData, Target, build_snapshot, profile_for, reach_of
from apps.rbac.models import AccessPolicy, Grant, Role

ACTION_RE = re.compile(r"^[a-z][a-z0-9_]*(:[a-z][a-z0-9_]*){2,3}$")


def role_list(*, actor: Any) -> QuerySet[Role]:
    return restrict(Role.objects.select_related("organization"), actor, "rbac:role:read")


def grant_list(*, actor: Any) -> QuerySet[Grant]:
    return restrict(
        Grant.objects.select_related("role", "user", "group", "grantee_organization", "grantee_project",
                                     "scope_organization", "scope_project", "organization"),
        actor, "rbac:grant:read",
    )


def grants_reaching(*, actor: Any, subject: User) -> QuerySet[Grant]:
    """The grants that reach ``subject`` (``engine.Reach``) which ``actor`` may read; a
    grant to a project shows only when ``actor`` may also read the project."""
    readable_projects = restrict(Project.objects.all(), actor, "organizations:project:read")
    return grant_list(actor=actor).filter(reach_of(subject).q()).filter(
        ~Q(grantee_type="project") | Q(grantee_project__in=readable_projects))


def policy_list(*, actor: Any) -> QuerySet[AccessPolicy]:
    return restrict(AccessPolicy.objects.select_related("organization"), actor, "rbac:policy:read")


def _visible(qs: QuerySet, pk: Any) -> Model | None:
    try:
        return qs.filter(pk=pk).first()
    except (ValueError, TypeError, ValidationError):
        return None


def explainable_models() -> dict[str, type[Model]]:
    """The kinds of objects a decision can be explained on: tenant-scoped models (those that say
    which organization owns a row) and people, seen through their organizations."""
    return {m._meta.label_lower: m for m in django_apps.get_models()
            if hasattr(m, "tenant_field") or hasattr(m, "organization_scope_q")}


def explain_target(*, actor: Any, target_type: str, target_id: str) -> Model | None:
    """The object an explanation is about, looked up only among what ``actor`` may read."""
    if not target_type or target_type == "platform":
        return None
    model = explainable_models().get(target_type.lower()) if isinstance(target_type, str) else None
    if model is None:
        raise InvalidInput("Unknown target type: use 'platform' or the <app_label>.<model> of an object that "
                           "belongs to an organization.", detail={"target_type": ["Not an explainable kind."]})
    obj = _visible(restrict(model._default_manager.all(), actor, _read_action_of(model)), target_id)
    if obj is None:
        raise NotFound("Target not found.")
    return obj


def _read_action_of(model: type[Model]) -> str:
    """The read permission that shows objects of ``model`` (``<app>:<model>:read`` by convention)."""
    known = {
        "organizations.organization": "organizations:organization:read",
        "organizations.user": "organizations:user:read",
        "organizations.usergroup": "organizations:group:read",
        "organizations.project": "organizations:project:read",
        "rbac.role": "rbac:role:read",
        "rbac.grant": "rbac:grant:read",
        "rbac.accesspolicy": "rbac:policy:read",
    }
    return known.get(model._meta.label_lower, f"{model._meta.app_label}:{model._meta.model_name}:read")


def _readable_entries(actor: Any, subject: User, entries: list[list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
    """The entries describing grants, policies and memberships ``actor`` may read (everything of
    their own access for someone explaining themselves)."""
    if actor is None or actor.is_superuser or actor.pk == subject.pk:
        return entries
    flat = [e for group in entries for e in group]
    grant_ids = {e["grant"] for e in flat if e.get("kind") == "grant" and e.get("grant")}
    policy_ids = {e["policy"] for e in flat if e.get("kind") == "policy"}
    org_ids = {e["organization"] for e in flat if e.get("kind") == "membership" and e.get("organization")}
    grants = {str(i) for i in grant_list(actor=actor).filter(pk__in=grant_ids).values_list("pk", flat=True)}
    policies = {str(i) for i in policy_list(actor=actor).filter(pk__in=policy_ids).values_list("pk", flat=True)}
    orgs = {str(i) for i in restrict(Organization.objects.filter(pk__in=org_ids), actor,
                                     "organizations:organization:read").values_list("pk", flat=True)}

    def readable(entry: dict[str, Any]) -> bool:
        kind = entry.get("kind")
        if kind == "grant":
            return entry.get("grant") in grants
        if kind == "policy":
            return entry.get("policy") in policies
        if kind == "membership":
            return entry.get("organization") in orgs
        return True

    return [[e for e in group if readable(e)] for group in entries]


def explain(*, subject: User, action: str, target: Model | None, actor: Any = None) -> dict[str, Any]:
    """Why ``subject`` may or may not do ``action`` on ``target``: the grants and policy
    statements that allow or deny it, and those that were considered but did not apply. Only the
    rules ``actor`` may read are described; the others are counted in ``hidden``."""
    decision = decide(subject, action, target, explain=True)
    profile = None if subject.is_superuser or not subject.is_active else profile_for(subject)
    every = [decision.allowed_by, decision.denied_by, decision.not_applied]
    allowed_by, denied_by, not_applied = _readable_entries(actor, subject, every)
    hidden = sum(map(len, every)) - len(allowed_by) - len(denied_by) - len(not_applied)
    return {
        "user": str(subject.pk), "username": subject.username, "action": action,
        "target": {"type": target._meta.label_lower if target is not None else "platform",
                   "id": str(target.pk) if target is not None else None,
                   "name": str(target) if target is not None else "the platform"},
        "allowed": decision.allowed, "reason": decision.reason, "message": decision.message,
        "allowed_by": allowed_by, "denied_by": denied_by, "not_applied": not_applied,
        "hidden": hidden, "hidden_message": f"{hidden} other rule{'s' if hidden != 1 else ''} outside your scope"
        if hidden else "",
        "duties": sorted(profile.duties) if profile else ([] if not subject.is_superuser else ["system_administrator"]),
    }


def access_matrix(*, actor: Any, organization: Organization, codes: list[str] | None = None
                  ) -> tuple[list[str], list[dict[str, Any]]]:
    """Users of ``organization`` (and its descendants) x permission codes: allowed in it?"""
    codes = codes or [p.code for p in permission_catalog()]
    users = restrict(User.objects.filter(memberships__organization__path__startswith=organization.path)
                     .distinct().order_by("username"), actor, "organizations:user:read")
    target = Target(org_id=str(organization.pk), label="organizations.organization", pk=str(organization.pk))
    people = list(users[:1000])
    # Everything the decisions need is loaded once for all the people listed, then decided in memory.
    data = ProfileData([u.pk for u in people if u.is_active and not u.is_superuser])
    rows = []
    for user in people:
        if user.is_superuser:
            cells = [True] * len(codes)
        elif not user.is_active:
            cells = [False] * len(codes)
        else:
            profile = AccessProfile(build_snapshot(user, data))
            cells = [profile.decide(c, target).allowed for c in codes]
        rows.append({"user": user, "cells": cells})
    return codes, rows


def _uuid(value: Any, field: str, label: str) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        raise InvalidInput(f"{label} must be an id (a UUID).", detail={field: ["Not a valid UUID."]}) from None


def explain_for(*, actor: Any, user: Any, action: Any, target_type: Any, target_id: Any) -> dict[str, Any]:
    """``explain`` as the API and the "Why?" page ask it: anyone may explain their own access; the
    access of someone else they can see needs ``rbac:access:explain`` on that person (else 403);
    a person or target they cannot see is 404, a malformed question 400."""
    user_id = _uuid(user, "user", "The user")
    if not isinstance(action, str) or not ACTION_RE.fullmatch(action):
        raise InvalidInput("The action must be a permission code (service:resource:action).",
                           detail={"action": ["Not a permission code."]})
    subject = restrict(User.objects.all(), actor, "organizations:user:read").filter(pk=user_id).first()
    if subject is None:
        raise NotFound("User not found.")
    if subject.pk != actor.pk and not authorize(actor, "rbac:access:explain", subject):
        raise Forbidden("You are not allowed to explain other people's access.")
    target = explain_target(actor=actor, target_type=target_type, target_id=target_id)
    return explain(subject=subject, action=action, target=target, actor=actor)


def access_matrix_for(*, actor: Any, organization_id: Any) -> tuple[Organization, list[str], list[dict[str, Any]]]:
    """``access_matrix`` of an organization ``actor`` can see (else 404) and may explain the access
    in (``rbac:access:explain``, else 403)."""
    organization_id = _uuid(organization_id, "organization", "The organization") if organization_id else None
    org = restrict(Organization.objects.all(), actor, "organizations:organization:read").filter(
        pk=organization_id).first() if organization_id else None
    if org is None:
        raise NotFound("Organization not found.")
    if not authorize(actor, "rbac:access:explain", org):
        raise Forbidden("You are not allowed to see the access matrix of this organization.")
    return org, *access_matrix(actor=actor, organization=org)


def access_matrix_rows(codes: list[str], rows: list[dict[str, Any]]) -> Iterator[list[str]]:
    """The access matrix as table rows (for CSV): one per person, "yes" where a code is allowed."""
    yield ["username", "display_name", *codes]
    for row in rows:
        yield [row["user"].username, row["user"].display_name, *("yes" if c else "" for c in row["cells"])]
