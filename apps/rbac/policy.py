"""Access policy documents (RAM-like) and their validation.

    {"Version": "1",
     "Statement": [
       {"Effect": "Deny",
        "Action": ["ecs:instance:delete", "ecs:*:stop"],
        "Resource": ["org/<organization id>"],
        "Condition": {"NotIpAddress": {"acs:SourceIp": ["10.0.0.0/8"]},
                      "DateLessThan": {"acs:CurrentTime": "2030-01-01T00:00:00Z"}}}]}

``Action`` entries are permission codes with ``*`` wildcards, well-formed as ``pattern_error`` says.
``Resource`` entries are ``*``, ``org/<id>`` (the organization and its descendants; ``org/<id>/*``
means the same), ``project/<id>`` or ``<app_label>.<model>/<id or *>`` (one kind of object). Conditions: ``IpAddress`` /
``NotIpAddress`` on ``acs:SourceIp`` (addresses or CIDR blocks) and ``DateGreaterThan`` /
``DateLessThan`` on ``acs:CurrentTime`` (ISO 8601). Every condition of a statement must hold for the
statement to apply. Validation reports each error with its exact path (``Statement[0].Effect``).
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from apps.rbac.catalog import MAX_PATTERNS, pattern_error

EFFECTS = ("Allow", "Deny")
IP_OPERATORS = ("IpAddress", "NotIpAddress")
DATE_OPERATORS = ("DateGreaterThan", "DateLessThan")
MODEL_RESOURCE_RE = re.compile(r"^(?P<label>[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*)/(?P<id>[A-Za-z0-9_\-]+|\*)$")
MAX_STATEMENTS = 100


@dataclass(frozen=True)
class ResourceRef:
    kind: str  # "all", "org", "project", "object"
    key: str = ""  # organization or project id, or object id ("*" for any)
    label: str = ""  # app_label.model for "object"

    def __str__(self) -> str:
        if self.kind == "all":
            return "*"
        if self.kind == "object":
            return f"{self.label}/{self.key}"
        return f"{self.kind}/{self.key}"


@dataclass(frozen=True)
class Conditions:
    ip_in: tuple[Any, ...] = ()
    ip_not_in: tuple[Any, ...] = ()
    after: datetime | None = None
    before: datetime | None = None

    def holds(self, source_ip: str | None, now: datetime) -> tuple[bool, str]:
        if self.ip_in or self.ip_not_in:
            try:
                ip = ipaddress.ip_address(source_ip or "")
            except ValueError:
                return False, "the source address is unknown"
            if self.ip_in and not any(ip in net for net in self.ip_in):
                return False, f"source address {ip} is not in IpAddress"
            if self.ip_not_in and any(ip in net for net in self.ip_not_in):
                return False, f"source address {ip} is in NotIpAddress"
        if self.after and not now > self.after:
            return False, f"it is not after {self.after.isoformat()}"
        if self.before and not now < self.before:
            return False, f"it is not before {self.before.isoformat()}"
        return True, ""

    @property
    def empty(self) -> bool:
        return not (self.ip_in or self.ip_not_in or self.after or self.before)


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    resources: tuple[ResourceRef, ...]
    conditions: Conditions
    index: int


class PolicyError(Exception):
    def __init__(self, errors: list[dict[str, str]]):
        self.errors = errors
        super().__init__("; ".join(f"{e['path']}: {e['message']}" for e in errors))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _parse_resource(value: Any, path: str, errors: list[dict[str, str]]) -> ResourceRef | None:
    if not isinstance(value, str) or not value:
        errors.append({"path": path, "message": "must be a non-empty string"})
        return None
    if value == "*":
        return ResourceRef("all")
    for prefix in ("org/", "project/"):
        if value.startswith(prefix):
            rest = value[len(prefix):]
            if prefix == "org/" and rest.endswith("/*"):
                rest = rest[:-2]
            try:
                return ResourceRef(prefix[:-1], str(uuid.UUID(rest)))
            except ValueError:
                errors.append({"path": path, "message": f"{value!r}: expected {prefix}<uuid>"})
                return None
    match = MODEL_RESOURCE_RE.match(value)
    if match:
        return ResourceRef("object", match["id"], match["label"])
    errors.append({"path": path, "message": f"{value!r} is not '*', 'org/<id>', 'project/<id>' or "
                                           "'<app_label>.<model>/<id>'"})
    return None


def _parse_time(value: Any, path: str, errors: list[dict[str, str]]) -> datetime | None:
    if not isinstance(value, str):
        errors.append({"path": path, "message": "must be an ISO 8601 date-time string"})
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        errors.append({"path": path, "message": f"{value!r} is not an ISO 8601 date-time"})
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse_conditions(value: Any, path: str, errors: list[dict[str, str]]) -> Conditions:
    if value is None:
        return Conditions()
    if not isinstance(value, dict):
        errors.append({"path": path, "message": "must be an object"})
        return Conditions()
    ips: dict[str, tuple[Any, ...]] = {}
    dates: dict[str, datetime | None] = {}
    for operator, body in value.items():
        op_path = f"{path}.{operator}"
        if operator not in IP_OPERATORS + DATE_OPERATORS:
            errors.append({"path": op_path, "message": f"unknown operator; use one of "
                                                       f"{', '.join(IP_OPERATORS + DATE_OPERATORS)}"})
            continue
        key = "acs:SourceIp" if operator in IP_OPERATORS else "acs:CurrentTime"
        if not isinstance(body, dict) or set(body) != {key}:
            errors.append({"path": op_path, "message": f"must be an object with the single key {key!r}"})
            continue
        if operator in IP_OPERATORS:
            nets = []
            for i, item in enumerate(_as_list(body[key])):
                try:
                    nets.append(ipaddress.ip_network(item, strict=False))
                except (ValueError, TypeError):
                    errors.append({"path": f"{op_path}.{key}[{i}]", "message": f"{item!r} is not an IP address "
                                                                               "or CIDR block"})
            if not nets:
                errors.append({"path": f"{op_path}.{key}", "message": "needs at least one address"})
            ips[operator] = tuple(nets)
        else:
            dates[operator] = _parse_time(body[key], f"{op_path}.{key}", errors)
    return Conditions(ip_in=ips.get("IpAddress", ()), ip_not_in=ips.get("NotIpAddress", ()),
                      after=dates.get("DateGreaterThan"), before=dates.get("DateLessThan"))


def parse_document(document: Any) -> list[Statement]:
    """The statements of a valid document, or ``PolicyError`` listing every error with its path."""
    errors: list[dict[str, str]] = []
    if not isinstance(document, dict):
        raise PolicyError([{"path": "$", "message": "the policy document must be a JSON object"}])
    unknown = set(document) - {"Version", "Statement"}
    for key in sorted(unknown):
        errors.append({"path": key, "message": "unknown key; a document has Version and Statement"})
    if "Version" in document and document["Version"] != "1":
        errors.append({"path": "Version", "message": "must be \"1\""})
    raw = document.get("Statement")
    if not isinstance(raw, list) or not raw:
        errors.append({"path": "Statement", "message": "must be a non-empty list of statements"})
        raise PolicyError(errors)
    if len(raw) > MAX_STATEMENTS:
        errors.append({"path": "Statement", "message": f"at most {MAX_STATEMENTS} statements"})
    statements = []
    for i, item in enumerate(raw):
        path = f"Statement[{i}]"
        if not isinstance(item, dict):
            errors.append({"path": path, "message": "must be an object"})
            continue
        for key in sorted(set(item) - {"Effect", "Action", "Resource", "Condition"}):
            errors.append({"path": f"{path}.{key}", "message": "unknown key"})
        effect = item.get("Effect")
        if effect not in EFFECTS:
            errors.append({"path": f"{path}.Effect", "message": 'must be "Allow" or "Deny"'})
        actions = []
        if "Action" not in item:
            errors.append({"path": f"{path}.Action", "message": "is required"})
        else:
            raw_actions = _as_list(item["Action"])
            if not raw_actions:
                errors.append({"path": f"{path}.Action", "message": "needs at least one action"})
            elif len(raw_actions) > MAX_PATTERNS:
                errors.append({"path": f"{path}.Action", "message": f"at most {MAX_PATTERNS} actions"})
                raw_actions = []
            for j, action in enumerate(raw_actions):
                error = pattern_error(action)
                if error:
                    errors.append({"path": f"{path}.Action[{j}]", "message": error})
                else:
                    actions.append(action)
        resources = []
        if "Resource" not in item:
            errors.append({"path": f"{path}.Resource", "message": "is required"})
        else:
            raw_resources = _as_list(item["Resource"])
            if not raw_resources:
                errors.append({"path": f"{path}.Resource", "message": "needs at least one resource"})
            for j, value in enumerate(raw_resources):
                ref = _parse_resource(value, f"{path}.Resource[{j}]", errors)
                if ref:
                    resources.append(ref)
        conditions = _parse_conditions(item.get("Condition"), f"{path}.Condition", errors)
        statements.append(Statement(str(effect), tuple(actions), tuple(resources), conditions, i))
    if errors:
        raise PolicyError(errors)
    return statements
