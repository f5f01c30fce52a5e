"""Label matchers (``name``, ``op``, ``value``), as silences and routes use them, and label fingerprints."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from apps.core.errors import InvalidInput

LABEL_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
OPS = ("=", "!=", "=~", "!~")
MAX_MATCHERS = 20


def fingerprint(labels: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(labels, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:32]


def validate_matchers(value: Any, *, field: str = "matchers", required: bool = False) -> list[dict[str, str]]:
    """The matchers in canonical form, or a 400 naming the field (``matchers[1].value``)."""
    if value is None:
        value = []
    if not isinstance(value, list) or len(value) > MAX_MATCHERS:
        raise InvalidInput(f"{field} must be a list of at most {MAX_MATCHERS} matchers.",
                           detail={field: [f"A list of at most {MAX_MATCHERS} matchers."]})
    if required and not value:
        raise InvalidInput(f"{field} needs at least one matcher.", detail={field: ["At least one matcher."]})
    out = []
    for i, m in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(m, dict):
            raise InvalidInput(f"{where} must be an object.", detail={where: ["An object with name, op and value."]})
        name, op, val = m.get("name"), m.get("op", "="), m.get("value")
        if not isinstance(name, str) or not LABEL_RE.match(name):
            raise InvalidInput(f"{where}.name is not a label name.", detail={f"{where}.name": ["Not a label name."]})
        if op not in OPS:
            raise InvalidInput(f"{where}.op is not an operator.", detail={f"{where}.op": [f"One of {', '.join(OPS)}."]})
        if not isinstance(val, str) or len(val) > 256:
            raise InvalidInput(f"{where}.value must be text.", detail={f"{where}.value": ["Text, at most 256."]})
        if op in ("=~", "!~"):
            try:
                re.compile(val)
            except re.error as exc:
                raise InvalidInput(f"{where}.value is not a valid regular expression: {exc}.",
                                   detail={f"{where}.value": [f"Not a valid regular expression: {exc}."]}) from None
        out.append({"name": name, "op": op, "value": val})
    return out


def matches(matchers: list[dict[str, str]], labels: dict[str, Any]) -> bool:
    """True when every matcher holds for ``labels`` (a missing label is the empty string)."""
    for m in matchers:
        actual = str(labels.get(m["name"], ""))
        op, value = m["op"], m["value"]
        if op == "=":
            ok = actual == value
        elif op == "!=":
            ok = actual != value
        else:
            found = re.fullmatch(value, actual) is not None
            ok = found if op == "=~" else not found
        if not ok:
            return False
    return True
