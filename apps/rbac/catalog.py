"""The permission catalog: every ``service:resource:action`` code (and ``menu:...`` code) that
roles, grants and policies may name. Apps register theirs from ``AppConfig.ready``::

    register_permissions("billing", [("billing:bill:read", "Read bills"), ...])

Codes are lower-case ``[a-z0-9_]`` segments separated by colons. Role and policy documents may use
``*`` as a wildcard (``ecs:*``, ``*:*:read``); ``matches`` is the one matcher for both and
``pattern_error`` the one rule for what a well-formed pattern is.

Patterns come from users (custom roles, access policies) and are matched on every decision, so the
matcher never backtracks: its work grows linearly with the lengths of the pattern and the action
(``match_steps`` counts it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

CODE_RE = re.compile(r"^[a-z][a-z0-9_]*(:[a-z][a-z0-9_]*){2,3}$")
PATTERN_RE = re.compile(r"^[a-z0-9_*:]+$")
# Well-formed patterns: codes are at most 4 segments and short; a longer pattern can only be abuse.
MAX_PATTERN_LENGTH = 128
MAX_PATTERN_SEGMENTS = 4
# Entries of one permission list (a role's permissions, a policy statement's actions).
MAX_PATTERNS = 500
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


@dataclass(frozen=True)
class _Glob:
    """A pattern with at least one ``*``: ``head*middle*...*middle*tail``; each non-empty middle
    with its KMP failure table, so finding it never re-reads the action."""

    head: str
    tail: str
    middles: tuple[tuple[str, tuple[int, ...]], ...]
    steps: int  # comparisons spent building the failure tables (at most 2 per pattern character)


def _failure_table(part: str) -> tuple[tuple[int, ...], int]:
    table = [0] * len(part)
    k = steps = 0
    for i in range(1, len(part)):
        while k and part[i] != part[k]:
            k = table[k - 1]
            steps += 1
        steps += 1
        if part[i] == part[k]:
            k += 1
        table[i] = k
    return tuple(table), steps


@lru_cache(maxsize=4096)
def _compile(pattern: str) -> _Glob:
    parts = pattern.split("*")
    middles, steps = [], 0
    for part in parts[1:-1]:
        if part:  # "**" is "*"
            table, cost = _failure_table(part)
            middles.append((part, table))
            steps += cost
    return _Glob(parts[0], parts[-1], tuple(middles), steps)


def _find_end(action: str, start: int, stop: int, part: str, table: tuple[int, ...]) -> tuple[int, int]:
    """The end of the leftmost ``part`` in ``action[start:stop]`` (-1 if none) and the comparisons
    made: at most two per action character read (Knuth-Morris-Pratt)."""
    if len(part) == 1:  # one character: a plain scan
        found = action.find(part, start, stop)
        return (found + 1, found - start + 1) if found >= 0 else (-1, stop - start)
    k = steps = 0
    last = len(part) - 1
    for i in range(start, stop):
        char = action[i]
        while k and part[k] != char:
            k = table[k - 1]
            steps += 1
        steps += 1
        if part[k] == char:
            if k == last:
                return i + 1, steps
            k += 1
    return -1, steps


def match_steps(pattern: str, action: str) -> tuple[bool, int]:
    """``matches`` and the character comparisons it cost (pattern preparation included), which
    stays within ``3 * (len(pattern) + len(action)) + 1``.

    ``*`` is glob-like over the whole code: ``head*m1*...*mk*tail`` matches when ``action`` starts
    with ``head``, ends with ``tail`` (the two not overlapping) and holds ``m1`` ... ``mk`` in that
    order in between. Taking the leftmost occurrence of each middle is always right, because
    whatever follows a middle can only gain room from it ending earlier; so nothing is retried.
    """
    if pattern == "*" or pattern == action:
        return True, 1
    if "*" not in pattern:
        return False, 1
    glob = _compile(pattern)
    head, tail = glob.head, glob.tail
    steps = glob.steps + 1
    stop = len(action) - len(tail)
    if stop < len(head):
        return False, steps
    steps += len(head) + len(tail)
    if not (action.startswith(head) and action.endswith(tail)):
        return False, steps
    position = len(head)
    for part, table in glob.middles:
        position, cost = _find_end(action, position, stop, part, table)
        steps += cost
        if position < 0:
            return False, steps
    return True, steps


def matches(pattern: str, action: str) -> bool:
    """``*`` matches any run of characters, colons included (``ecs:*`` covers ``ecs:instance:create``)."""
    return match_steps(pattern, action)[0]


def matches_any(patterns: tuple[str, ...] | list[str], action: str) -> bool:
    return any(matches(p, action) for p in patterns)


@lru_cache(maxsize=1024)
def matching_codes(patterns: tuple[str, ...], excluded: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The catalog codes a role's patterns cover (for the access matrix and role pages)."""
    return tuple(c for c in sorted(_catalog) if matches_any(patterns, c) and not matches_any(excluded, c))


def pattern_error(pattern: object) -> str | None:
    """Why ``pattern`` is not a well-formed permission code or pattern (None when it is): a
    non-empty string of at most ``MAX_PATTERN_LENGTH`` characters from ``a-z 0-9 _ : *``, made of
    1 to ``MAX_PATTERN_SEGMENTS`` non-empty colon-separated segments (no code has more or an empty
    one, so such a pattern could never match)."""
    if not isinstance(pattern, str) or not pattern:
        return "must be a non-empty string"
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"is longer than {MAX_PATTERN_LENGTH} characters"
    if not PATTERN_RE.fullmatch(pattern):  # fullmatch: "$" alone would let a trailing newline in
        return f"{pattern!r} is not a permission code or pattern"
    segments = pattern.split(":")
    if len(segments) > MAX_PATTERN_SEGMENTS:
        return f"{pattern!r} has more than {MAX_PATTERN_SEGMENTS} colon-separated segments"
    if not all(segments):
        return f"{pattern!r} has an empty segment"
    return None


def validate_patterns(patterns: object, field: str = "permissions") -> list[dict[str, str]]:
    """Errors of a list of permission patterns, each with its path (``permissions[2]``)."""
    errors: list[dict[str, str]] = []
    if not isinstance(patterns, list):
        return [{"path": field, "message": "must be a list of permission codes"}]
    if len(patterns) > MAX_PATTERNS:
        return [{"path": field, "message": f"at most {MAX_PATTERNS} entries"}]
    for i, p in enumerate(patterns):
        path = f"{field}[{i}]"
        error = pattern_error(p)
        if error:
            errors.append({"path": path, "message": error})
        elif "*" not in p and p not in _catalog:
            errors.append({"path": path, "message": f"{p!r} is not in the permission catalog"})
    return errors
