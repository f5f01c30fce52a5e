"""The permission catalog: every ``service:resource:action`` code (and ``menu:...`` code) that
roles, grants and policies may name. Apps register theirs from ``AppConfig.ready``::

    register_permissions("billing", [("billing:bill:read", "Read bills"), ...])

Codes are lower-case ``[a-z0-9_]`` segments separated by colons. Role and policy documents may use
``*`` as a wildcard (``ecs:*``, ``*:*:read``); ``matches`` is the one matcher for both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

CODE_RE = re.compile(r"^[a-z][a-z0-9_]*(:[a-z][a-z0-9_]*){2,3}$")
PATTERN_RE = re.compile(r"^[a-z0-9_*:]+$")
# Verbs that only read: a security auditor holds nothing else.
READ_VERBS = frozenset({"read", "list", "export", "view"})


@dataclass(frozen=True)
class PermissionDef:
    code: str
    description: str
    app_label: str

    @property
    def service(self) -> str:
        return self.code.split(":", 1)[0]

    @property
    def is_menu(self) -> bool:
        return self.code.startswith("menu:")


_catalog: dict[str, PermissionDef] = {}


def register_permissions(app_label: str, permissions: list[tuple[str, str]] | list[str]) -> None:
    """Add codes to the catalog. Registering the same code twice is harmless."""
    for item in permissions:
        code, description = (item, "") if isinstance(item, str) else item
        if not CODE_RE.match(code):
            raise ValueError(f"invalid permission code {code!r}: expected service:resource:action")
        _catalog[code] = PermissionDef(code, description, app_label)
    matching_codes.cache_clear()


def permission_catalog() -> list[PermissionDef]:
    return sorted(_catalog.values(), key=lambda p: p.code)


def is_registered(code: str) -> bool:
    return code in _catalog


def is_read_action(action: str) -> bool:
    return action.rsplit(":", 1)[-1] in READ_VERBS


@lru_cache(maxsize=4096)
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$")


def matches(pattern: str, action: str) -> bool:
    """``*`` matches any run of characters, colons included (``ecs:*`` covers ``ecs:instance:create``)."""
    if pattern == "*" or pattern == action:
        return True
    if "*" not in pattern:
        return False
    return _pattern(pattern).match(action) is not None


def matches_any(patterns: tuple[str, ...] | list[str], action: str) -> bool:
    return any(matches(p, action) for p in patterns)


@lru_cache(maxsize=1024)
def matching_codes(patterns: tuple[str, ...], excluded: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The catalog codes a role's patterns cover (for the access matrix and role pages)."""
    return tuple(c for c in sorted(_catalog) if matches_any(patterns, c) and not matches_any(excluded, c))


def validate_patterns(patterns: object, field: str = "permissions") -> list[dict[str, str]]:
    """Errors of a list of permission patterns, each with its path (``permissions[2]``)."""
    errors: list[dict[str, str]] = []
    if not isinstance(patterns, list):
        return [{"path": field, "message": "must be a list of permission codes"}]
    for i, p in enumerate(patterns):
        path = f"{field}[{i}]"
        if not isinstance(p, str) or not p:
            errors.append({"path": path, "message": "must be a non-empty string"})
        elif not PATTERN_RE.match(p):
            errors.append({"path": path, "message": f"{p!r} is not a permission code or pattern"})
        elif "*" not in p and p not in _catalog:
            errors.append({"path": path, "message": f"{p!r} is not in the permission catalog"})
    return errors
