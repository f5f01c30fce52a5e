"""Writes of the RBAC app: custom roles, grants and access policies.

Rules enforced here:
* Separation of duties: nobody holds two of system administrator, security administrator and
  security auditor, whether through their own grants, user groups, organizations or projects
  (a platform administrator already holds the system administrator duty). A role's duty follows
  from its permissions (``roles.duties_of``): a custom role covering a code reserved to a duty
  carries that duty, one covering two duties' codes is refused, and an edit that gives a role a
  duty is refused when one of its holders already holds another. An access policy's Allow
  statements count the same way for the people and user groups it is attached to.
* No escalation: someone who is not a platform administrator can only grant a role, or build a
  custom role, out of permissions they hold themselves on that scope.
* Access policies belong to an organization: an Allow statement names only resources of that
  organization's subtree (the whole platform only for someone holding its actions platform-wide),
  and whoever writes or attaches it must hold every action it allows on those resources. Deny
  statements only take away and are not restricted. A policy allowing what only one separated
  duty's role gives counts as that duty.
* Project grants go to the project's own users and user groups, each independently.
* Predefined roles cannot be changed; a role still granted cannot be deleted.
Every change is announced on its topic (``role:<id>``, ``grant:<id>``, ``policy:<id>``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError, Q
from django.utils.text import slugify

from apps.core.errors import Conflict, Forbidden, InvalidInput, Refused
from apps.core.events import emit
from apps.core.scoping import authorize, require
from apps.organizations.models import Membership, Organization, Project, User, UserGroup
from apps.rbac import engine
from apps.rbac.catalog import matches_any, matching_codes, validate_patterns
from apps.rbac.models import AccessPolicy, Grant, Role
from apps.rbac.policy import PolicyError, ResourceRef, parse_document
from apps.rbac.roles import DUTIES, DUTY_LABELS, PREDEFINED_ROLES, SYSTEM_ADMINISTRATOR, duties_of

logger = logging.getLogger(__name__)

SCOPE_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def _role_patterns(role: Role) -> tuple[tuple[str, ...], tuple[str, ...]]:
    predefined = PREDEFINED_ROLES.get(role.key) if role.is_predefined else None
    if predefined:
        return predefined.permissions, predefined.excluded
    return tuple(role.permissions or ()), tuple(role.excluded_permissions or ())


def _probes(patterns: Iterable[str], excluded: Iterable[str]) -> list[str]:
    """For each wildcard pattern, a code no app has registered that only the same or a broader
    pattern covers: ``ecs:*`` -> ``ecs:zzany:zzany``. Holding every registered code is not enough
    to hand out a wildcard, which also covers the codes of apps installed later."""
    probes = []
    for pattern in patterns:
        if "*" not in pattern:
            continue
        parts = pattern.replace("*", "zzany").split(":")
        probe = ":".join(parts + ["zzany"] * (3 - len(parts)))
        if not matches_any(tuple(excluded), probe):
            probes.append(probe)
    return probes


def _require_holds(actor: Any, role_patterns: tuple[tuple[str, ...], tuple[str, ...]], target: Any) -> None:
    """No escalation: the actor must hold every permission they hand out, on that target."""
    if actor is None or actor.is_superuser:
        return
    patterns, excluded = role_patterns
    codes = list(matching_codes(patterns, excluded)) + _probes(patterns, excluded)
    missing = [c for c in codes if not authorize(actor, c, target)]
    if missing:
        raise Forbidden("You cannot hand out permissions you do not hold yourself.",
                        code="escalation_refused", detail={"missing": missing[:50]})


def sync_predefined_roles(**_: Any) -> None:
    """Mirror the predefined roles into the table and derive again the duty of every custom role
    (the codes reserved to a duty grow as apps register theirs); after every migrate, idempotent."""
    for definition in PREDEFINED_ROLES.values():
        Role.objects.update_or_create(
            key=definition.key,
            defaults={"name": definition.name, "description": definition.description, "is_predefined": True,
                      "duty": definition.duty, "permissions": list(definition.permissions),
                      "excluded_permissions": list(definition.excluded), "organization": None},
        )
    for role in Role.objects.filter(is_predefined=False).only("id", "key", "duty", "permissions",
                                                                  "excluded_permissions"):
        duties = duties_of(role.permissions or (), role.excluded_permissions or ())
        if len(duties) > 1:
            logger.warning("Custom role %s now covers the codes of several separated duties (%s); "
                           "narrow its permissions.", role.key, ", ".join(sorted(duties)))
        duty = next((d for d in DUTIES if d in duties), "")
        if duty != role.duty:
            Role.objects.filter(pk=role.pk).update(duty=duty)


# -- separation of duties ----------------------------------------------------------------------

def _document_duties(document: Any) -> set[str]:
    """The separated duties the Allow statements of a policy document give."""
    try:
        statements = parse_document(document)
    except PolicyError:
        return set()
    return set(duties_of(a for st in statements if st.effect == "Allow" for a in st.actions))


def _policies_duties(policies: Iterable[AccessPolicy]) -> set[str]:
    return set().union(*(_document_duties(p.document) for p in policies))


def _one_duty(duties: set[str] | frozenset[str], what: str) -> str:
    """The duty of a role or policy document; refused when it would carry two."""
    if len(duties) > 1:
        labels = sorted(DUTY_LABELS.get(d, d) for d in duties)
        raise Refused(f"Separated duties cannot be combined: this {what} would give {' and '.join(labels)}. "
                      "Keep the permissions of one duty only.", code="separation_of_duties",
                      detail={"duties": sorted(duties)})
    return next(iter(duties), "")


def user_duties(user: User) -> set[str]:
    """The separated duties a person holds through any grant or attached policy, enabled or not;
    a platform administrator holds the system administrator duty."""
    return ({SYSTEM_ADMINISTRATOR} if user.is_superuser else set()) | granted_duties(user)


def granted_duties(user: User) -> set[str]:
    """The separated duties grants (of predefined or custom roles) and Allow statements of
    attached access policies give a person, enabled or not."""
    rows = engine.grants_reaching(user).filter(role__duty__gt="").values_list("role__duty", flat=True)
    policies = AccessPolicy.objects.filter(Q(users=user) | Q(groups__members=user)).distinct()
    return set(rows) | _policies_duties(policies)


def _duties_given_by(via: Any) -> set[str]:
    """Duties that joining ``via`` (an organization, user group or project) would give: those of the
    grants that would then reach the person (``engine.Reach``), and of a group's policies."""
    extra: set[str] = set()
    if isinstance(via, UserGroup):
        # a group's members also become members of the group's projects
        projects = frozenset(str(p) for p in via.projects.values_list("pk", flat=True))
        reach = engine.Reach(groups=frozenset({str(via.pk)}), projects=projects)
        extra = _policies_duties(AccessPolicy.objects.filter(groups=via))
    elif isinstance(via, Project):
        reach = engine.Reach(projects=frozenset({str(via.pk)}))
    elif isinstance(via, Organization):
        reach = engine.Reach(organizations=frozenset(via.ancestor_ids))
    else:
        return set()
    return extra | set(Grant.objects.filter(reach.q(), role__duty__gt="").values_list("role__duty", flat=True))


def _refuse_combined_duties(users: Iterable[User], extra: set[str]) -> None:
    if not extra:
        return
    clashes = []
    for user in users:
        duties = user_duties(user) | extra
        if len(duties) > 1:
            clashes.append({"user": str(user.pk), "username": user.username,
                            "duties": sorted(DUTY_LABELS.get(d, d) for d in duties)})
    if clashes:
        names = ", ".join(c["username"] for c in clashes[:5])
        raise Refused(f"Separated duties cannot be combined: {names} would hold "
                      f"{' and '.join(clashes[0]['duties'])}.", code="separation_of_duties",
                      detail={"users": clashes})


def membership_guard(users: Iterable[User], via: Any) -> None:
    """Registered with the organizations app: joining an organization, group or project must not
    give anyone a second separated duty."""
    _refuse_combined_duties(users, _duties_given_by(via))


# -- roles -------------------------------------------------------------------------------------

def _validated_patterns(permissions: Any, excluded: Any) -> tuple[list[str], list[str]]:
    errors = validate_patterns(permissions, "permissions") + validate_patterns(excluded or [],
                                                                              "excluded_permissions")
    if errors:
        raise InvalidInput("The role's permissions are not valid; see detail.", detail={"errors": errors})
    if not permissions:
        raise InvalidInput("A role needs at least one permission.", detail={"permissions": ["Empty."]})
    return list(dict.fromkeys(permissions)), list(dict.fromkeys(excluded or []))


def _changed(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """``before`` and ``after`` of what a change touched (None for a creation or a removal)."""
    if before is None or after is None:
        return {"before": before, "after": after}
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {"before": {k: before.get(k) for k in keys}, "after": {k: after.get(k) for k in keys}}


def _role_fields(role: Role) -> dict[str, Any]:
    return {"name": role.name, "description": role.description, "permissions": list(role.permissions or []),
            "excluded_permissions": list(role.excluded_permissions or []), "duty": role.duty}


def _policy_fields(policy: AccessPolicy) -> dict[str, Any]:
    return {"name": policy.name, "description": policy.description, "document": policy.document}


def _attachments(policy: AccessPolicy) -> dict[str, Any]:
    return {"users": sorted(str(i) for i in policy.users.values_list("pk", flat=True)),
            "groups": sorted(str(i) for i in policy.groups.values_list("pk", flat=True))}


def _role_holders(role: Role) -> list[User]:
    """Everyone a grant of ``role`` reaches (its grantee users, group members, organization and
    project members)."""
    people: dict[Any, User] = {}
    for grant in role.grants.select_related("user", "group", "grantee_organization", "grantee_project"):
        grantee = {"user": grant.user, "group": grant.group, "organization": grant.grantee_organization,
                   "project": grant.grantee_project}[grant.grantee_type]
        people.update((u.pk, u) for u in engine.people_reached(grant.grantee_type, grantee))
    return list(people.values())


def _role_payload(role: Role) -> dict[str, Any]:
    return {"id": str(role.id), "key": role.key, "name": role.name, "permissions": role.permissions,
            "excluded_permissions": role.excluded_permissions,
            "organization": str(role.organization_id) if role.organization_id else None}


@transaction.atomic
def role_create(*, actor: Any, name: str, permissions: list[str], excluded_permissions: list[str] | None = None,
                organization: Organization | None = None, description: str = "", key: str = "") -> Role:
    """A custom role of an organization (or of the platform when ``organization`` is None); its
    duty follows from its permissions, and permissions of two duties are refused."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("name is required.", detail={"name": ["This field is required."]})
    permissions, excluded = _validated_patterns(permissions, excluded_permissions)
    require(actor, "rbac:role:write", organization)
    _require_holds(actor, (tuple(permissions), tuple(excluded)), organization)
    duty = _one_duty(duties_of(permissions, excluded), "role")
    key = slugify(key or name).replace("-", "_")[:64]
    if not key:
        raise InvalidInput("The role needs a key made of letters or digits.", detail={"key": ["Invalid."]})
    if Role.objects.filter(key=key).exists():
        raise Conflict("A role with this key already exists.", code="role_exists", detail={"key": ["Taken."]})
    role = Role.objects.create(key=key, name=name.strip(), description=description or "", permissions=permissions,
                               excluded_permissions=excluded, organization=organization, duty=duty)
    engine.invalidate()
    emit(organization, role.topic, {"event": "created", **_role_payload(role)})
    return role


@transaction.atomic
def role_update(*, actor: Any, role: Role, name: str | None = None, description: str | None = None,
                permissions: list[str] | None = None, excluded_permissions: list[str] | None = None) -> Role:
    """New permissions may change the role's duty; the change is refused when the role would
    carry two duties or when one of the people holding it would then hold two."""
    if role.is_predefined:
        raise Refused("Predefined roles cannot be changed; create a custom role instead.", code="predefined_role")
    require(actor, "rbac:role:write", role.organization)
    role = Role.objects.select_for_update().get(pk=role.pk)
    before, before_duty = _role_fields(role), role.duty
    if permissions is not None or excluded_permissions is not None:
        new_permissions, new_excluded = _validated_patterns(
            permissions if permissions is not None else role.permissions,
            excluded_permissions if excluded_permissions is not None else role.excluded_permissions)
        _require_holds(actor, (tuple(new_permissions), tuple(new_excluded)), role.organization)
        role.permissions, role.excluded_permissions = new_permissions, new_excluded
        role.duty = _one_duty(duties_of(new_permissions, new_excluded), "role")
    if name is not None:
        if not name.strip():
            raise InvalidInput("name is required.", detail={"name": ["This field is required."]})
        role.name = name.strip()
    if description is not None:
        role.description = description
    gained = role.duty and role.duty != before_duty
    role.save()
    if gained:
        # Saved first so each holder's duties count this role's new duty instead of its old one;
        # a refusal rolls the edit back.
        _refuse_combined_duties(_role_holders(role), {role.duty})
    engine.invalidate()
    emit(role.organization_id, role.topic, {"event": "updated", **_role_payload(role),
                                            **_changed(before, _role_fields(role))})
    return role


@transaction.atomic
def role_delete(*, actor: Any, role: Role) -> None:
    if role.is_predefined:
        raise Refused("Predefined roles cannot be deleted.", code="predefined_role")
    require(actor, "rbac:role:write", role.organization)
    payload = _role_payload(role)
    count = role.grants.count()
    if count:
        raise Refused(f"The role is still granted {count} time(s); revoke those grants first.", code="role_in_use",
                      detail={"grants": count})
    role.delete()
    engine.invalidate()
    emit(payload["organization"], f"role:{payload['id']}", {"event": "deleted", **payload})


# -- grants ------------------------------------------------------------------------------------

def _grant_payload(grant: Grant) -> dict[str, Any]:
    return {
        "id": str(grant.id), "role": grant.role.key, "grantee_type": grant.grantee_type,
        "grantee": str(grant.user_id or grant.group_id or grant.grantee_organization_id or grant.grantee_project_id),
        "scope_type": grant.scope_type,
        "scope": str(grant.scope_organization_id or grant.scope_project_id or grant.scope_key or ""),
        "organization": str(grant.organization_id) if grant.organization_id else None,
    }


@transaction.atomic
def grant_create(*, actor: Any, role: Role, grantee_type: str, grantee: Any, scope_type: str,
                 scope: Any = None, scope_key: str = "", note: str = "") -> Grant:
    """Give ``role`` to ``grantee`` on a scope. Refused (422) when it would combine separated
    duties, when a project grant names someone outside the project, or when it repeats a grant."""
    expected = {"user": User, "group": UserGroup, "organization": Organization, "project": Project}
    if grantee_type not in expected:
        raise InvalidInput("Unknown grantee type.", detail={"grantee_type": [f"One of {sorted(expected)}."]})
    if not isinstance(grantee, expected[grantee_type]):
        raise InvalidInput(f"The grantee must be a {grantee_type}.", detail={"grantee": ["Wrong kind."]})
    fields: dict[str, Any] = {"scope_key": ""}
    if scope_type == "organization":
        if not isinstance(scope, Organization):
            raise InvalidInput("An organization scope needs an organization.", detail={"scope": ["Required."]})
        fields.update(scope_organization=scope, organization=scope)
        target: Any = scope
    elif scope_type == "project":
        if not isinstance(scope, Project):
            raise InvalidInput("A project scope needs a project.", detail={"scope": ["Required."]})
        fields.update(scope_project=scope, organization_id=scope.organization_id)
        target = scope
    elif scope_type in ("cloud_platform", "cloud_service"):
        if not isinstance(scope_key, str) or not SCOPE_KEY_RE.match(scope_key):
            raise InvalidInput(f"A {scope_type.replace('_', ' ')} scope needs its id or code.",
                               detail={"scope_key": ["Letters, digits, '_', '.', '-' (at most 64)."]})
        fields.update(scope_key=scope_key, organization=None)
        target = None
    elif scope_type == "platform":
        fields.update(organization=None)
        target = None
    else:
        raise InvalidInput("Unknown scope type.", detail={"scope_type": [f"One of {Grant.ScopeType.values}."]})
    if scope_type == "project":
        _check_project_grantee(scope, grantee_type, grantee)
    require(actor, "rbac:grant:write", target)
    _require_holds(actor, _role_patterns(role), target)
    if role.duty:
        _refuse_combined_duties(list(engine.people_reached(grantee_type, grantee)), {role.duty})
    grantee_field = {"user": "user", "group": "group", "organization": "grantee_organization",
                     "project": "grantee_project"}[grantee_type]
    duplicate = Grant.objects.filter(role=role, grantee_type=grantee_type, scope_type=scope_type,
                                     **{grantee_field: grantee},
                                     **{k: v for k, v in fields.items() if k != "organization_id"})
    if duplicate.exists():
        raise Conflict("This grant already exists.", code="grant_exists")
    grant = Grant.objects.create(role=role, grantee_type=grantee_type, scope_type=scope_type, note=note or "",
                                 created_by=actor if getattr(actor, "is_authenticated", False) else None,
                                 **{grantee_field: grantee}, **fields)
    engine.invalidate()
    payload = _grant_payload(grant)
    emit(grant.organization_id, grant.topic, {"event": "created", **payload,
                                              **_changed(None, {k: v for k, v in payload.items() if k != "id"})})
    return grant


def _check_project_grantee(project: Project, grantee_type: str, grantee: Any) -> None:
    """L704: a project grant goes to the project's users and user groups independently."""
    if grantee_type == "project":
        if grantee.pk != project.pk:
            raise Refused("A project scope can only be granted to that project's members.",
                          code="grantee_not_in_project")
        return
    if grantee_type == "organization":
        raise Refused("Grant a project to its users, user groups or all its members, not to an organization.",
                      code="grantee_not_in_project")
    if grantee_type == "group" and not project.groups.filter(pk=grantee.pk).exists():
        raise Refused("The user group is not part of the project.", code="grantee_not_in_project")
    if grantee_type == "user" and not (project.members.filter(pk=grantee.pk).exists()
                                       or project.groups.filter(members=grantee).exists()):
        raise Refused("The user is not a member of the project.", code="grantee_not_in_project")


def _grant_target(grant: Grant) -> Any:
    if grant.scope_type == "organization":
        return grant.scope_organization
    if grant.scope_type == "project":
        return grant.scope_project
    return None


@transaction.atomic
def grant_revoke(*, actor: Any, grant: Grant) -> None:
    require(actor, "rbac:grant:write", _grant_target(grant))
    payload = _grant_payload(grant)
    grant.delete()
    engine.invalidate()
    emit(payload["organization"], f"grant:{payload['id']}", {
        "event": "revoked", **payload, **_changed({k: v for k, v in payload.items() if k != "id"}, None)})


# -- access policies ---------------------------------------------------------------------------

def _validated_document(document: Any) -> Any:
    try:
        parse_document(document)
    except PolicyError as exc:
        first = exc.errors[0]
        raise InvalidInput(f"The policy document is not valid: {first['path']}: {first['message']}.",
                           code="invalid_policy", detail={"document": exc.errors}) from None
    return document


def _resource_target(ref: ResourceRef, organization: Organization | None) -> Any:
    """The object an Allow resource stands for (None: the whole platform); refused when it lies
    outside the policy's organization or does not exist."""
    if ref.kind == "all" or (ref.kind == "object" and ref.key == "*"):
        return None
    if ref.kind == "org":
        obj: Any = Organization.objects.filter(pk=ref.key).first()
        org_path = obj.path if obj else None
    elif ref.kind == "project":
        obj = Project.objects.select_related("organization").filter(pk=ref.key).first()
        org_path = obj.organization.path if obj else None
    else:
        try:
            model = django_apps.get_model(ref.label)
            obj = model._default_manager.filter(pk=ref.key).first()
        except (LookupError, ValueError, TypeError, ValidationError):
            obj = None
        org_path = None
        if obj is not None:
            org_ids = [t.org_id for t in engine.target_of(obj, "") if t.org_id]
            paths = list(Organization.objects.filter(pk__in=org_ids).values_list("path", flat=True))
            org_path = paths[0] if paths else None
            if organization is not None and paths and any(p.startswith(organization.path) for p in paths):
                org_path = organization.path
    if obj is None:
        raise InvalidInput(f"The policy names {ref} which does not exist.", code="invalid_policy",
                           detail={"document": [{"path": "Resource", "message": f"{ref} not found"}]})
    if organization is not None and not (org_path or "").startswith(organization.path):
        raise Refused(f"An Allow statement can only name resources of the policy's organization ({ref}).",
                      code="outside_organization", detail={"resource": str(ref)})
    return obj


def _require_holds_document(actor: Any, document: Any, organization: Organization | None) -> None:
    """Every Allow statement: its resources lie in the policy's organization and ``actor`` holds
    each of its actions on each of them. Deny statements only take away."""
    for statement in parse_document(document):
        if statement.effect != "Allow":
            continue
        for ref in statement.resources:
            _require_holds(actor, (statement.actions, ()), _resource_target(ref, organization))


def _policy_users(policy: AccessPolicy) -> list[User]:
    return list(User.objects.filter(Q(access_policies=policy) | Q(user_groups__access_policies=policy)).distinct())


def _policy_payload(policy: AccessPolicy) -> dict[str, Any]:
    return {"id": str(policy.id), "name": policy.name,
            "organization": str(policy.organization_id) if policy.organization_id else None}


@transaction.atomic
def policy_create(*, actor: Any, name: str, document: Any, organization: Organization | None = None,
                  description: str = "") -> AccessPolicy:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("name is required.", detail={"name": ["This field is required."]})
    document = _validated_document(document)
    require(actor, "rbac:policy:write", organization)
    _require_holds_document(actor, document, organization)
    _one_duty(_document_duties(document), "policy")
    policy = AccessPolicy.objects.create(name=name.strip(), document=document, organization=organization,
                                         description=description or "")
    emit(organization, policy.topic, {"event": "created", **_policy_payload(policy),
                                      **_changed(None, _policy_fields(policy))})
    return policy


@transaction.atomic
def policy_update(*, actor: Any, policy: AccessPolicy, name: str | None = None, document: Any = None,
                  description: str | None = None) -> AccessPolicy:
    require(actor, "rbac:policy:write", policy.organization)
    policy = AccessPolicy.objects.select_for_update().get(pk=policy.pk)
    before = _policy_fields(policy)
    gained: set[str] = set()
    if document is not None:
        document = _validated_document(document)
        _require_holds_document(actor, document, policy.organization)
        duty = _one_duty(_document_duties(document), "policy")
        gained = {duty} - _document_duties(policy.document) - {""}
        policy.document = document
    if name is not None:
        if not name.strip():
            raise InvalidInput("name is required.", detail={"name": ["This field is required."]})
        policy.name = name.strip()
    if description is not None:
        policy.description = description
    policy.save()
    if gained:
        # Saved first so the people it is attached to count its new duty instead of its old one.
        _refuse_combined_duties(_policy_users(policy), gained)
    engine.invalidate()
    emit(policy.organization_id, policy.topic, {"event": "updated", **_policy_payload(policy),
                                                **_changed(before, _policy_fields(policy))})
    return policy


@transaction.atomic
def policy_delete(*, actor: Any, policy: AccessPolicy) -> None:
    """Deleting a policy detaches it from everyone; nothing else refers to it."""
    require(actor, "rbac:policy:write", policy.organization)
    payload = _policy_payload(policy)
    before = _policy_fields(policy)
    try:
        policy.delete()
    except ProtectedError:  # pragma: no cover - nothing protects a policy today
        raise Refused("The policy is still in use.", code="policy_in_use") from None
    engine.invalidate()
    emit(payload["organization"], f"policy:{payload['id']}", {"event": "deleted", **payload,
                                                              **_changed(before, None)})


def _within(org: Organization | None, user: User | None = None, group: UserGroup | None = None) -> bool:
    if org is None:
        return True
    if user is not None:
        return Membership.objects.filter(user=user, organization__path__startswith=org.path).exists()
    return group is not None and group.organization.path.startswith(org.path)


@transaction.atomic
def policy_attach(*, actor: Any, policy: AccessPolicy, user: User | None = None,
                  group: UserGroup | None = None) -> AccessPolicy:
    """Attach to a user or a user group of the policy's organization (any, for a platform policy)."""
    if (user is None) == (group is None):
        raise InvalidInput("Attach the policy to one user or one user group.", detail={"user": ["One of."]})
    require(actor, "rbac:policy:write", policy.organization)
    if not _within(policy.organization, user, group):
        raise Refused("The policy belongs to another organization.", code="outside_organization")
    _require_holds_document(actor, policy.document, policy.organization)
    _refuse_combined_duties([user] if user else list(group.members.all()), _document_duties(policy.document))
    before = _attachments(policy)
    (policy.users.add(user) if user else policy.groups.add(group))
    engine.invalidate()
    emit(policy.organization_id, policy.topic, {"event": "attached", **_policy_payload(policy),
                                                "user": str(user.pk) if user else None,
                                                "group": str(group.pk) if group else None,
                                                **_changed(before, _attachments(policy))})
    return policy


@transaction.atomic
def policy_detach(*, actor: Any, policy: AccessPolicy, user: User | None = None,
                  group: UserGroup | None = None) -> AccessPolicy:
    if (user is None) == (group is None):
        raise InvalidInput("Detach the policy from one user or one user group.", detail={"user": ["One of."]})
    require(actor, "rbac:policy:write", policy.organization)
    before = _attachments(policy)
    (policy.users.remove(user) if user else policy.groups.remove(group))
    engine.invalidate()
    emit(policy.organization_id, policy.topic, {"event": "detached", **_policy_payload(policy),
                                                "user": str(user.pk) if user else None,
                                                "group": str(group.pk) if group else None,
                                                **_changed(before, _attachments(policy))})
    return policy
