"""Widget kinds and named queries for dashboards, registered by each app (like the menu registry).

Dashboards never import another app: every app that has something worth charting registers, from
its own ``AppConfig.ready``, the *queries* over its data, and ``dashboards`` reads this registry.

Contract of a query (``register_query(WidgetQuery(...))``):

- ``name`` is ``<app>.<what>`` (``resources.count_by_type``), lower-case, unique. Dashboards store
  the name, so renaming a query breaks saved dashboards: add a new name instead.
- ``run(scope, params) -> dict`` returns one of the result *shapes* it declares in ``shape``:

  ``value``       ``{"value": number, "total": number | None}`` (stat, gauge; ``total`` makes a ratio),
                  optionally ``"unknown": number``: what is neither counted nor in ``total`` because its
                  state is not known yet (shown apart, never as a shortfall)
  ``categories``  ``{"categories": [{"name": str, "value": number}, ...]}`` (bar, pie, table)
  ``timeseries``  ``{"x": [label, ...], "series": [{"name": str, "data": [number, ...]}, ...]}`` (line, bar)
  ``table``       ``{"columns": [str, ...], "rows": [[cell, ...], ...]}`` (table)
  ``places``      ``{"places": [{"name": str, "lon": number | None, "lat": number | None, "value": number}]}``
                  (map: places with a position are drawn where they are, the others in a row below)
  ``graph``       ``{"nodes": [{"id": str, "name": str, "group": str}], "links": [{"source": id,
                  "target": id, "name": str}], "groups": [str, ...]}`` (topology)

- It reads tenant data ONLY through ``scope.restrict(queryset, action)``, which narrows to what the
  viewer may see (``restrict`` of the actor's permissions, and the organizations a dashboard
  variable or a wall screen's display token allows). A query never widens what ``restrict`` gives.
- ``params`` declares every parameter the query accepts (``QueryParam``): anything else, or a value
  outside its choices, is refused when the dashboard is saved (``params_errors``) and defaults are
  filled in before ``run`` is called, so ``run`` sees only declared, valid values.
- ``topics`` names the realtime topic kinds (``resource``, ``sync``, ``operation`` ...) whose events
  may change the result: dashboards re-read a widget when one of them is emitted, so a query that
  omits its topic still works but is only refreshed by the dashboard's timer.
- ``permission`` (optional) is the code the viewer needs for the query at all; its data is still
  narrowed by ``scope.restrict``.
- A query that cannot answer now raises ``QueryFailed`` with a sentence for the viewer; any other
  exception is a bug.
- It costs a constant handful of queries: aggregate in the database, cap the rows (``limit``).

Widget kinds (``register_widget_kind``) name the result shapes they can draw; ``core`` registers the
built-in ones (stat, gauge, line, bar, pie, table, map, topology).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

from apps.core.scoping import authorize, restrict, tenant_q

SHAPES = ("value", "categories", "timeseries", "table", "places", "graph")
QUERY_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


class QueryFailed(Exception):
    """A query that cannot answer now (an external source refused or down): the message is shown on
    the widget instead of its data."""


@dataclass(frozen=True)
class QueryParam:
    """A parameter of a query: ``kind`` is ``choice`` (one of ``choices``), ``int`` (``low``..``high``)
    or ``text`` (at most 128 characters)."""

    kind: str = "choice"
    default: Any = None
    choices: tuple[Any, ...] = ()
    low: int = 0
    high: int = 1000
    label: str = ""


@dataclass(frozen=True)
class WidgetQuery:
    name: str
    label: str
    shape: str
    run: Callable[[QueryScope, dict[str, Any]], dict[str, Any]]
    params: dict[str, QueryParam] = field(default_factory=dict)
    topics: tuple[str, ...] = ()
    permission: str | None = None
    unit: str = ""
    description: str = ""


@dataclass(frozen=True)
class WidgetKind:
    name: str
    label: str
    shapes: tuple[str, ...]
    icon: str = "chart-bar"


class QueryScope:
    """What a query may see: the actor's ``restrict`` and, optionally, only some organizations.

    A wall screen has no person: it gets ``QueryScope(None, organization_ids=<its organization's
    subtree>)``. A scope with neither an actor nor organizations sees nothing."""

    def __init__(self, actor: Any, organization_ids: Collection[Any] | None = None):
        self.actor = actor
        self.organization_ids = None if organization_ids is None else list(organization_ids)

    def restrict(self, queryset: QuerySet, action: str) -> QuerySet:
        if self.actor is None and self.organization_ids is None:
            return queryset.none()
        if self.actor is not None:
            queryset = restrict(queryset, self.actor, action)
        if self.organization_ids is not None:
            queryset = queryset.filter(tenant_q(queryset.model, self.organization_ids))
        return queryset

    def may(self, permission: str | None) -> bool:
        if permission is None or self.actor is None:
            return True
        return authorize(self.actor, permission, None) or restrict_any(self.actor, permission)


def restrict_any(actor: Any, permission: str) -> bool:
    """Whether ``actor`` holds ``permission`` in at least one organization."""
    from apps.core.selectors import organization_list

    return organization_list(actor=actor, action=permission).exists()


_queries: dict[str, WidgetQuery] = {}
_kinds: dict[str, WidgetKind] = {}
_subtree: Callable[[Any], list[Any]] | None = None
_ancestors: Callable[[Any], list[Any]] | None = None


def register_query(query: WidgetQuery) -> None:
    if not QUERY_NAME_RE.match(query.name):
        raise ValueError(f"invalid query name {query.name!r}: expected <app>.<name>")
    if query.shape not in SHAPES:
        raise ValueError(f"query {query.name!r}: unknown shape {query.shape!r}")
    _queries[query.name] = query


def register_widget_kind(kind: WidgetKind) -> None:
    _kinds[kind.name] = kind


def get_query(name: Any) -> WidgetQuery | None:
    return _queries.get(name) if isinstance(name, str) else None


def get_widget_kind(name: Any) -> WidgetKind | None:
    return _kinds.get(name) if isinstance(name, str) else None


def queries() -> list[WidgetQuery]:
    return sorted(_queries.values(), key=lambda q: q.name)


def widget_kinds() -> list[WidgetKind]:
    return list(_kinds.values())


def queries_changed_by(topic_kind: str) -> set[str]:
    """Names of the queries whose results an event of ``topic_kind`` may change."""
    return {q.name for q in _queries.values() if topic_kind in q.topics}


def params_errors(query: WidgetQuery, params: Any) -> dict[str, str]:
    """What is wrong with ``params`` for ``query`` (nothing: ``{}``), by parameter name."""
    if params is None:
        return {}
    if not isinstance(params, dict):
        return {"params": "An object of parameters."}
    errors: dict[str, str] = {}
    for name, value in params.items():
        spec = query.params.get(name)
        if spec is None:
            errors[str(name)[:64]] = f"Unknown parameter of {query.name}."
        elif spec.kind == "choice" and value not in spec.choices:
            errors[name] = f"One of {', '.join(map(str, spec.choices))}."
        elif spec.kind == "int" and (isinstance(value, bool) or not isinstance(value, int)
                                     or not spec.low <= value <= spec.high):
            errors[name] = f"A whole number from {spec.low} to {spec.high}."
        elif spec.kind == "text" and (not isinstance(value, str) or len(value) > 128):
            errors[name] = "Text of at most 128 characters."
    return errors


def run_query(query: WidgetQuery, scope: QueryScope, params: dict[str, Any] | None) -> dict[str, Any]:
    """The result of ``query`` for ``scope``; params must have passed ``params_errors``."""
    values = {name: spec.default for name, spec in query.params.items()}
    values.update(params or {})
    if not scope.may(query.permission):
        return {"forbidden": True}
    return query.run(scope, values)


def install_organization_tree(subtree: Callable[[Any], list[Any]], ancestors: Callable[[Any], list[Any]]) -> None:
    """The app owning organizations tells dashboards an organization's subtree and ancestors (ids)."""
    global _subtree, _ancestors
    _subtree, _ancestors = subtree, ancestors


def organization_subtree(org_id: Any) -> list[Any]:
    return _subtree(org_id) if _subtree else [org_id]


def organization_ancestors(org_id: Any) -> list[Any]:
    """``org_id`` and every organization above it."""
    return _ancestors(org_id) if _ancestors else [org_id]


def register_builtin_widget_kinds() -> None:
    for kind in (
        WidgetKind("stat", "Stat", ("value",), "number"),
        WidgetKind("gauge", "Gauge", ("value",), "gauge"),
        WidgetKind("line", "Line", ("timeseries",), "chart-line"),
        WidgetKind("bar", "Bar", ("categories", "timeseries"), "chart-bar"),
        WidgetKind("pie", "Pie", ("categories",), "chart-pie"),
        WidgetKind("table", "Table", ("table", "categories"), "table"),
        WidgetKind("map", "Map", ("places",), "map-2"),
        WidgetKind("topology", "Topology", ("graph",), "topology-star-3"),
    ):
        register_widget_kind(kind)


# -- helpers for the queries apps register ------------------------------------------------------

def categories_of(rows: Any, key: str, *, limit: int = 20, empty: str = "(none)") -> dict[str, Any]:
    """``rows`` of ``{key: ..., "n": ...}`` (a ``values(key).annotate(n=Count(...))``) as categories."""
    cats = [{"name": str(r[key] or empty), "value": r["n"]} for r in rows]
    cats.sort(key=lambda c: (-c["value"], c["name"]))
    return {"categories": cats[:limit]}
