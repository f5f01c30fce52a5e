"""The decision engine behind ``authorize`` and ``restrict``.

For one user the engine builds an ``AccessSnapshot``: the grants that reach the user (directly,
through user groups, organization membership and project membership: ``Reach``, the one statement
of that rule, also behind ``grants_reaching``), the implicit member role of each organization they
belong to, and the statements of attached access policies, as plain immutable values. Then:

* ``decide(action, target)``: explicit Deny (policy) > security-auditor read-only rule > Allow from a
  grant whose role covers the action and whose scope contains the target > Allow from a policy >
  implicit deny. Every decision can be explained (``explain``).
* ``AccessProfile.scope_contains(rule, target)``: whether a grant's scope contains a target (the
  whole platform, an organization's subtree, a project, a cloud platform or a cloud service);
  ``roles_held`` answers with it which roles a person holds where an object is.
* ``predicate(model, action)``: the same rules as a plain indexed filter (``organization_id IN
  (...)``, ``project_id IN (...)``), cached per model and action for the request, so a list never
  costs one query per row.

An Allow statement of an organization's policy is bounded to that organization's subtree, whatever
its stored document says (``*`` there means "anything in the subtree"); Deny statements and platform
policies are not bounded.

Snapshots are shared across requests, processes and threads through Django's cache (local memory in
the embedded mode, Redis in the distributed mode), tagged with two version tokens: one for everyone
and one per person. Every change to what a snapshot is made of replaces a token when it commits
(``invalidate``, called by the model signals of ``apps.rbac.signals``), so the next request of anyone
it affects loads the snapshot again; a warm list costs no query for access at all. Within one request
the ``AccessProfile`` (snapshot plus the predicates built from it) lives on the user object. Whether
the person is active or a platform administrator is read from the request's own user, never cached.
In the embedded mode the cache is the server process's memory: a change another process writes (a
management command beside a running server) reaches it when the snapshots time out.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import Model, Q
from django.utils import timezone

from apps.core.middleware import client_ip_var
from apps.rbac.catalog import is_read_action, matches_any, permission_catalog
from apps.rbac.policy import Conditions, ResourceRef, Statement, parse_document
from apps.rbac.roles import MEMBER_ROLE, PREDEFINED_ROLES, SECURITY_AUDITOR

logger = logging.getLogger(__name__)

_generation = itertools.count(1)
_current_generation = next(_generation)

# A shared snapshot is trusted at most this long, even if the news of a change never reached the cache.
SNAPSHOT_TIMEOUT = 600
# The shape of a cached snapshot: change it with AccessSnapshot, Rule or PolicyStatement.
SNAPSHOT_FORMAT = 1
_EVERYONE = "rbac:version"


def _person_key(user_id: str) -> str:
    return f"rbac:version:{user_id}"


@functools.cache
def _code_tag() -> str:
    """What the code adds to a snapshot (predefined roles, the permission catalog, the format), so
    processes running different code never read each other's snapshots."""
    text = repr((SNAPSHOT_FORMAT, sorted(PREDEFINED_ROLES.items()), [p.code for p in permission_catalog()]))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _snapshot_key(user_id: str) -> str:
    return f"rbac:snapshot:{_code_tag()}:{user_id}"


def invalidate(user_ids: Iterable[Any] | None = None) -> None:
    """Forget the profiles of ``user_ids`` (None: everyone's).

    This process's per-request profiles go at once. The shared snapshots go when the surrounding
    transaction commits (at once outside one): published earlier, another request could load the
    rows as they were before the change and cache them under the new version."""
    global _current_generation
    _current_generation = next(_generation)
    people = None if user_ids is None else frozenset(str(u) for u in user_ids)
    if people is None or people:
        transaction.on_commit(functools.partial(_publish, people))


def _publish(people: frozenset[str] | None) -> None:
    token = uuid.uuid4().hex
    keys = [_EVERYONE] if people is None else [_person_key(u) for u in people]
    try:
        cache.set_many(dict.fromkeys(keys, token), timeout=None)
    except Exception:  # noqa: BLE001 - the change is committed; the snapshots it missed time out
        logger.exception("could not publish an access change; shared snapshots expire within %s s",
                         SNAPSHOT_TIMEOUT)


def _version(key: str) -> str:
    """The current token under ``key``, creating one when there is none (new, evicted or expired).
    A fresh random token, never a counter: a snapshot tagged before an eviction never matches again."""
    token = uuid.uuid4().hex
    if cache.add(key, token, timeout=None):
        return token
    return cache.get(key) or token


ALL = "all"


@dataclass(frozen=True)
class Target:
    """What a decision is about, reduced to the fields scopes and resources look at."""

    org_id: str | None = None  # None: a platform-level object, or no object at all
    project_id: str | None = None
    cloud_platform: str | None = None
    label: str = ""  # app_label.model
    pk: str = ""
    anywhere: bool = False  # "may the user do this somewhere?" (menus)
    shared: bool = False  # a platform row shared with everyone who holds the action (predefined roles)
    service: str | None = None  # the cloud service the target is of (ecs, rds), when the caller knows it


@dataclass(frozen=True)
class Rule:
    """One grant (or membership) as it applies to this user."""

    source: str  # "grant" or "membership"
    grant_id: str | None
    role_key: str
    role_name: str
    patterns: tuple[str, ...]
    excluded: tuple[str, ...]
    duty: str
    scope_type: str
    scope_id: str  # organization id, project id, cloud platform id or service code ("" for platform)
    scope_label: str
    via: str

    def covers(self, action: str) -> bool:
        if self.scope_type == "cloud_service" and action.split(":", 1)[0] != self.scope_id:
            return False
        return matches_any(self.patterns, action) and not matches_any(self.excluded, action)


@dataclass(frozen=True)
class PolicyStatement:
    policy_id: str
    policy_name: str
    via: str
    statement: Statement
    # The organizations an Allow statement of an organization's policy may reach; None: unbounded.
    bound: frozenset[str] | None = None

    @property
    def effect(self) -> str:
        return self.statement.effect


@dataclass
class Decision:
    allowed: bool
    reason: str
    message: str
    allowed_by: list[dict[str, Any]] = field(default_factory=list)
    denied_by: list[dict[str, Any]] = field(default_factory=list)
    not_applied: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Reach:
    """Whom a grant reaches: it is given to one of ``users``, to one of their user ``groups``, to
    one of their ``organizations`` (the organizations they belong to and every ancestor of each: a
    grant to an organization reaches the members of its sub-organizations) or to one of their
    ``projects`` (as members, directly or through a user group)."""

    users: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    organizations: frozenset[str] = frozenset()
    projects: frozenset[str] = frozenset()

    def q(self) -> Q:
        """The grants that reach them, as one filter of plain ``IN`` lists on ``Grant``."""
        return (Q(grantee_type="user", user_id__in=sorted(self.users))
                | Q(grantee_type="group", group_id__in=sorted(self.groups))
                | Q(grantee_type="organization", grantee_organization_id__in=sorted(self.organizations))
                | Q(grantee_type="project", grantee_project_id__in=sorted(self.projects)))

    def reaches(self, grant: Any) -> bool:
        """The same rule for one loaded grant (no query)."""
        grantee = {"user": grant.user_id, "group": grant.group_id, "organization": grant.grantee_organization_id,
                   "project": grant.grantee_project_id}.get(grant.grantee_type)
        among = {"user": self.users, "group": self.groups, "organization": self.organizations,
                 "project": self.projects}.get(grant.grantee_type, frozenset())
        return grantee is not None and str(grantee) in among


def organizations_reaching(user: Any) -> frozenset[str]:
    """The organizations ``user`` belongs to and every ancestor of each, enabled or not: those
    whose grants (and security policies) reach the person."""
    from apps.organizations.models import Organization

    paths = Organization.objects.filter(memberships__user=user).values_list("path", flat=True)
    return frozenset(a for p in paths for a in p.split("/") if a)


def reach_of(user: Any) -> Reach:
    """Whom grants reach to reach ``user``, from every membership they have, whether the
    organization or project is enabled or not (decisions leave the disabled ones out)."""
    from apps.organizations.models import Project, UserGroup

    groups = UserGroup.members.through.objects.filter(user_id=user.pk).values_list("usergroup_id", flat=True)
    projects = Project.objects.filter(Q(members=user) | Q(groups__members=user)).values_list("id", flat=True)
    return Reach(users=frozenset({str(user.pk)}), groups=frozenset(str(g) for g in groups),
                 organizations=organizations_reaching(user), projects=frozenset(str(p) for p in projects))


def grants_reaching(user: Any) -> Any:
    """Every grant that reaches ``user``: given to them, to a user group of theirs, to an
    organization they belong to or an ancestor of one, or to a project they are a member of
    (directly or through a group). Grants on disabled organizations and projects are included;
    which of them give access now is for ``authorize`` to say."""
    from apps.rbac.models import Grant

    return Grant.objects.filter(reach_of(user).q())


def people_reached(grantee_type: str, grantee: Any) -> Any:
    """The people a grant to ``grantee`` reaches (the same rule seen from the grant's side)."""
    from apps.organizations.models import User

    if grantee_type == "user":
        return User.objects.filter(pk=grantee.pk)
    if grantee_type == "group":
        return grantee.members.all()
    if grantee_type == "organization":
        return User.objects.filter(memberships__organization__path__startswith=grantee.path).distinct()
    return User.objects.filter(Q(projects=grantee) | Q(user_groups__projects=grantee)).distinct()


class ProfileData:
    """What profiles are made of, loaded for several people at once in a constant number of
    queries (the access matrix decides for hundreds of people in memory)."""

    def __init__(self, user_ids: list[Any]) -> None:
        from apps.organizations.models import Membership, Organization, Project, UserGroup
        from apps.rbac.models import AccessPolicy, Grant

        ids = [str(u) for u in user_ids]
        self.orgs: dict[str, tuple[str, bool, str]] = {
            str(i): (p, a, n) for i, p, a, n in Organization.objects.values_list("id", "path", "is_active", "name")
        }
        self.memberships: dict[str, list[str]] = {}
        for u, o in Membership.objects.filter(user_id__in=ids).values_list("user_id", "organization_id"):
            self.memberships.setdefault(str(u), []).append(str(o))
        self.groups: dict[str, list[str]] = {}
        for u, g in UserGroup.members.through.objects.filter(user_id__in=ids).values_list("user_id", "usergroup_id"):
            self.groups.setdefault(str(u), []).append(str(g))
        all_groups = sorted({g for gs in self.groups.values() for g in gs})
        direct = list(Project.members.through.objects.filter(user_id__in=ids).values_list("user_id", "project_id"))
        by_group = list(Project.groups.through.objects.filter(usergroup_id__in=all_groups).values_list(
            "usergroup_id", "project_id"))
        active = {str(i): a for i, a in Project.objects.filter(
            pk__in={p for _u, p in direct} | {p for _g, p in by_group}).values_list("id", "is_active")}
        group_projects: dict[str, set[str]] = {}
        for g, p in by_group:
            group_projects.setdefault(str(g), set()).add(str(p))
        self.projects: dict[str, list[str]] = {}
        for u in ids:
            mine = {str(p) for uu, p in direct if str(uu) == u}
            for g in self.groups.get(u, []):
                mine |= group_projects.get(g, set())
            self.projects[u] = sorted(p for p in mine if active.get(p))
        ancestors = {a for orgs in self.memberships.values() for o in orgs if o in self.orgs
                     for a in self.orgs[o][0].split("/") if a}
        all_projects = {p for ps in self.projects.values() for p in ps}
        everyone = Reach(frozenset(ids), frozenset(all_groups), frozenset(ancestors), frozenset(all_projects))
        self.grants = list(Grant.objects.filter(everyone.q()).select_related(
            "role", "group", "grantee_organization", "grantee_project", "scope_project"))
        self.policy_users: dict[str, set[str]] = {}
        for pid, u in AccessPolicy.users.through.objects.filter(user_id__in=ids).values_list("accesspolicy_id",
                                                                                             "user_id"):
            self.policy_users.setdefault(str(pid), set()).add(str(u))
        self.policy_groups: dict[str, set[str]] = {}
        for pid, g in AccessPolicy.groups.through.objects.filter(usergroup_id__in=all_groups).values_list(
                "accesspolicy_id", "usergroup_id"):
            self.policy_groups.setdefault(str(pid), set()).add(str(g))
        policy_ids = set(self.policy_users) | set(self.policy_groups)
        self.policies = list(AccessPolicy.objects.filter(pk__in=policy_ids)) if policy_ids else []
        self.statements: dict[str, list[Statement]] = {}
        for policy in self.policies:
            try:
                self.statements[str(policy.id)] = parse_document(policy.document)
            except Exception:  # noqa: BLE001 - stored documents were validated; a broken one grants nothing
                continue
        # The organization of each project an organization's policy allows, to bound it.
        named = {r.key for policy in self.policies if policy.organization_id
                 for s in self.statements.get(str(policy.id), []) if s.effect == "Allow"
                 for r in s.resources if r.kind == "project"}
        self.project_orgs: dict[str, str] = {str(p): str(o) for p, o in Project.objects.filter(
            pk__in=named).values_list("id", "organization_id")} if named else {}


@dataclass(frozen=True)
class AccessSnapshot:
    """One person's access as plain immutable values (no model instance, no user object), so one
    copy serves every request and thread until a change replaces it."""

    user_id: str
    rules: tuple[Rule, ...]
    statements: tuple[PolicyStatement, ...]
    duties: frozenset[str]
    # Each organization the rules and statements name -> it and its descendants.
    subtrees: dict[str, frozenset[str]]
    # The organization of each project an organization's policy allows, to bound it.
    project_orgs: dict[str, str]


class _Tree:
    """The organization table as loaded: id -> (path, is_active, name)."""

    def __init__(self, orgs: dict[str, tuple[str, bool, str]]) -> None:
        self.orgs = orgs
        self._subtrees: dict[str, frozenset[str]] = {}

    def active(self, org_id: str) -> bool:
        return org_id in self.orgs and self.orgs[org_id][1]

    def ancestors(self, org_id: str) -> list[str]:
        return [p for p in self.orgs[org_id][0].split("/") if p] if org_id in self.orgs else []

    def subtree(self, org_id: str) -> frozenset[str]:
        if org_id not in self._subtrees:
            prefix = self.orgs[org_id][0] if org_id in self.orgs else None
            self._subtrees[org_id] = frozenset(
                i for i, (p, _a, _n) in self.orgs.items() if p.startswith(prefix)) if prefix else frozenset()
        return self._subtrees[org_id]

    def name(self, org_id: str) -> str:
        return self.orgs.get(org_id, ("", False, org_id))[2]


def build_snapshot(user: Any, data: ProfileData | None = None) -> AccessSnapshot:
    """Load one person's access from the database (``data``: loaded for several people at once)."""
    data = data or ProfileData([user.pk])
    uid = str(user.pk)
    tree = _Tree(data.orgs)
    member_of = [o for o in data.memberships.get(uid, []) if tree.active(o)]
    groups = frozenset(data.groups.get(uid, []))
    reach = Reach(frozenset({uid}), groups, frozenset(a for o in member_of for a in tree.ancestors(o)),
                  frozenset(data.projects.get(uid, [])))
    rules = [_membership_rule(tree, o) for o in member_of]
    for grant in data.grants:
        rule = _grant_rule(tree, grant) if reach.reaches(grant) else None
        if rule is not None:
            rules.append(rule)
    duties = {r.duty for r in rules if r.duty}
    if getattr(user, "is_superuser", False):
        duties.add("system_administrator")
    statements: list[PolicyStatement] = []
    for policy in data.policies:
        pid = str(policy.id)
        if uid not in data.policy_users.get(pid, set()) and not (data.policy_groups.get(pid, set()) & groups):
            continue
        bound = tree.subtree(str(policy.organization_id)) if policy.organization_id else None
        statements.extend(PolicyStatement(pid, policy.name, "user", s, bound if s.effect == "Allow" else None)
                          for s in data.statements.get(pid, []))
    named = {r.scope_id for r in rules if r.scope_type == "organization"} | {
        ref.key for ps in statements for ref in ps.statement.resources if ref.kind == "org"}
    return AccessSnapshot(uid, tuple(rules), tuple(statements), frozenset(duties),
                          {o: tree.subtree(o) for o in named}, dict(data.project_orgs))


def _membership_rule(tree: _Tree, org_id: str) -> Rule:
    role = PREDEFINED_ROLES[MEMBER_ROLE]
    return Rule("membership", None, role.key, role.name, role.permissions, role.excluded, "", "organization",
                org_id, f"organization {tree.name(org_id)}", f"member of {tree.name(org_id)}")


def _grant_rule(tree: _Tree, grant: Any) -> Rule | None:
    role = grant.role
    predefined = PREDEFINED_ROLES.get(role.key) if role.is_predefined else None
    patterns = predefined.permissions if predefined else tuple(role.permissions or ())
    excluded = predefined.excluded if predefined else tuple(role.excluded_permissions or ())
    duty = predefined.duty if predefined else role.duty
    scope_id = ""
    if grant.scope_type == "organization":
        scope_id = str(grant.scope_organization_id)
        if not tree.active(scope_id):
            return None  # a disabled organization gives nothing
        scope_label = f"organization {tree.name(scope_id)}"
    elif grant.scope_type == "project":
        scope_id = str(grant.scope_project_id)
        if not grant.scope_project.is_active:
            return None
        scope_label = f"project {grant.scope_project.name}"
    elif grant.scope_type == "platform":
        scope_label = "the whole platform"
    else:
        scope_id = grant.scope_key
        scope_label = f"{grant.get_scope_type_display().lower()} {scope_id}"
    if grant.grantee_type == "project" and grant.scope_type == "project" \
            and grant.grantee_project_id != grant.scope_project_id:
        return None
    via = {
        "user": "granted to the user",
        "group": f"granted to user group {getattr(grant.group, 'name', '')}",
        "organization": f"granted to members of {getattr(grant.grantee_organization, 'name', '')}",
        "project": f"granted to members of project {getattr(grant.grantee_project, 'name', '')}",
    }[grant.grantee_type]
    return Rule("grant", str(grant.id), role.key, role.name, patterns, excluded, duty, grant.scope_type,
                scope_id, scope_label, via)


class AccessProfile:
    """A person's decisions within one request: a shared snapshot and the predicates built from it."""

    def __init__(self, snapshot: AccessSnapshot, generation: int | None = None) -> None:
        self.user_id = snapshot.user_id
        self.generation = _current_generation if generation is None else generation
        self.rules = snapshot.rules
        self.statements = snapshot.statements
        self.duties = snapshot.duties
        self.project_orgs = snapshot.project_orgs
        self._subtrees = snapshot.subtrees
        # Built per request: they depend on the request's address and time (policy conditions).
        self._predicates: dict[tuple[str, str], Any] = {}

    def subtree(self, org_id: str) -> frozenset[str]:
        return self._subtrees.get(org_id, frozenset())

    # -- decisions -------------------------------------------------------------------------------

    def scope_contains(self, rule: Rule, target: Target) -> bool:
        """Whether the scope of ``rule`` (a grant, or a membership's implicit role) contains
        ``target``: the whole platform contains everything, an organization its subtree, a project
        and a cloud platform themselves, and a cloud service whatever is of that service (anything,
        when the target does not say its service: the action then says it, see ``Rule.covers``)."""
        if target.anywhere or target.shared or rule.scope_type == "platform":
            return True
        if rule.scope_type == "cloud_service":
            return target.service is None or target.service == rule.scope_id
        if rule.scope_type == "organization":
            return target.org_id is not None and target.org_id in self.subtree(rule.scope_id)
        if rule.scope_type == "project":
            return target.project_id is not None and target.project_id == rule.scope_id
        if rule.scope_type == "cloud_platform":
            return target.cloud_platform is not None and target.cloud_platform == rule.scope_id
        return False

    def _resource_contains(self, ref: ResourceRef, target: Target) -> bool:
        if ref.kind == "all":
            return True
        if target.anywhere:
            return False
        if ref.kind == "org":
            return target.org_id is not None and target.org_id in self.subtree(ref.key)
        if ref.kind == "project":
            return target.project_id == ref.key
        return target.label == ref.label and (ref.key == "*" or target.pk == ref.key)

    def _within_bound(self, ps: PolicyStatement, ref: ResourceRef, target: Target) -> bool:
        """Whether a resource the statement names, matching ``target``, lies in the statement's bound."""
        bound = ps.bound
        if bound is None:
            return True
        if ref.kind == "project":
            return self.project_orgs.get(ref.key) in bound
        if target.anywhere or (target.shared and (ref.kind == "all" or ref.key == "*")):
            return bool(bound)
        return target.org_id in bound

    def _conditions(self, conditions: Conditions) -> tuple[bool, str]:
        if conditions.empty:
            return True, ""
        return conditions.holds(client_ip_var.get(), timezone.now())

    def _statement_applies(self, ps: PolicyStatement, action: str, target: Target) -> tuple[bool, str]:
        st = ps.statement
        if not matches_any(st.actions, action):
            return False, "action does not match"
        if target.anywhere and st.effect == "Deny":
            # "somewhere" is denied only by a statement denying it everywhere
            if not any(r.kind == "all" for r in st.resources):
                return False, "denies only some resources"
        else:
            matching = [r for r in st.resources if self._resource_contains(r, target)]
            if not matching:
                return False, "resource does not match"
            if not any(self._within_bound(ps, r, target) for r in matching):
                return False, "outside the policy's organization"
        return self._conditions(st.conditions)

    def decide(self, action: str, target: Target, explain: bool = False) -> Decision:
        denied_by, allowed_by, not_applied = [], [], []
        for ps in self.statements:
            applies, why = self._statement_applies(ps, action, target)
            entry = _statement_entry(ps)
            if applies:
                (denied_by if ps.effect == "Deny" else allowed_by).append(entry)
            elif explain and why != "action does not match":
                not_applied.append({**entry, "why": why})
        if denied_by:
            return Decision(False, "explicit_deny", "An access policy explicitly denies it.", [], denied_by,
                            not_applied)
        if SECURITY_AUDITOR in self.duties and not is_read_action(action) and not action.startswith("menu:"):
            return Decision(False, "auditor_read_only", "A security auditor can read but never change anything.",
                            [], [], not_applied)
        for rule in self.rules:
            if rule.covers(action):
                if self.scope_contains(rule, target):
                    allowed_by.insert(0, _rule_entry(rule))
                elif explain:
                    not_applied.append({**_rule_entry(rule), "why": "the target is outside the scope"})
        if allowed_by:
            return Decision(True, "allowed", "Allowed.", allowed_by, [], not_applied)
        return Decision(False, "implicit_deny", "No grant or policy allows it.", [], [], not_applied)

    # -- querysets ---------------------------------------------------------------------------------

    def predicate(self, model: type[Model], action: str) -> Q | str | None:
        """``ALL`` (no filter), ``None`` (nothing) or a ``Q`` of plain ``IN`` lists."""
        key = (model._meta.label_lower, action)
        if key not in self._predicates:
            self._predicates[key] = self._build_predicate(model, action)
        return self._predicates[key]

    def _build_predicate(self, model: type[Model], action: str) -> Q | str | None:
        if SECURITY_AUDITOR in self.duties and not is_read_action(action):
            return None
        label = model._meta.label_lower
        everywhere = False
        orgs: set[str] = set()
        projects: set[str] = set()
        platforms: set[str] = set()
        pks: set[str] = set()
        bounded_pks: dict[frozenset[str], set[str]] = {}
        for rule in self.rules:
            if not rule.covers(action):
                continue
            if rule.scope_type in ("platform", "cloud_service"):
                everywhere = True
            elif rule.scope_type == "organization":
                orgs |= self.subtree(rule.scope_id)
            elif rule.scope_type == "project":
                projects.add(rule.scope_id)
            elif rule.scope_type == "cloud_platform":
                platforms.add(rule.scope_id)
        deny_orgs: set[str] = set()
        deny_projects: set[str] = set()
        deny_pks: set[str] = set()
        for ps in self.statements:
            if not matches_any(ps.statement.actions, action) or not self._conditions(ps.statement.conditions)[0]:
                continue
            for ref in ps.statement.resources:
                if ref.kind == "object" and ref.label != label:
                    continue
                if ps.effect == "Deny":
                    if ref.kind == "all" or (ref.kind == "object" and ref.key == "*"):
                        return None
                    {"org": deny_orgs, "project": deny_projects, "object": deny_pks}[ref.kind].update(
                        self.subtree(ref.key) if ref.kind == "org" else {ref.key})
                elif ref.kind == "all" or (ref.kind == "object" and ref.key == "*"):
                    if ps.bound is None:
                        everywhere = True
                    else:
                        orgs |= ps.bound
                elif ref.kind == "org":
                    orgs |= self.subtree(ref.key) if ps.bound is None else self.subtree(ref.key) & ps.bound
                elif ref.kind == "project":
                    if ps.bound is None or self.project_orgs.get(ref.key) in ps.bound:
                        projects.add(ref.key)
                elif ps.bound is None:
                    pks.add(ref.key)
                else:
                    bounded_pks.setdefault(ps.bound, set()).add(ref.key)
        tenant = getattr(model, "tenant_field", "organization")
        scope_fields = getattr(model, "scope_fields", {})
        org_lookup = "pk" if tenant in ("id", "pk") else f"{tenant}_id"

        def in_orgs(org_ids: set[str]) -> Q:
            if hasattr(model, "organization_scope_q"):
                return model.organization_scope_q(sorted(org_ids))
            return Q(**{f"{org_lookup}__in": sorted(org_ids)})

        def in_scope(kind: str, ids: set[str]) -> Q:
            field = scope_fields[kind]  # "id": the row is the project or cloud platform itself
            return Q(**{f"{'pk' if field == 'id' else field + '_id'}__in": sorted(ids)})

        allow: Q | None = None
        if everywhere:
            allow = Q()
        else:
            parts = []
            if orgs:
                parts.append(in_orgs(orgs))
                if getattr(model, "unowned_rows", "") == "shared":
                    parts.append(Q(**{f"{tenant}__isnull": True}))
            if projects and "project" in scope_fields:
                parts.append(in_scope("project", projects))
            if platforms and "cloud_platform" in scope_fields:
                parts.append(in_scope("cloud_platform", platforms))
            if pks:
                parts.append(Q(pk__in=sorted(pks)))
            for bound, keys in bounded_pks.items():
                parts.append(Q(pk__in=sorted(keys)) & in_orgs(set(bound)))
            for part in parts:
                allow = part if allow is None else allow | part
        if allow is None:
            return None
        deny = Q()
        if deny_orgs:
            deny |= in_orgs(deny_orgs)
        if deny_projects and "project" in scope_fields:
            deny |= in_scope("project", deny_projects)
        if deny_pks:
            deny |= Q(pk__in=sorted(deny_pks))
        if not allow and not deny:
            return ALL
        return allow & ~deny if deny else allow


def _rule_entry(rule: Rule) -> dict[str, Any]:
    entry = {"kind": rule.source, "grant": rule.grant_id, "role": rule.role_key, "role_name": rule.role_name,
             "scope": rule.scope_label, "via": rule.via}
    if rule.source == "membership":
        entry["organization"] = rule.scope_id
    return entry


def _statement_entry(ps: PolicyStatement) -> dict[str, Any]:
    st = ps.statement
    return {"kind": "policy", "policy": ps.policy_id, "policy_name": ps.policy_name, "statement": st.index,
            "effect": st.effect, "actions": list(st.actions), "resources": [str(r) for r in st.resources]}


def profile_for(user: Any) -> AccessProfile:
    """``user``'s profile: kept on the user object for the request, else the shared snapshot."""
    cached = getattr(user, "_rbac_profile", None)
    if cached is not None and cached.generation == _current_generation and cached.user_id == str(user.pk):
        return cached
    generation = _current_generation  # taken before loading: a change during the load makes it stale
    profile = AccessProfile(_snapshot_for(user), generation)
    try:
        user._rbac_profile = profile
    except AttributeError:
        pass
    return profile


def _snapshot_for(user: Any) -> AccessSnapshot:
    """The shared snapshot if both its version tokens are current, else a fresh one (then shared).

    Only outside a transaction: inside one, the rows read may be uncommitted and later rolled back,
    and the transaction's own changes are not yet published, so the cache is neither read nor fed."""
    if not transaction.get_autocommit():
        return build_snapshot(user)
    uid = str(user.pk)
    version_keys, key = (_EVERYONE, _person_key(uid)), _snapshot_key(uid)
    try:
        found = cache.get_many([*version_keys, key])
        versions = tuple(found.get(k) for k in version_keys)
        entry = found.get(key)
        if entry is not None and None not in versions and entry[0] == versions:
            return entry[1]
        # Read before the rows: a change committed while they load replaces a version, so this
        # snapshot is never served.
        versions = tuple(v or _version(k) for k, v in zip(version_keys, versions, strict=True))
    except Exception:  # noqa: BLE001 - without the cache, decisions still come from the database
        logger.warning("the access snapshot cache is unavailable; loading from the database", exc_info=True)
        return build_snapshot(user)
    snapshot = build_snapshot(user)
    try:
        cache.set(key, (versions, snapshot), SNAPSHOT_TIMEOUT)
    except Exception:  # noqa: BLE001 - the next request loads it again
        logger.warning("could not cache the access snapshot of %s", uid, exc_info=True)
    return snapshot


def target_of(obj: Any, action: str) -> list[Target]:
    """The targets an object stands for (a person stands for each organization they belong to)."""
    if obj is None:
        return [Target(anywhere=action.startswith("menu:"))]
    model = type(obj)
    label = model._meta.label_lower
    pk = str(obj.pk)
    if label == "organizations.organization":
        return [Target(org_id=pk, label=label, pk=pk)]
    if label == "organizations.user" or hasattr(model, "organization_scope_q"):
        from apps.organizations.models import Membership

        org_ids = [str(o) for o in Membership.objects.filter(user_id=obj.pk).values_list("organization_id",
                                                                                       flat=True)]
        return [Target(org_id=o, label=label, pk=pk) for o in org_ids] or [Target(label=label, pk=pk)]
    tenant = getattr(model, "tenant_field", "organization")
    scope_fields = getattr(model, "scope_fields", {})
    org_id = getattr(obj, f"{tenant}_id", None)
    project = scope_fields.get("project")
    project_id = pk if project == "id" else (getattr(obj, f"{project}_id", None) if project else None)
    platform = scope_fields.get("cloud_platform")
    platform_id = pk if platform == "id" else (getattr(obj, f"{platform}_id", None) if platform else None)
    shared = org_id is None and getattr(model, "unowned_rows", "") == "shared"
    return [Target(org_id=str(org_id) if org_id else None, shared=shared,
                   project_id=str(project_id) if project_id else None,
                   cloud_platform=str(platform_id) if platform_id else None, label=label, pk=pk)]



def roles_held(user: Any, obj: Any, *, service: str | None = None) -> set[str]:
    """The keys of the roles ``user`` holds on a scope containing ``obj`` (of the cloud service
    ``service``, when given): through any grant that reaches them (``Reach``) or as the implicit
    member role of their organizations. The same role held on another organization, project or
    cloud service does not count."""
    profile = profile_for(user)
    targets = [replace(t, service=service) for t in target_of(obj, "")]
    return {rule.role_key for rule in profile.rules if any(profile.scope_contains(rule, t) for t in targets)}
