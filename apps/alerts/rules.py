"""Alert rules: what a valid rule is, and the evaluation of threshold rules at a given time.

Evaluation takes ``now`` from its caller (the periodic task passes the wall clock, tests a fake
one), reads the samples of the rule's window for every resource in its scope, and moves each
series' alert through its states:

- a value that breaches: ok/resolved/insufficient data -> pending (or firing at once when ``for``
  is 0); pending -> firing once it has breached for ``for`` seconds;
- a value that does not: pending -> ok, firing -> resolved, insufficient data -> ok;
- no sample in the window: -> insufficient data (a firing alert stops firing).

A series that never breached and has data has no row (10,000 quiet series cost no writes).
Every change is written to the alert's history with its reason, in one transaction per rule.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Avg, Max, Min, Q, QuerySet

from apps.alerts.matchers import LABEL_RE, fingerprint
from apps.alerts.metrics import COLLECT_SECONDS, metric_catalog
from apps.alerts.models import Alert, AlertHistory, AlertRule, MetricSample, Resolution, Severity
from apps.core.errors import InvalidInput
from apps.resources.models import Resource

MAX_WINDOW = 7 * 86400
SCOPE_KEYS = ("platform", "service", "type", "project", "tag")
COMPARE = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
SQL_AGG = {"avg": Avg, "max": Max, "min": Min}


def _bad(field_name: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field_name}: {message}", detail={field_name: [message]})


def validate_rule(data: dict[str, Any], *, current: AlertRule | None = None) -> dict[str, Any]:
    """The rule's fields after ``data`` is applied to ``current`` (or the defaults), or a 400 naming
    the first field that is wrong. Unknown keys are ignored by the caller's serializer."""
    base = {"name": "", "description": "", "kind": AlertRule.Kind.THRESHOLD, "severity": Severity.WARNING,
            "enabled": True, "metric": "", "aggregation": "avg", "operator": ">", "threshold": 0.0,
            "window_seconds": 300, "for_seconds": 0, "event_type": "", "scope": {}, "labels": {}, "summary": ""}
    if current is not None:
        base = {k: getattr(current, k) for k in base}
    out = {**base, **{k: v for k, v in data.items() if k in base}}
    name = out["name"]
    if not isinstance(name, str) or not name.strip() or len(name) > 128:
        raise _bad("name", "A name of 1 to 128 characters is required.")
    out["name"] = name.strip()
    if out["kind"] not in AlertRule.Kind.values:
        raise _bad("kind", f"One of {', '.join(AlertRule.Kind.values)}.")
    if out["severity"] not in Severity.values:
        raise _bad("severity", f"One of {', '.join(Severity.values)}.")
    if not isinstance(out["enabled"], bool):
        raise _bad("enabled", "true or false.")
    if out["kind"] == AlertRule.Kind.THRESHOLD:
        catalog = metric_catalog()
        if out["metric"] not in {m for names in catalog.values() for m in names}:
            raise _bad("metric", "Unknown metric; see the metric catalog.")
        if out["aggregation"] not in AlertRule.Aggregation.values:
            raise _bad("aggregation", f"One of {', '.join(AlertRule.Aggregation.values)}.")
        if out["operator"] not in COMPARE:
            raise _bad("operator", f"One of {', '.join(COMPARE)}.")
        if isinstance(out["threshold"], bool) or not isinstance(out["threshold"], int | float):
            raise _bad("threshold", "A number.")
        window = out["window_seconds"]
        if isinstance(window, bool) or not isinstance(window, int) or window > MAX_WINDOW:
            raise _bad("window_seconds", f"Whole seconds, at most {MAX_WINDOW}.")
        if window < COLLECT_SECONDS:
            raise _bad("window_seconds", f"Shorter than the collection interval ({COLLECT_SECONDS} s).")
        out["event_type"] = ""
    else:
        if out["event_type"] not in AlertRule.EventType.values:
            raise _bad("event_type", f"One of {', '.join(AlertRule.EventType.values)}.")
        out["metric"] = ""
    duration = out["for_seconds"]
    if isinstance(duration, bool) or not isinstance(duration, int) or not 0 <= duration <= MAX_WINDOW:
        raise _bad("for_seconds", f"Whole seconds from 0 to {MAX_WINDOW}.")
    scope = out["scope"]
    if not isinstance(scope, dict):
        raise _bad("scope", "An object.")
    for key, value in scope.items():
        if key not in SCOPE_KEYS:
            raise _bad(f"scope.{key}", f"Not a scope; one of {', '.join(SCOPE_KEYS)}.")
        if not isinstance(value, str) or not value or len(value) > 255:
            raise _bad(f"scope.{key}", "Text of 1 to 255 characters.")
        if key == "tag" and ("=" not in value or not value.split("=", 1)[0]):
            raise _bad("scope.tag", "key=value.")
    labels = out["labels"]
    if not isinstance(labels, dict) or len(labels) > 20:
        raise _bad("labels", "An object of at most 20 labels.")
    for key, value in labels.items():
        if not LABEL_RE.match(key) or not isinstance(value, str) or len(value) > 255:
            raise _bad(f"labels.{key}", "A label name with a text value.")
    if not isinstance(out["summary"], str) or len(out["summary"]) > 500:
        raise _bad("summary", "Text of at most 500 characters.")
    return out


# -- evaluation ---------------------------------------------------------------------------------------


def rule_resources(rule: AlertRule) -> QuerySet:
    """Live resources a threshold rule covers: those of its organization and its descendants, and the
    unassigned ones of its organization's platforms, narrowed by the rule's scope and to the types
    that have its metric."""
    from apps.organizations.models import Organization

    types = [t for t, names in metric_catalog().items() if rule.metric in names]
    path = Organization.objects.filter(pk=rule.organization_id).values_list("path", flat=True).first() or "-"
    qs = Resource.objects.filter(deleted=False, type__in=types).filter(
        Q(organization__path__startswith=path) | Q(organization__isnull=True,
                                                   platform__organization_id=rule.organization_id))
    scope = rule.scope or {}
    if scope.get("platform"):
        qs = qs.filter(platform_id=scope["platform"])
    if scope.get("service"):
        qs = qs.filter(service=scope["service"])
    if scope.get("type"):
        qs = qs.filter(type=scope["type"])
    if scope.get("project"):
        qs = qs.filter(project_id=scope["project"])
    if scope.get("tag"):
        key, value = scope["tag"].split("=", 1)
        qs = qs.filter(tags__contains={key: value}) if _json_contains() else qs.filter(**{f"tags__{key}": value})
    return qs


def _json_contains() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


def window_values(rule: AlertRule, resource_ids: list[str], now: datetime) -> dict[str, float]:
    """The rule's aggregation of each series over its window ending at ``now``."""
    start = now - timedelta(seconds=rule.window_seconds)
    samples = MetricSample.objects.filter(metric=rule.metric, resolution=Resolution.RAW, ts__gt=start, ts__lte=now)
    out: dict[str, float] = {}
    for i in range(0, len(resource_ids), 2000):
        chunk = samples.filter(resource_id__in=resource_ids[i:i + 2000])
        if rule.aggregation == AlertRule.Aggregation.LAST:
            for rid, value in chunk.order_by("resource_id", "ts").values_list("resource_id", "value"):
                out[rid] = value
        else:
            out.update(chunk.values("resource_id").annotate(v=SQL_AGG[rule.aggregation]("value"))
                       .values_list("resource_id", "v"))
    return out


@dataclass
class Change:
    alert: Alert
    from_state: str
    to_state: str
    reason: str


@dataclass
class Evaluation:
    series: int = 0
    changes: list[Change] = field(default_factory=list)


def _labels(rule: AlertRule, res: dict[str, Any]) -> dict[str, str]:
    labels = {"alertname": rule.name, "rule": rule.id, "severity": rule.severity, "resource": res["id"],
              "resource_name": res["name"] or res["external_id"], "platform": res["platform_id"],
              "platform_name": res["platform__name"],
              "service": res["service"], "type": res["type"], "region": res["region"],
              "organization": str(rule.organization_id)}
    if res["project_id"]:
        labels["project"] = str(res["project_id"])
    labels.update(rule.labels or {})
    return labels


def _fmt(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def rule_evaluate(rule: AlertRule, *, now: datetime) -> Evaluation:
    """Evaluate one threshold rule at ``now`` and record every state change (see the module's doc)."""
    result = Evaluation()
    resources = list(rule_resources(rule).values("id", "name", "external_id", "platform_id", "platform__name",
                                                 "service", "type", "region", "project_id"))
    result.series = len(resources)
    values = window_values(rule, [r["id"] for r in resources], now)
    existing = {a.resource_id: a for a in Alert.objects.filter(rule=rule)}
    compare = COMPARE[rule.operator]
    condition = f"{rule.aggregation}({rule.metric}) over {rule.window_seconds} s {rule.operator} {_fmt(rule.threshold)}"
    new: list[Alert] = []
    touched: list[Alert] = []

    def move(alert: Alert, to: str, reason: str) -> None:
        result.changes.append(Change(alert, alert.state, to, reason))
        alert.state = to
        alert.state_changed_at = now

    for res in resources:
        alert = existing.get(res["id"])
        value = values.get(res["id"])
        if value is None:
            if alert is None:
                alert = _new_alert(rule, res, now)
                new.append(alert)
            elif alert.state == Alert.State.INSUFFICIENT_DATA:
                continue
            else:
                touched.append(alert)
            if alert.state == Alert.State.FIRING:
                alert.ends_at = now
            alert.pending_since = None
            alert.value = None
            move(alert, Alert.State.INSUFFICIENT_DATA,
                 f"No samples of {rule.metric} in the last {rule.window_seconds} s.")
            continue
        breach = compare(value, rule.threshold)
        if alert is None:
            if not breach:
                continue
            alert = _new_alert(rule, res, now)
            new.append(alert)
        else:
            touched.append(alert)
        alert.value = value
        reason = f"{condition}: value {_fmt(value)}"
        if breach:
            if alert.state == Alert.State.FIRING:
                continue
            if alert.state == Alert.State.PENDING:
                if (now - alert.pending_since).total_seconds() >= rule.for_seconds:
                    alert.starts_at, alert.ends_at = now, None
                    move(alert, Alert.State.FIRING, f"{reason} for {rule.for_seconds} s")
                continue
            if rule.for_seconds == 0:
                alert.starts_at, alert.ends_at, alert.pending_since = now, None, None
                alert.acknowledged_at = alert.acknowledged_by = alert.escalated_at = None
                move(alert, Alert.State.FIRING, reason)
            else:
                alert.pending_since = now
                alert.acknowledged_at = alert.acknowledged_by = alert.escalated_at = None
                move(alert, Alert.State.PENDING, f"{reason}; firing after {rule.for_seconds} s")
        elif alert.state == Alert.State.PENDING:
            alert.pending_since = None
            move(alert, Alert.State.OK, f"{reason} no more (before {rule.for_seconds} s)")
        elif alert.state == Alert.State.FIRING:
            alert.ends_at = now
            move(alert, Alert.State.RESOLVED, f"{reason} no more: resolved")
        elif alert.state == Alert.State.INSUFFICIENT_DATA:
            move(alert, Alert.State.OK, f"Samples again: {reason} does not hold")
    with transaction.atomic():
        Alert.objects.bulk_create(new, batch_size=1000)
        changed_ids = {c.alert.pk for c in result.changes}
        Alert.objects.bulk_update([a for a in touched if a.pk in changed_ids or a.value is not None],
                                  ["state", "state_changed_at", "value", "pending_since", "starts_at", "ends_at",
                                   "acknowledged_at", "acknowledged_by", "escalated_at"], batch_size=1000)
        record_changes(result.changes, now)
        AlertRule.objects.filter(pk=rule.pk).update(last_evaluated_at=now)
    return result


def _new_alert(rule: AlertRule, res: dict[str, Any], now: datetime) -> Alert:
    labels = _labels(rule, res)
    return Alert(organization_id=rule.organization_id, rule=rule, source=Alert.Source.RULE,
                 fingerprint=fingerprint({"rule": rule.id, "resource": res["id"]}), name=rule.name, labels=labels,
                 annotations={"summary": rule.summary} if rule.summary else {}, severity=rule.severity,
                 state=Alert.State.OK, resource_id=res["id"], platform_id=res["platform_id"], state_changed_at=now)


def record_changes(changes: list[Change], now: datetime, actor: Any = None) -> None:
    AlertHistory.objects.bulk_create([
        AlertHistory(alert=c.alert, at=now, kind=AlertHistory.Kind.STATE, from_state=c.from_state,
                     to_state=c.to_state, reason=c.reason[:1000], actor=actor) for c in changes], batch_size=1000)


def rules_evaluate(*, now: datetime, organization_id: Any = None) -> list[Evaluation]:
    """Evaluate every enabled threshold rule (of one organization, or all) at ``now``."""
    rules = AlertRule.objects.filter(kind=AlertRule.Kind.THRESHOLD, enabled=True)
    if organization_id is not None:
        rules = rules.filter(organization_id=organization_id)
    return [rule_evaluate(rule, now=now) for rule in rules.order_by("created_at", "id")]
