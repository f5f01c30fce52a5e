"""Writes and reads of data sources, and the widget queries that show them (registered in the core
registry by this app like any other app's queries)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import QuerySet

from apps.core.errors import InvalidInput, NotFound
from apps.core.events import emit
from apps.core.scoping import require, restrict
from apps.core.widgets import QueryParam, QueryScope, WidgetQuery, register_query
from apps.dashboards import sources
from apps.dashboards.models import DataSource

READ = "dashboards:datasource:read"
WRITE = "dashboards:datasource:write"
HTTP_CACHE_SECONDS = 30


def data_source_list(*, actor: Any) -> QuerySet[DataSource]:
    return restrict(DataSource.objects.all(), actor, READ)


def data_source_get(*, actor: Any, source_id: Any) -> DataSource:
    row = data_source_list(actor=actor).filter(pk=str(source_id)).first()
    if row is None:
        raise NotFound("Data source not found.")
    return row


def _name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 128:
        raise InvalidInput("name is required (at most 128 characters).", detail={"name": ["Required."]})
    return name.strip()


@transaction.atomic
def data_source_create_http(*, actor: Any, organization: Any, name: Any, url: Any) -> DataSource:
    """An HTTP JSON source; its address is checked now and again on every read (names move)."""
    require(actor, WRITE, DataSource(organization=organization))
    name = _name(name)
    _scheme, host, port, _path = sources.check_url(url)
    try:
        sources.resolve_checked(host, port)
    except sources.SourceRefused as exc:
        raise InvalidInput(f"url: {exc}.", detail={"url": [str(exc)]}) from None
    row = DataSource.objects.create(organization=organization, name=name, kind=DataSource.Kind.HTTP_JSON,
                                    url=url.strip(), created_by=actor if getattr(actor, "pk", None) else None)
    emit(organization, f"datasource:{row.pk}", {"event": "created", "id": row.pk, "name": row.name})
    return row


@transaction.atomic
def data_source_create_table(*, actor: Any, organization: Any, name: Any, file_name: Any, content: Any,
                             content_base64: Any = None) -> DataSource:
    """A table from an uploaded CSV (text) or Excel (.xlsx, base64) file, validated whole: a 400
    naming each bad row and column, and nothing stored."""
    require(actor, WRITE, DataSource(organization=organization))
    name = _name(name)
    if not isinstance(file_name, str) or not file_name.lower().endswith((".csv", ".xlsx")):
        raise InvalidInput("file_name must end in .csv or .xlsx.", detail={"file_name": ["A .csv or .xlsx file."]})
    if content_base64 is not None:
        try:
            data = base64.b64decode(str(content_base64), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput("content_base64 is not base64.", detail={"content_base64": ["Not base64."]}) from None
    elif isinstance(content, str):
        data = content.encode()
    else:
        raise InvalidInput("Send the file as content (CSV text) or content_base64.", detail={"content": ["Required."]})
    if len(data) > sources.MAX_BYTES * 5:
        raise InvalidInput("The file is larger than 5 MB.", detail={"content": ["Too large."]})
    table = sources.table_from_file(name=file_name, content=data)
    row = DataSource.objects.create(organization=organization, name=name, kind=DataSource.Kind.TABLE, table=table,
                                    created_by=actor if getattr(actor, "pk", None) else None)
    emit(organization, f"datasource:{row.pk}", {"event": "created", "id": row.pk, "name": row.name})
    return row


@transaction.atomic
def data_source_delete(*, actor: Any, source: DataSource) -> None:
    require(actor, WRITE, source)
    emit(source.organization_id, f"datasource:{source.pk}", {"event": "deleted", "id": source.pk, "name": source.name})
    source.delete()


def source_rows(source: DataSource) -> tuple[list[str], list[list[Any]]]:
    """(columns, rows) of a source; an HTTP answer is read as a list of objects (or one object)."""
    if source.kind == DataSource.Kind.TABLE:
        return source.table.get("columns", []), source.table.get("rows", [])
    answer = http_answer(source)
    items = answer if isinstance(answer, list) else [answer]
    items = [i for i in items if isinstance(i, dict)][:1000]
    columns: list[str] = []
    for item in items:
        for key in item:
            if key not in columns and len(columns) < sources.MAX_COLUMNS:
                columns.append(str(key))
    return columns, [[_scalar(i.get(c)) for c in columns] for i in items]


def _scalar(value: Any) -> Any:
    return value if isinstance(value, (int, float, str)) or value is None else str(value)[:200]


def http_answer(source: DataSource) -> Any:
    """The JSON of an HTTP source, read at most every ``HTTP_CACHE_SECONDS``."""
    key = f"dash:src:{source.pk}"
    cached = cache.get(key)
    if cached is not None:
        return cached["answer"]
    answer = sources.fetch_json(source.url)
    cache.set(key, {"answer": answer}, timeout=HTTP_CACHE_SECONDS)
    return answer


def _source(scope: QueryScope, params: dict[str, Any]) -> DataSource | None:
    return scope.restrict(DataSource.objects.all(), READ).filter(pk=params.get("source") or "").first()


def _column(columns: list[str], name: str) -> int | None:
    return columns.index(name) if name in columns else None


def source_value(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    """An HTTP source: the number at ``field`` (a dotted path). A table: the sum of column ``field``,
    or its number of rows when ``field`` is empty."""
    source = _source(scope, params)
    if source is None:
        return {"value": None, "total": None}
    if source.kind == DataSource.Kind.HTTP_JSON:
        value = sources.pick(http_answer(source), params["field"])
        return {"value": value if isinstance(value, (int, float)) and not isinstance(value, bool) else None,
                "total": None}
    columns, rows = source_rows(source)
    index = _column(columns, params["field"])
    if index is None:
        return {"value": len(rows), "total": None}
    return {"value": sum(r[index] for r in rows if isinstance(r[index], (int, float))), "total": None}


def source_categories(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    """Rows grouped by column ``label``, summing column ``value`` (counting rows when it is empty)."""
    source = _source(scope, params)
    if source is None:
        return {"categories": []}
    columns, rows = source_rows(source)
    label, value = _column(columns, params["label"]), _column(columns, params["value"])
    totals: dict[str, float] = {}
    for row in rows:
        name = str(row[label]) if label is not None and row[label] is not None else "(none)"
        amount = row[value] if value is not None and isinstance(row[value], (int, float)) else (0 if value else 1)
        totals[name] = totals.get(name, 0) + amount
    cats = sorted(({"name": k, "value": v} for k, v in totals.items()), key=lambda c: (-c["value"], c["name"]))
    return {"categories": cats[:50]}


def source_table(scope: QueryScope, params: dict[str, Any]) -> dict[str, Any]:
    source = _source(scope, params)
    if source is None:
        return {"columns": [], "rows": []}
    columns, rows = source_rows(source)
    return {"columns": columns, "rows": [["" if c is None else c for c in r] for r in rows[: params["limit"]]]}


def register() -> None:
    source = QueryParam("text", "", label="Data source id")
    for query in (
        WidgetQuery("dashboards.source_value", "Data source: one number", "value", source_value,
                    {"source": source, "field": QueryParam("text", "", label="Field (path or column)")},
                    topics=("datasource",), permission=READ),
        WidgetQuery("dashboards.source_categories", "Data source: grouped", "categories", source_categories,
                    {"source": source, "label": QueryParam("text", "", label="Label column"),
                     "value": QueryParam("text", "", label="Value column")}, topics=("datasource",), permission=READ),
        WidgetQuery("dashboards.source_table", "Data source: table", "table", source_table,
                    {"source": source, "limit": QueryParam("int", 20, low=1, high=200, label="Rows")},
                    topics=("datasource",), permission=READ),
    ):
        register_query(query)
