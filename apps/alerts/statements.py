"""Several statements in one round trip to the database, for the path every alert received from outside takes.

On PostgreSQL each statement is a round trip to another process (about 0.5-0.8 ms apiece on a
loaded machine, more than the statement's own work), and one ingestion until its notification can
leave was eleven of them. ``together`` sends a list of statements as one query string: Django's
psycopg 3 backend binds parameters on the client by default, so the string goes out in PostgreSQL's
simple protocol, where several statements are allowed, run in order (each one seeing what the ones
before it wrote) and answered at once. Elsewhere (SQLite, in the same process, where a round trip
costs nothing; or a PostgreSQL configured with server-side binding) they run one by one: this is the
one place the two dialects part.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection
from django.db.models import Model
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery, UpdateQuery

Statement = tuple[str, Sequence[Any]]
# Rows per INSERT, as ``bulk_create(batch_size=1000)`` writes them.
BATCH = 1000


def _in_one_string() -> bool:
    return connection.vendor == "postgresql" and not connection.settings_dict.get("OPTIONS", {}).get(
        "server_side_binding")


def together(statements: Sequence[Statement]) -> list[list[tuple] | None]:
    """Run ``statements`` ((sql, params) each) in order, in one round trip where the database allows it.
    Returns each statement's rows, None for a statement that returns none."""
    out: list[list[tuple] | None] = []
    if not statements:
        return out
    with connection.cursor() as cursor:
        if _in_one_string() and len(statements) > 1:
            cursor.execute("; ".join(sql for sql, _ in statements), [p for _, params in statements for p in params])
            raw = cursor.cursor
            while True:
                out.append(raw.fetchall() if raw.description is not None else None)
                if not raw.nextset():
                    break
            if len(out) != len(statements):
                raise RuntimeError(f"{len(statements)} statements gave {len(out)} results")
            return out
        for sql, params in statements:
            cursor.execute(sql, params)
            out.append(cursor.fetchall() if cursor.description is not None else None)
    return out


def select(model: type[Model], where: str, *, lock: bool = False) -> str:
    """``SELECT <every column, in field order> FROM <table> WHERE <where>`` (``FOR UPDATE`` with ``lock``
    where the database has it), to read with ``instances``."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in model._meta.concrete_fields)
    sql = f"SELECT {columns} FROM {quote(model._meta.db_table)} WHERE {where}"
    if lock and connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    return sql


def instances(model: type[Model], rows: Iterable[tuple]) -> list[Any]:
    """Model instances from the rows of a ``select`` of ``model``, converted as the ORM converts them."""
    fields = model._meta.concrete_fields
    compiler = connection.ops.compiler("SQLCompiler")(model._default_manager.all().query, connection, connection.alias)
    converters = compiler.get_converters([f.get_col(model._meta.db_table) for f in fields])
    if converters:
        rows = compiler.apply_converters(rows, converters)
    names = [f.attname for f in fields]
    return [model.from_db(connection.alias, names, list(row)) for row in rows]


def insert(model: type[Model], objs: Sequence[Model], *, ignore_conflicts: bool = False) -> list[Statement]:
    """The INSERT ``bulk_create(objs)`` would run (``ignore_conflicts``: a row that would break a unique
    constraint is left out), as statements for ``together``. Call ``saved`` once they ran."""
    if not objs:
        return []
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not (f.primary_key and getattr(objs[0], f.attname) is None)]
    size = max(1, min(BATCH, connection.ops.bulk_batch_size(fields, objs)))
    out: list[Statement] = []
    for start in range(0, len(objs), size):
        query = InsertQuery(model, on_conflict=OnConflict.IGNORE if ignore_conflicts else None)
        query.insert_values(fields, objs[start:start + size], raw=False)
        out += query.get_compiler(connection=connection).as_sql()
    return out


def update(model: type[Model], pk: Any, values: dict[str, Any]) -> Statement:
    """``model.objects.filter(pk=pk).update(**values)`` as a statement for ``together``."""
    query = UpdateQuery(model)
    query.add_update_values(values)
    query.add_filter("pk", pk)
    sql, params = query.get_compiler(connection=connection).as_sql()
    return sql, params


def saved(objs: Iterable[Model]) -> None:
    """Mark ``objs`` as rows of the database (what ``save`` does after its INSERT)."""
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias


class Batch:
    """Writes gathered to go to the database together (``flush``): one INSERT per model, then the UPDATEs,
    in one round trip where the database allows it."""

    def __init__(self) -> None:
        self._inserts: dict[type[Model], list[Model]] = {}
        self._updates: list[Statement] = []

    def insert(self, obj: Model) -> None:
        self._inserts.setdefault(type(obj), []).append(obj)

    def update(self, model: type[Model], pk: Any, values: dict[str, Any]) -> None:
        self._updates.append(update(model, pk, values))

    def flush(self) -> None:
        inserts, updates = self._inserts, self._updates
        self._inserts, self._updates = {}, []
        together([s for model, objs in inserts.items() for s in insert(model, objs)] + updates)
        for objs in inserts.values():
            saved(objs)
