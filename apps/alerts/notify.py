"""From alerts to notifications: silences, inhibition, routing, grouping, repeat, escalation, delivery.

``notifications_dispatch(now=...)`` runs after each evaluation (and after each event or ingested
alert). For every organization it takes the alerts that are firing or resolved since their group
was last told, drops those a silence matches (``silenced_by``) or an inhibiting alert mutes
(``inhibited_by``: a firing "platform unreachable" alert mutes the other alerts of that platform),
routes each remaining alert to the first matching route (and further ones that say
``continue_matching``), and groups them by the route's ``group_by`` labels. A group is notified:

- when it is new, once ``group_wait`` has passed since it was first seen;
- when its set of firing and newly resolved alerts changed, at most every ``group_interval``;
- again while it still fires, every ``repeat_interval``.

A notification is one ``Delivery`` per contact point; inbox contact points are written at once. A
delivery is made holding its first try, which a sender thread of the deciding process makes right
after commit (``apps.alerts.sender``); a failed try is retried by Celery with a growing backoff; a
try that was lost (its process died, its task vanished) is found by ``deliveries_sweep`` once its
lease ran out and made again, by one sender only (``_claim``). Alerts firing unacknowledged for a
route's ``escalate_after`` are sent to its ``escalate_to`` contact point once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.alerts import channels, sender, statements, templating
from apps.alerts.matchers import matches
from apps.alerts.models import (
    Alert,
    AlertGroup,
    AlertHistory,
    ContactPoint,
    Delivery,
    InboxMessage,
    MessageTemplate,
    NotificationRoute,
    SettingsVersion,
    Silence,
)
from apps.clouds.secrets import decrypt_json
from apps.core.events import emit

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 4
INHIBITING_EVENT = "platform_unreachable"
DEFAULT_GROUP_BY = ["alertname"]
# How long resolved alerts stay candidates for their group's "resolved" notification.
RESOLVED_KEEP = timedelta(hours=24)
# A pending delivery whose try is this late (and whose lease ran out) is re-queued by the sweeper.
SWEEP_AFTER = timedelta(seconds=30)
# A retry task is due at the time its delivery records (its countdown starts after that time was
# taken); this much earlier is tolerated for clocks of different machines.
EARLY = timedelta(milliseconds=200)


def retry_base_seconds() -> float:
    return float(os.environ.get("UNIMANAGER_ALERTS_RETRY_SECONDS", "10"))


def lease() -> timedelta:
    """How long a sender holds a try: longer than any one send (every network step of a channel has its
    own short timeout). A try still unfinished after that was lost with its sender."""
    return timedelta(seconds=float(os.environ.get("UNIMANAGER_ALERTS_LEASE_SECONDS", "120")))


def _digest(firing: list[str], resolved: list[str]) -> str:
    return hashlib.sha256(("|".join(sorted(firing)) + "#" + "|".join(sorted(resolved))).encode()).hexdigest()[:32]


def _alert_vars(a: Alert) -> dict[str, Any]:
    return {"id": a.id, "name": a.name, "state": a.state, "severity": a.severity, "value": a.value,
            "labels": dict(a.labels), "annotations": dict(a.annotations),
            "summary": (a.annotations or {}).get("summary", ""),
            "starts_at": a.starts_at.isoformat() if a.starts_at else None,
            "ends_at": a.ends_at.isoformat() if a.ends_at else None}


def _templates(org_id: Any) -> dict[str, MessageTemplate]:
    return {t.event_type: t for t in MessageTemplate.objects.filter(organization_id=org_id)}


def compose(org_id: Any, event_type: str, variables: dict[str, Any], templates: dict[str, MessageTemplate] | None = None
            ) -> tuple[str, str]:
    """Subject and body of a notification from the organization's template for ``event_type``; a
    template that fails at send time (it passed its check, the data did not) falls back to the default."""
    tmpl = (templates if templates is not None else _templates(org_id)).get(event_type)
    if tmpl is not None:
        try:
            return (templating.render(tmpl.subject, variables, field="subject"),
                    templating.render(tmpl.body, variables, field="body"))
        except Exception:  # noqa: BLE001 - logged; the default wording still reaches the receivers
            logger.warning("template %s failed; the default wording is sent", tmpl.id)
    subject = variables.get("subject") or templating.render(templating.DEFAULT_SUBJECT, variables, field="subject")
    body = variables.get("body") or templating.render(templating.DEFAULT_BODY, variables, field="body")
    return subject, body


# -- silences and inhibition ---------------------------------------------------------------------------


def _mute(alerts: list[Alert], silences: list[Silence], now: datetime) -> list[Alert]:
    """Set ``silenced_by``/``inhibited_by`` on ``alerts`` (saving only what changed, with history) and
    return those that may be notified."""
    inhibitors = {a.labels.get("platform"): a for a in alerts
                  if a.state == Alert.State.FIRING and a.labels.get("event") == INHIBITING_EVENT
                  and a.labels.get("platform")}
    out, changed, history = [], [], []
    for a in alerts:
        silence = next((s for s in silences if matches(s.matchers, a.labels)), None)
        inhibitor = inhibitors.get(a.labels.get("platform"))
        if inhibitor is a or a.labels.get("event") == INHIBITING_EVENT:
            inhibitor = None
        if inhibitor is not None and a.state != Alert.State.FIRING:
            inhibitor = None
        silence_id = silence.pk if silence else None
        inhibitor_id = inhibitor.pk if inhibitor else None
        if silence_id != a.silenced_by_id or inhibitor_id != a.inhibited_by_id:
            if silence_id and silence_id != a.silenced_by_id:
                history.append(AlertHistory(alert=a, at=now, kind=AlertHistory.Kind.SILENCE,
                                            reason=f"Silenced by {silence_id}: {silence.comment}"[:1000]))
            if inhibitor_id and inhibitor_id != a.inhibited_by_id:
                history.append(AlertHistory(alert=a, at=now, kind=AlertHistory.Kind.INHIBIT,
                                            reason=f"Inhibited by {inhibitor.name} ({inhibitor_id})"))
            a.silenced_by_id, a.inhibited_by_id = silence_id, inhibitor_id
            changed.append(a)
        if silence is None and inhibitor is None:
            out.append(a)
    if changed:
        Alert.objects.bulk_update(changed, ["silenced_by", "inhibited_by"], batch_size=1000)
        AlertHistory.objects.bulk_create(history)
    return out


def mute_org(org_id: Any, *, now: datetime | None = None) -> None:
    """Apply the organization's silences and inhibitions to its active alerts now (a silence just made
    or expired shows on the alert list at once, not at the next dispatch)."""
    now = now or timezone.now()
    alerts = list(Alert.objects.filter(organization_id=org_id, state__in=[Alert.State.FIRING, Alert.State.PENDING]))
    silences = list(Silence.objects.filter(organization_id=org_id, starts_at__lte=now, ends_at__gt=now))
    _mute(alerts, silences, now)


# -- dispatch --------------------------------------------------------------------------------------------


def notifications_dispatch(*, now: datetime | None = None, organization_id: Any = None,
                           touched: list[Alert] | None = None, history: list[AlertHistory] | None = None,
                           reads: DispatchReads | None = None, batch: statements.Batch | None = None
                           ) -> list[Delivery]:
    """One pass of silencing, inhibition, routing, grouping and sending (see the module's doc).

    ``touched`` (with ``organization_id``): only the groups these alerts belong to are considered,
    with their other members and the alerts that could inhibit them, so an alert arriving from outside
    is notified without reading every other firing alert of the organization. ``history``: the
    "notified" entries are added to this list, for the caller to write with its own in one insert.
    ``reads`` (with ``touched``): the members and groups, already read (``dispatch_reads``) at ``now``.
    ``batch``: the groups and notifications are added to it, for the caller to write (``flush``)."""
    if reads is not None:
        now, organization_id = reads.now, reads.organization_id
    now = now or timezone.now()
    config = (reads.config if reads is not None else
              org_config(organization_id, now) if organization_id is not None else None)
    if touched is not None:
        groups = _touched_groups(config.routes if config else [], touched)
        if not groups or organization_id is None:
            return []
        found: list[Alert] = (reads.members(touched, groups) if reads is not None
                              else _group_members(organization_id, now, groups))
    else:
        candidates = Alert.objects.filter(Q(state=Alert.State.FIRING) | Q(
            state__in=[Alert.State.RESOLVED, Alert.State.INSUFFICIENT_DATA], ends_at__gte=now - RESOLVED_KEEP))
        if organization_id is not None:
            candidates = candidates.filter(organization_id=organization_id)
        found = list(candidates.order_by())
    by_org: dict[Any, list[Alert]] = defaultdict(list)
    # Ordered here, not by the database: ordering costs the query's compilation more than the sort.
    for a in sorted(found, key=lambda x: (x.organization_id, x.id)):
        by_org[a.organization_id].append(a)
    deliveries: list[Delivery] = []
    only = {a.pk for a in touched} if touched is not None else None
    for org_id, alerts in by_org.items():
        deliveries += _dispatch_org(org_id, alerts, now, only, config or org_config(org_id, now), history, reads,
                                    batch)
    for d in deliveries:
        _enqueue(d)
    return deliveries


def _routes(org_id: Any) -> list[NotificationRoute]:
    return list(NotificationRoute.objects.filter(organization_id=org_id).prefetch_related("contact_points")
                .select_related("escalate_to"))


# -- the organization's notification settings, kept by each process --------------------------------------


@dataclass
class OrgConfig:
    """What every dispatch of an organization reads: routes (with their contact points), message
    templates and the silences not ended at ``loaded_at``."""

    routes: list[NotificationRoute]
    templates: dict[str, MessageTemplate]
    silences: list[Silence]
    loaded_at: datetime

    def silences_at(self, now: datetime) -> list[Silence] | None:
        if now < self.loaded_at:
            return None  # a clock before the load (a test's): read them for that time
        return [x for x in self.silences if x.starts_at <= now < x.ends_at]


_configs: dict[str, tuple[int, OrgConfig]] = {}


def _version_read(org_id: Any) -> tuple[str, list[Any]]:
    """The statement reading the organization's ``SettingsVersion`` (no row: 0)."""
    quote = connection.ops.quote_name
    meta = SettingsVersion._meta
    pk = meta.get_field("organization_id")
    return (f"SELECT {quote(meta.get_field('version').column)} FROM {quote(meta.db_table)} WHERE "
            f"{quote(pk.column)} = %s", [pk.get_db_prep_value(org_id, connection)])


def _version(rows: list[tuple] | None) -> int:
    return rows[0][0] if rows else 0


def org_config(org_id: Any, now: datetime, version: int | None = None) -> OrgConfig:
    """The organization's routes, templates and silences, read again only after one of them changed
    (``config_changed``, from the models' signals, moves the organization's ``SettingsVersion`` in
    the change's transaction). ``version``: the number the caller read, else it is read here; it is
    read before the rows, so a change committed meanwhile is read at the next dispatch."""
    if version is None:
        version = _version(statements.together([_version_read(org_id)])[0])
    held = _configs.get(str(org_id))
    if held is not None and held[0] == version and now >= held[1].loaded_at:
        return held[1]
    config = OrgConfig(routes=_routes(org_id), templates=_templates(org_id),
                       silences=list(Silence.objects.filter(organization_id=org_id, ends_at__gt=now)), loaded_at=now)
    _configs[str(org_id)] = (version, config)
    return config


def _held_config(org_id: Any, now: datetime) -> tuple[int, OrgConfig] | None:
    held = _configs.get(str(org_id))
    return held if held is not None and now >= held[1].loaded_at else None


def config_changed(org_id: Any) -> None:
    """A route, contact point, template or silence of ``org_id`` changed: every process reads them again
    (this transaction at once, the others once it committed)."""
    quote = connection.ops.quote_name
    meta = SettingsVersion._meta
    table, pk, version = (quote(meta.db_table), quote(meta.get_field("organization_id").column),
                          quote(meta.get_field("version").column))
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({pk}, {version}) VALUES (%s, 1) ON CONFLICT ({pk}) DO UPDATE SET "
                       f"{version} = {table}.{version} + 1",
                       [meta.get_field("organization_id").get_db_prep_value(org_id, connection)])


def connect_config_signals() -> None:
    from django.db.models.signals import m2m_changed, post_delete, post_save

    def changed(sender: Any, instance: Any, **kwargs: Any) -> None:
        org_id = getattr(instance, "organization_id", None)
        if org_id is not None:
            config_changed(org_id)

    for model in (NotificationRoute, ContactPoint, MessageTemplate, Silence):
        post_save.connect(changed, sender=model, weak=False, dispatch_uid=f"alerts-config-save-{model.__name__}")
        post_delete.connect(changed, sender=model, weak=False, dispatch_uid=f"alerts-config-delete-{model.__name__}")
    m2m_changed.connect(changed, sender=NotificationRoute.contact_points.through, weak=False,
                        dispatch_uid="alerts-config-route-contact-points")


def _touched_groups(routes: list[NotificationRoute], touched: list[Alert]) -> list[tuple[tuple[str, str], ...]]:
    """The ``group_by`` label values of every group one of ``touched`` belongs to (by route match)."""
    seen: dict[tuple[tuple[str, str], ...], None] = {}
    for a in touched:
        for route in routes:
            if not matches(route.matchers, a.labels):
                continue
            seen[tuple((k, str(a.labels.get(k, ""))) for k in (route.group_by or DEFAULT_GROUP_BY))] = None
            if not route.continue_matching:
                break
    return list(seen)


def tenant_rows(model: Any, *, org_id: Any, field: str, values: list[Any], lock: bool = False) -> list[Any]:
    """``model.objects.filter(organization_id=org_id, <field>__in=values)`` (``select_for_update()``
    with ``lock``), as the statement the ORM writes for it. Written here because every alert received
    from outside reads its alerts and its groups this way, and compiling the query cost the ORM about
    four times what running it costs (measured: 0.40 ms of CPU against 0.10 for the same statement)."""
    if not values:
        return []
    quote = connection.ops.quote_name
    meta = model._meta
    org = meta.get_field("organization")
    sql = (f"SELECT * FROM {quote(meta.db_table)} WHERE {quote(org.column)} = %s AND "
           f"{quote(meta.get_field(field).column)} IN ({', '.join(['%s'] * len(values))})")
    if lock and connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    return list(model.objects.raw(sql, [org.get_db_prep_value(org_id, connection), *values]))


# Groups looked up by one statement (an OR of this many terms stays far below SQLite's expression depth).
GROUPS_PER_QUERY = 200


def _group_members(org_id: Any, now: datetime, groups: list[tuple[tuple[str, str], ...]]) -> list[Alert]:
    """The organization's firing (or lately resolved) alerts sharing the ``group_by`` values of one of
    ``groups`` (a missing label counts as empty), and the firing alerts that inhibit others."""
    found: dict[Any, Alert] = {}
    for sql, params in _group_members_sql(org_id, now, groups):
        for a in Alert.objects.raw(sql, params):
            found[a.pk] = a
    return list(found.values())


def _group_members_sql(org_id: Any, now: datetime, groups: list[tuple[tuple[str, str], ...]]
                       ) -> list[tuple[str, list[Any]]]:
    """The statements of ``_group_members`` (every column of ``alerts_alert``, in field order).

    Written as SQL over the labels' JSON (SQLite's ``json_extract``, PostgreSQL's ``@>`` and ``->``), every
    value a parameter: this statement runs for every alert received from outside, and building it through
    the ORM's JSON lookups cost more than running it. A label is compared as text, as the ORM's exact
    lookup on a JSON key does (``_in_groups`` is the same test in Python)."""
    quote = connection.ops.quote_name
    field = Alert._meta.get_field
    labels, state, ends_at = (quote(field(name).column) for name in ("labels", "state", "ends_at"))
    org_column = quote(field("organization").column)
    org_value = field("organization").target_field.get_db_prep_value(org_id, connection, prepared=False)
    postgres = connection.vendor == "postgresql"

    def has(key: str, value: str) -> tuple[str, list[Any]]:
        if postgres:
            # A containment, which the labels' index answers (migration 0005): only the alerts carrying the label
            # are read, not every alert of the organization. The label is the text, not a list holding it.
            return f"{labels} @> %s::jsonb", [json.dumps({key: value})]
        return f"json_extract({labels}, %s) = %s", [f'$."{key}"', value]

    def missing(key: str) -> tuple[str, list[Any]]:
        if postgres:
            return f"({labels} -> %s) IS NULL", [key]
        return f"json_type({labels}, %s) IS NULL", [f'$."{key}"']

    inhibitor_sql, inhibitor_params = has("event", INHIBITING_EVENT)
    out = []
    for start in range(0, len(groups), GROUPS_PER_QUERY):
        terms, params = [], []
        for group in groups[start:start + GROUPS_PER_QUERY]:
            parts = []
            for key, value in group:
                if value:
                    sql, values = has(key, value)
                else:
                    absent, absent_params = missing(key)
                    empty, empty_params = has(key, "")
                    sql, values = f"({absent} OR {empty})", absent_params + empty_params
                parts.append(sql)
                params += values
            terms.append("(" + " AND ".join(parts or ["1 = 1"]) + ")")
        terms.append(f"({state} = %s AND {inhibitor_sql})")
        params += [Alert.State.FIRING, *inhibitor_params]
        # The organization in each side of the OR: each side is then one range of ``alert_org_state_ends``
        # (SQLite looks an OR up side by side only so), not every alert of the organization.
        sql = statements.select(Alert, f"(({org_column} = %s AND {state} = %s) OR ({org_column} = %s AND {state} IN "
                                       f"(%s, %s) AND {ends_at} >= %s)) AND ({' OR '.join(terms)})")
        head = [org_value, Alert.State.FIRING, org_value, Alert.State.RESOLVED, Alert.State.INSUFFICIENT_DATA,
                connection.ops.adapt_datetimefield_value(now - RESOLVED_KEEP)]
        out.append((sql, head + params))
    return out


def _in_groups(a: Alert, now: datetime, groups: list[tuple[tuple[str, str], ...]]) -> bool:
    """Whether ``_group_members(groups)`` read now would give ``a``: the same test, in Python."""
    if a.state == Alert.State.FIRING:
        if a.labels.get("event") == INHIBITING_EVENT:
            return True
    elif a.state not in (Alert.State.RESOLVED, Alert.State.INSUFFICIENT_DATA) or a.ends_at is None or (
            a.ends_at < now - RESOLVED_KEEP):
        return False
    return any(all(_label_text(a.labels, key) == value for key, value in group) for group in groups)


def _label_text(labels: dict[str, Any], key: str) -> str | None:
    value = labels.get(key, "")
    return value if isinstance(value, str) else None


def _group_key(route: NotificationRoute, labels: dict[str, str]) -> str:
    return hashlib.sha256(f"{route.pk}|{sorted(labels.items())}".encode()).hexdigest()[:32]


@dataclass
class DispatchReads:
    """What a dispatch of alerts received from outside reads (the organization's settings version, their
    groups' members, the groups), made before those alerts are written so the reads go in the same
    round trip as the writes (``statements``); ``read(results)`` takes their rows. Read before the
    alerts are written, the members are completed with the alerts as they stand after (``members``).

    The statements are made with the settings this process holds; when the version read with them
    says those changed, the settings are read again and so are the members and groups."""

    organization_id: Any
    now: datetime
    alerts: list[Alert]
    version: int | None
    config: OrgConfig
    groups: list[tuple[tuple[str, str], ...]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    statements: list[tuple[str, list[Any]]] = field(default_factory=list)
    rows: list[Alert] | None = None
    known: dict[str, AlertGroup] | None = None

    def plan(self) -> None:
        self.groups = _touched_groups(self.config.routes, self.alerts)
        keys: dict[str, None] = {}
        for a in self.alerts:
            for route in self.config.routes:
                if matches(route.matchers, a.labels):
                    group_labels = {k: str(a.labels.get(k, "")) for k in (route.group_by or DEFAULT_GROUP_BY)}
                    keys[_group_key(route, group_labels)] = None
                    if not route.continue_matching:
                        break
        self.keys = list(keys)
        out = [_version_read(self.organization_id)]
        out += _group_members_sql(self.organization_id, self.now, self.groups) if self.groups else []
        if keys:
            org = AlertGroup._meta.get_field("organization")
            where = (f"{connection.ops.quote_name(org.column)} = %s AND "
                     f"{connection.ops.quote_name(AlertGroup._meta.get_field('key').column)} IN "
                     f"({', '.join(['%s'] * len(keys))})")
            out.append((statements.select(AlertGroup, where),
                        [org.get_db_prep_value(self.organization_id, connection), *keys]))
        self.statements = out

    def read(self, results: list[list[tuple] | None]) -> None:
        version = _version(results[0])
        if version != self.version:
            # The settings changed since this process read them: read them, then the reads they shape.
            self.version, self.config = version, org_config(self.organization_id, self.now, version)
            self.plan()
            results = statements.together(self.statements)
        members = len(self.statements) - (1 if self.keys else 0)
        self.rows = [a for rows in results[1:members] for a in statements.instances(Alert, rows or [])]
        self.known = ({g.key: g for g in statements.instances(AlertGroup, results[members] or [])}
                      if self.keys else {})

    def members(self, touched: list[Alert], groups: list[tuple[tuple[str, str], ...]]) -> list[Alert]:
        """``_group_members(groups)`` as it would read now, ``touched`` written (``groups``: theirs, among
        those read)."""
        ours = {a.pk for a in touched}
        found = {a.pk: a for a in self.rows or [] if a.pk not in ours and _in_groups(a, self.now, groups)}
        found.update((a.pk, a) for a in touched if _in_groups(a, self.now, groups))
        return list(found.values())


def dispatch_reads(*, organization_id: Any, alerts: list[Alert], now: datetime) -> DispatchReads:
    """The reads a dispatch of ``alerts`` (with their labels; written or not yet) will need, planned with
    the settings this process holds (read now when it holds none)."""
    held = _held_config(organization_id, now)
    if held is None:
        version = _version(statements.together([_version_read(organization_id)])[0])
        held = (version, org_config(organization_id, now, version))
    reads = DispatchReads(organization_id, now, alerts, held[0], held[1])
    reads.plan()
    return reads


def _dispatch_org(org_id: Any, alerts: list[Alert], now: datetime, only: set[Any] | None,
                  config: OrgConfig, history: list[AlertHistory] | None = None, reads: DispatchReads | None = None,
                  batch: statements.Batch | None = None) -> list[Delivery]:
    silences = config.silences_at(now)
    if silences is None:
        silences = list(Silence.objects.filter(organization_id=org_id, starts_at__lte=now, ends_at__gt=now))
    audible = _mute(alerts, silences, now)
    routes = config.routes
    groups: dict[str, tuple[NotificationRoute, dict[str, str], list[Alert]]] = {}
    for a in audible:
        for route in routes:
            if not matches(route.matchers, a.labels):
                continue
            labels = {k: str(a.labels.get(k, "")) for k in (route.group_by or DEFAULT_GROUP_BY)}
            key = _group_key(route, labels)
            groups.setdefault(key, (route, labels, []))[2].append(a)
            if not route.continue_matching:
                break
    if only is not None:
        groups = {k: g for k, g in groups.items() if any(a.pk in only for a in g[2])}
    if not groups:
        return []
    known = dict(reads.known or {}) if reads is not None else {}
    unread = [key for key in groups if reads is None or key not in reads.keys]
    known.update({g.key: g for g in tenant_rows(AlertGroup, org_id=org_id, field="key", values=unread)})
    templates = config.templates
    deliveries: list[Delivery] = []
    with transaction.atomic(savepoint=False):
        for key, (route, labels, members) in groups.items():
            group = known.get(key)
            if group is None:
                # Written once below, with its first notification when that is due at once.
                group = AlertGroup(organization_id=org_id, route=route, key=key, labels=labels, first_seen_at=now)
            since = group.last_notified_at
            firing = [a for a in members if a.state == Alert.State.FIRING]
            resolved = [a for a in members if a.state != Alert.State.FIRING and since is not None
                        and a.ends_at is not None and a.ends_at > since]
            if not firing and not resolved:
                if group._state.adding:
                    _write_group(group, batch)
                continue
            deliveries += _escalate(route, firing, now, templates)
            digest = _digest([a.fingerprint for a in firing], [a.fingerprint for a in resolved])
            if since is None:
                due = (now - group.first_seen_at).total_seconds() >= route.group_wait_seconds
                why = "new group"
            elif digest != group.notified_digest:
                due = (now - since).total_seconds() >= route.group_interval_seconds
                why = "group changed"
            else:
                due = bool(firing) and (now - since).total_seconds() >= route.repeat_interval_seconds
                why = "repeat"
            if not due:
                if group._state.adding:
                    _write_group(group, batch)
                continue
            deliveries += _notify_group(route, group, labels, firing, resolved, now, why, templates, history, batch)
            group.last_notified_at = now
            group.notified_digest = _digest([a.fingerprint for a in firing], [])
            _write_group(group, batch, ["last_notified_at", "notified_digest"])
    return deliveries


def _write_group(group: AlertGroup, batch: statements.Batch | None, fields: list[str] | None = None) -> None:
    """Insert a new group, or save ``fields`` of a known one; into ``batch`` when there is one."""
    if batch is None:
        group.save(update_fields=None if group._state.adding else fields)
    elif group._state.adding:
        batch.insert(group)
    else:
        batch.update(AlertGroup, group.pk, {name: getattr(group, name) for name in fields or []})


def _group_vars(labels: dict[str, str], firing: list[Alert], resolved: list[Alert]) -> dict[str, Any]:
    everyone = [_alert_vars(a) for a in firing + resolved]
    status = "firing" if firing else "resolved"
    title = ", ".join(f"{v}" for v in labels.values() if v) or (firing or resolved)[0].name
    return {"status": status, "title": title, "group_labels": labels, "alerts": everyone,
            "firing": [_alert_vars(a) for a in firing], "resolved": [_alert_vars(a) for a in resolved],
            "link": "/console/alerts/", "event": {}, "organization": ""}


def _notify_group(route: NotificationRoute, group: AlertGroup, labels: dict[str, str], firing: list[Alert],
                  resolved: list[Alert], now: datetime, why: str, templates: dict[str, MessageTemplate],
                  history: list[AlertHistory] | None = None, batch: statements.Batch | None = None
                  ) -> list[Delivery]:
    variables = _group_vars(labels, firing, resolved)
    subject, body = compose(group.organization_id, MessageTemplate.EventType.ALERT, variables, templates)
    payload = {"version": "1", "groupKey": group.key, "status": variables["status"], "groupLabels": labels,
               "reason": why, "alerts": variables["alerts"], "subject": subject}
    severity = max((a.severity for a in firing), key=["info", "warning", "critical"].index, default="info")
    out = []
    points = [cp for cp in route.contact_points.all() if cp.enabled]
    for cp in points:
        out += deliver(cp, subject=subject, body=body, payload=payload, group_key=group.key, severity=severity,
                       batch=batch)
    names = ", ".join(cp.name for cp in points) or "no contact point"
    notes = [AlertHistory(alert=a, at=now, kind=AlertHistory.Kind.NOTIFY,
                          reason=f"Notified ({why}) through route {route.name} to {names}"[:1000])
             for a in firing + resolved]
    if history is not None:
        history += notes
    else:
        AlertHistory.objects.bulk_create(notes, batch_size=1000)
    return out


def _escalate(route: NotificationRoute, firing: list[Alert], now: datetime, templates: dict[str, MessageTemplate]
              ) -> list[Delivery]:
    if route.escalate_after_seconds is None or route.escalate_to is None:
        return []
    late = [a for a in firing if a.acknowledged_at is None and a.escalated_at is None and a.starts_at is not None
            and (now - a.starts_at).total_seconds() >= route.escalate_after_seconds]
    if not late:
        return []
    variables = _group_vars({"escalation": route.name}, late, [])
    subject, body = compose(late[0].organization_id, MessageTemplate.EventType.ALERT, variables, templates)
    subject = f"[ESCALATED] {subject}"
    out = deliver(route.escalate_to, subject=subject, body=body, group_key="escalation",
                  payload={"version": "1", "status": "firing", "escalated": True, "alerts": variables["alerts"]},
                  severity="critical")
    Alert.objects.filter(pk__in=[a.pk for a in late]).update(escalated_at=now)
    AlertHistory.objects.bulk_create([
        AlertHistory(alert=a, at=now, kind=AlertHistory.Kind.ESCALATE,
                     reason=f"Not acknowledged after {route.escalate_after_seconds} s: escalated to "
                            f"{route.escalate_to.name}") for a in late])
    return out


def deliver(cp: ContactPoint, *, subject: str, body: str, payload: dict[str, Any], group_key: str = "",
            event_type: str = "alert", severity: str = "info", batch: statements.Batch | None = None
            ) -> list[Delivery]:
    """Queue one notification to ``cp`` (inbox: written at once; else into ``batch`` when there is one).
    The caller enqueues after commit."""
    if cp.kind == ContactPoint.Kind.INBOX:
        inbox_write(cp, subject=subject, body=body, severity=severity)
        Delivery.objects.create(organization_id=cp.organization_id, contact_point=cp, group_key=group_key,
                                event_type=event_type, subject=subject[:500], body=body, payload=payload,
                                status=Delivery.Status.SENT, attempts=1, sent_at=timezone.now())
        return []
    # Made holding its first try: the sender it is handed to on commit needs no write before sending.
    delivery = Delivery(organization_id=cp.organization_id, contact_point=cp, group_key=group_key,
                        event_type=event_type, subject=subject[:500], body=body, payload=payload, attempts=1,
                        claimed_until=timezone.now() + lease())
    if batch is None:
        delivery.save(force_insert=True)
    else:
        batch.insert(delivery)
    if sender.enabled():  # its first try leaves from this process at commit, on a connection opened now
        channels.warm(cp.kind, cp.config)
    return [delivery]


def inbox_write(cp: ContactPoint, *, subject: str, body: str, severity: str) -> int:
    from apps.organizations.models import Membership

    users = cp.config.get("users") or list(Membership.objects.filter(organization_id=cp.organization_id)
                                           .values_list("user_id", flat=True))
    rows = InboxMessage.objects.bulk_create([
        InboxMessage(organization_id=cp.organization_id, user_id=u, subject=subject[:500], body=body,
                     severity=severity, link="/console/alerts/") for u in users])
    for u in {str(u) for u in users}:
        # A person's inbox gathers every organization's messages: its topic is the person's, not a tenant's.
        emit(None, f"inbox:{u}", {"event": "message", "subject": subject[:200]})
    return len(rows)


def _enqueue(delivery: Delivery) -> None:
    # Set once the first try is out (at once when it goes through Celery): what waits for it can be told now.
    delivery.handed = sender.Handed()
    transaction.on_commit(lambda: sender.hand_over(delivery, delivery.handed))


def notify_event(org_id: Any, event_type: str, *, subject: str, body: str, event: dict[str, Any]) -> list[Delivery]:
    """Approvals waiting, operations failed and budgets crossed: through the same routes, templates and
    deliveries as alerts. Routes match the labels ``{"event": event_type, **event labels}``."""
    labels = {"event": event_type, "alertname": event_type, **{k: str(v) for k, v in event.items()
                                                                if isinstance(v, str | int | float)}}
    variables = {"status": "firing", "title": subject, "group_labels": {"event": event_type}, "alerts": [],
                 "firing": [], "resolved": [], "link": "/console/", "event": event, "organization": "",
                 "subject": subject, "body": body}
    subject, body = compose(org_id, event_type, variables)
    out: list[Delivery] = []
    with transaction.atomic():
        for route in NotificationRoute.objects.filter(organization_id=org_id).prefetch_related("contact_points"):
            if not matches(route.matchers, labels):
                continue
            for cp in route.contact_points.all():
                if cp.enabled:
                    out += deliver(cp, subject=subject, body=body, event_type=event_type,
                                   payload={"version": "1", "event": event_type, "subject": subject, "data": event})
            if not route.continue_matching:
                break
        for d in out:
            _enqueue(d)
    return out


# -- sending ---------------------------------------------------------------------------------------------


def delivery_attempt(*, delivery_id: str, attempt: int | None = None, now: datetime | None = None) -> float | None:
    """Make one try of a delivery. Returns the countdown of the next try, or None when there is nothing
    more to do (sent, failed for good after ``MAX_ATTEMPTS``, or not this caller's to send).

    ``attempt``: the caller was handed that try, already counted and held (a delivery's first try, made
    with it). Without it, a new try is claimed first: only when the delivery is due and no other sender
    holds it, so a retry task and a re-queued lost try never send the same notification twice."""
    now = now or timezone.now()
    if attempt is None:
        d = _claim(delivery_id, now)
    else:
        d = (Delivery.objects.select_related("contact_point")
             .filter(pk=delivery_id, status=Delivery.Status.PENDING, attempts=attempt).first())
    if d is None:
        return None
    return attempt_claimed(d, now=now)


def _claim(delivery_id: str, now: datetime) -> Delivery | None:
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + EARLY)
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lte=now)
    took = (Delivery.objects.filter(due, free, pk=delivery_id, status=Delivery.Status.PENDING,
                                    attempts__lt=MAX_ATTEMPTS)
            .update(attempts=F("attempts") + 1, claimed_until=now + lease()))
    if not took:
        return None
    return Delivery.objects.select_related("contact_point").get(pk=delivery_id)


def first_try_begun(d: Delivery) -> channels.Begun | None:
    """``d``'s first try, written now on a connection kept to its receiver without waiting
    (``channels.begin``): the caller that committed it starts it, and a sender thread reads the answer.
    None when it cannot be begun so (email, TLS, a proxy, no connection kept); never raises, since the
    sender can still make the whole try."""
    try:
        cp = d.contact_point
        post = channels.prepare(cp.kind, cp.config, _secrets(cp.secrets_encrypted),
                                channels.Message(d.subject, d.body, d.payload))
        return channels.begin(post) if post is not None else None
    except Exception:  # noqa: BLE001 - the sender thread makes the try and meets the error itself
        logger.exception("beginning delivery %s's first try failed", d.pk)
        return None


def attempt_claimed(d: Delivery, *, now: datetime | None = None, sent: Any = None,
                    held: Callable[[], Any] | None = None, begun: channels.Begun | None = None) -> float | None:
    """Send ``d``, whose current try (``d.attempts``) this caller holds, and record the outcome.
    ``sent`` (an event) is set as soon as the receiver has the request (a plain HTTP receiver: before its
    answer is awaited; others: once they answered), before the outcome is written. ``held`` is called
    once the try is over, before its outcome is written (``sender.outcomes_held``). ``begun``: its request,
    already begun on a kept connection (``first_try_begun``)."""
    cp = d.contact_point
    secrets = _secrets(cp.secrets_encrypted)
    try:
        try:
            code = channels.send(cp.kind, cp.config, secrets, channels.Message(d.subject, d.body, d.payload),
                                 written=sent.set if sent is not None else None, begun=begun)
        finally:
            if sent is not None:
                sent.set()
            if held is not None:
                held()
    except channels.DeliveryFailed as exc:
        now = now or timezone.now()
        d.last_error, d.response_code, d.claimed_until = str(exc)[:1000], exc.code, None
        if d.attempts >= MAX_ATTEMPTS:
            d.status, d.next_attempt_at = Delivery.Status.FAILED, None
            d.save(update_fields=["status", "last_error", "response_code", "next_attempt_at", "claimed_until"])
            _announce_delivery(d)
            return None
        delay = retry_base_seconds() * 2 ** (d.attempts - 1)
        d.next_attempt_at = now + timedelta(seconds=delay)
        d.save(update_fields=["last_error", "response_code", "next_attempt_at", "claimed_until"])
        return delay
    d.status, d.sent_at, d.response_code, d.next_attempt_at, d.claimed_until = (
        Delivery.Status.SENT, timezone.now(), code, None, None)
    _record_sent(d)
    return None


_decrypted: dict[str, dict[str, Any]] = {}


def _secrets(ciphertext: str) -> dict[str, Any]:
    """A contact point's secrets, decrypted once per process and ciphertext (a changed secret is a new
    ciphertext; at most a few hundred are kept)."""
    if not ciphertext:
        return {}
    held = _decrypted.get(ciphertext)
    if held is None:
        held = decrypt_json(ciphertext)
        if len(_decrypted) >= 500:
            _decrypted.clear()
        _decrypted[ciphertext] = held
    return held


def _record_sent(d: Delivery, *, tries: int = 5) -> None:
    """Record a try the receiver accepted. The message is out: a write lost to a momentarily locked
    database (SQLite) would have the sweeper send it again, so the write is tried a few times first
    (outside a transaction only: inside one, the error ends the transaction)."""
    for n in range(tries):
        try:
            d.save(update_fields=["status", "sent_at", "response_code", "next_attempt_at", "claimed_until"])
            return
        except OperationalError:
            if connection.in_atomic_block or n == tries - 1:
                raise
            time.sleep(0.05 * 2 ** n)


def deliveries_sweep(*, now: datetime | None = None, limit: int = 500) -> list[str]:
    """Re-queue the deliveries whose try was lost: pending, held by nobody (or by a sender whose lease
    ran out) and due for longer than ``SWEEP_AFTER``. Those that used every try are marked failed.
    Returns the ids queued; each is sent by whichever task claims it first, once."""
    from apps.alerts.tasks import delivery_send_task

    now = now or timezone.now()
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lte=now)
    late = (Q(next_attempt_at__isnull=True, created_at__lte=now - SWEEP_AFTER)
            | Q(next_attempt_at__lte=now - SWEEP_AFTER))
    lost = Delivery.objects.filter(free, late, status=Delivery.Status.PENDING)
    for d in lost.filter(attempts__gte=MAX_ATTEMPTS).select_related("contact_point")[:limit]:
        d.status, d.claimed_until, d.next_attempt_at = Delivery.Status.FAILED, None, None
        d.last_error = (d.last_error or "Its last try was lost with its sender.")[:1000]
        d.save(update_fields=["status", "claimed_until", "next_attempt_at", "last_error"])
        _announce_delivery(d)
    ids = list(lost.filter(attempts__lt=MAX_ATTEMPTS).order_by("created_at").values_list("pk", flat=True)[:limit])
    for pk in ids:
        delivery_send_task.delay(pk)
    if ids:
        logger.warning("re-queued %d notification(s) whose try was lost", len(ids))
    return ids


def _announce_delivery(d: Delivery) -> None:
    """A delivery that failed for good is announced (the alert lists show it); a sent one is not: every
    event costs its subscribers (the audit log among them) a write."""
    emit(d.organization_id, f"alerts:{d.organization_id}", {"event": "delivery", "id": d.id, "status": d.status},
         also=[(None, "alerts:platform")])
