"""Predefined roles, the permission codes of core, organizations, rbac and audit, and which
separated duty a set of permissions carries.

The three separated duties of the platform (system administrator, security administrator, security
auditor) are predefined roles carrying a ``duty``; nobody may hold two of them. Predefined roles are
defined here (the source of truth for their permissions) and mirrored into the ``Role`` table so
grants can point at them.

A duty follows from permissions, not from a role's name: the codes only one duty's predefined role
gives are reserved to that duty, and any custom role or Allow statement of an access policy that
covers one of them carries the duty (``duties_of``). So a custom role with ``security:*`` is a
security administrator's role, and one covering two duties' codes cannot exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from apps.rbac.catalog import matches_any, matching_codes

SYSTEM_ADMINISTRATOR = "system_administrator"
SECURITY_ADMINISTRATOR = "security_administrator"
SECURITY_AUDITOR = "security_auditor"
DUTIES = (SYSTEM_ADMINISTRATOR, SECURITY_ADMINISTRATOR, SECURITY_AUDITOR)
DUTY_LABELS = {
    SYSTEM_ADMINISTRATOR: "System administrator",
    SECURITY_ADMINISTRATOR: "Security administrator",
    SECURITY_AUDITOR: "Security auditor",
}

# Membership of an organization gives this role on the organization and its descendants.
MEMBER_ROLE = "organization_member"

CORE_PERMISSIONS = [
    ("core:operation:read", "See long-running operations and follow them live"),
    ("core:operation:write", "Start and cancel operations"),
    ("menu:console:overview", "Console menu: overview"),
]
ORGANIZATIONS_PERMISSIONS = [
    ("organizations:organization:read", "See organizations"),
    ("organizations:organization:write", "Create, edit, move, disable and delete organizations"),
    ("organizations:user:read", "See users and memberships"),
    ("organizations:user:write", "Create, edit, disable and delete users; manage memberships"),
    ("organizations:group:read", "See user groups"),
    ("organizations:group:write", "Manage user groups and their members"),
    ("organizations:project:read", "See projects"),
    ("organizations:project:write", "Manage projects, their members and user groups"),
    ("menu:console:organizations", "Console menu: organizations, users, groups, projects"),
]
RBAC_PERMISSIONS = [
    ("rbac:permission:read", "See the permission catalog"),
    ("rbac:role:read", "See roles"),
    ("rbac:role:write", "Create, edit and delete custom roles"),
    ("rbac:grant:read", "See grants"),
    ("rbac:grant:write", "Grant and revoke roles"),
    ("rbac:policy:read", "See access policies"),
    ("rbac:policy:write", "Create, edit, attach and delete access policies"),
    ("rbac:access:explain", "Explain access decisions and export access matrices"),
    ("menu:console:access", "Console menu: roles, grants, policies, access explain and matrix"),
]
# The audit log arrives with the security app; its codes exist now so roles can name them.
AUDIT_PERMISSIONS = [
    ("audit:log:read", "Read the audit log"),
    ("audit:log:export", "Export the audit log"),
    ("audit:signin:read", "Read sign-in records"),
    ("menu:console:audit", "Console menu: audit log"),
]


@dataclass(frozen=True)
class RoleDef:
    key: str
    name: str
    description: str
    permissions: tuple[str, ...]
    excluded: tuple[str, ...] = field(default=())
    duty: str = ""


_SECURITY_CODES = ("rbac:*:write", "audit:*", "security:*", "menu:console:audit")

PREDEFINED_ROLES: dict[str, RoleDef] = {r.key: r for r in (
    RoleDef(
        SYSTEM_ADMINISTRATOR, "System administrator",
        "Runs the platform: organizations, clouds, resources, operations. Cannot change permissions "
        "or read the audit log (separated duties).",
        ("*",), _SECURITY_CODES, duty=SYSTEM_ADMINISTRATOR,
    ),
    RoleDef(
        SECURITY_ADMINISTRATOR, "Security administrator",
        "Manages users, roles, grants, access policies and security settings. Cannot operate "
        "resources or read the audit log (separated duties).",
        ("rbac:*", "security:*", "organizations:user:*", "organizations:group:*", "organizations:*:read",
         "core:operation:read", "menu:console:overview", "menu:console:organizations", "menu:console:access"),
        ("audit:*",), duty=SECURITY_ADMINISTRATOR,
    ),
    RoleDef(
        SECURITY_AUDITOR, "Security auditor",
        "Reads and exports the audit log and reads permissions; changes nothing.",
        ("audit:*:read", "audit:*:export", "rbac:*:read", "rbac:access:explain", "organizations:*:read",
         "menu:console:overview", "menu:console:audit", "menu:console:access", "menu:console:organizations"),
        duty=SECURITY_AUDITOR,
    ),
    RoleDef(
        "organization_administrator", "Organization administrator",
        "Manages an organization subtree: sub-organizations, users, groups, projects, grants in it, and "
        "its dashboards and wall screens.",
        ("organizations:*", "rbac:grant:*", "rbac:role:read", "rbac:permission:read", "rbac:policy:read",
         "rbac:access:explain", "core:operation:*", "dashboards:*", "menu:console:*"),
        ("menu:console:audit",),
    ),
    RoleDef(
        "operator", "Operator",
        "Operates cloud resources, runs scripts on instances and keeps the script library, and follows "
        "operations; reads everything else in scope.",
        ("*:*:read", "*:*:operate", "*:*:command", "provisioning:script:*", "core:operation:*", "menu:*"),
        ("audit:*", "rbac:*", "menu:console:audit", "menu:console:access"),
    ),
    RoleDef(
        "viewer", "Viewer",
        "Reads everything in scope: resource usage and monitoring.",
        ("*:*:read", "menu:*"),
        ("audit:*", "rbac:grant:read", "rbac:policy:read", "menu:console:audit", "menu:console:access"),
    ),
    RoleDef(
        "billing_administrator", "Billing administrator",
        "Manages price books, bills and budgets; reads usage.",
        ("billing:*", "quotas:*:read", "*:*:read", "menu:*"),
        ("audit:*", "rbac:*", "menu:console:audit", "menu:console:access"),
    ),
    RoleDef(
        MEMBER_ROLE, "Organization member",
        "What membership of an organization gives, in it and its descendants: see its people, groups "
        "and projects and start and follow operations.",
        ("core:operation:*", "organizations:*:read", "menu:portal:*", "menu:console:overview"),
    ),
)}


# -- which duty permissions carry ------------------------------------------------------------------

def _catalog_size() -> int:
    return len(matching_codes(("*",)))


@lru_cache(maxsize=4)
def _reserved(catalog_size: int) -> dict[str, frozenset[str]]:
    del catalog_size  # the cache key: recomputed when apps register more codes
    held = {key: set(matching_codes(r.permissions, r.excluded)) for key, r in PREDEFINED_ROLES.items()}
    duty_roles = {r.duty: r.key for r in PREDEFINED_ROLES.values() if r.duty}
    return {duty: frozenset(held[key] - set().union(*(c for k, c in held.items() if k != key)))
            for duty, key in duty_roles.items()}


def reserved_codes() -> dict[str, frozenset[str]]:
    """Per separated duty, the catalog codes that duty's predefined role alone gives."""
    return _reserved(_catalog_size())


@lru_cache(maxsize=4096)
def _duties_of(patterns: tuple[str, ...], excluded: tuple[str, ...], catalog_size: int) -> frozenset[str]:
    reserved = _reserved(catalog_size)
    return frozenset(duty for duty, codes in reserved.items()
                     if any(matches_any(patterns, c) and not matches_any(excluded, c) for c in codes))


def duties_of(patterns: Iterable[str], excluded: Iterable[str] = ()) -> frozenset[str]:
    """The separated duties permissions carry: each duty one of whose reserved codes they cover.
    The one derivation for predefined and custom roles and for the Allow statements of access
    policies; more than one means the permissions cannot be held by anyone."""
    return _duties_of(tuple(patterns), tuple(excluded), _catalog_size())
