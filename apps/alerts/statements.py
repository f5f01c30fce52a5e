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

import itertools
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Model
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery, UpdateQuery

Statement = tuple[str, Sequence[Any]]
# Rows per INSERT, as ``bulk_create(batch_size=1000)`` writes them.
BATCH = 1000
# Up to this many rows an INSERT's text is kept and only its values are prepared (see ``insert``); a
# larger one is compiled by the ORM, which sends its columns as arrays on PostgreSQL (``UNNEST``).
KEPT_ROWS = 16

# ``INSERT`` texts by (dialect, model, number of columns, rows, conflict handling): they depend on nothing else
# (the columns are the model's, less its primary key when that is left to the database). "" when a field
# places its own value: the compiler writes those.
_insert_texts: dict[tuple, str] = {}
# Each model's column list, by dialect, for ``select``.
_columns: dict[tuple, str] = {}
# Per database connection (the converters are bound to it): each model's compiler and converters.
_converters: weakref.WeakKeyDictionary[Any, dict[type[Model], tuple[Any, Any]]] = weakref.WeakKeyDictionary()


TUPLES_OK = 2  # libpq's PGRES_TUPLES_OK (``psycopg.pq.ExecStatus.TUPLES_OK``)
IDLE = 0  # libpq's PQTRANS_IDLE (``psycopg.pq.TransactionStatus.IDLE``): no transaction open


def _in_one_string() -> bool:
    return connection.vendor == "postgresql" and not connection.settings_dict.get("OPTIONS", {}).get(
        "server_side_binding")


# Statements each database session has prepared, by their text: the name to ``EXECUTE``, or None when the text
# cannot be prepared. {driver connection: {text: name}}
_prepared: weakref.WeakKeyDictionary[Any, dict[str, str | None]] = weakref.WeakKeyDictionary()
# Texts a session sent as they are, to prepare when it is next outside a transaction.
_to_prepare: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
# Per session at most this many (texts vary with the number of rows and values); beyond it, sent as they are.
PREPARED_PER_SESSION = 256
_names = itertools.count(1)
_PREPARABLE = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")


def _may_prepare() -> bool:
    """Named prepared statements live in the database session; a pooler that hands one session's statements to
    another (PgBouncer's transaction pooling, for which Django's ``DISABLE_SERVER_SIDE_CURSORS`` is set) would
    not have them."""
    return not connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS")


def _dollars(sql: str) -> str:
    """``sql`` with Django's ``%s`` placeholders as PostgreSQL's ``$1, $2, ...`` and ``%%`` as ``%``."""
    out, n, i = [], 0, 0
    while (j := sql.find("%", i)) >= 0 and j + 1 < len(sql):
        out.append(sql[i:j])
        if sql[j + 1] == "s":
            n += 1
            out.append(f"${n}")
        else:
            out.append(sql[j + 1])
        i = j + 2
    out.append(sql[i:])
    return "".join(out)


def _prepare_waiting(driver: Any) -> None:
    """``PREPARE`` the texts this session sent as they are, each alone and outside any transaction (psycopg in
    autocommit), on the driver's connection: one that cannot be prepared (a parameter whose type PostgreSQL
    cannot tell, say) fails alone and is sent as it is from then on, and Django does not count it as an error
    of its connection."""
    import psycopg

    held = _prepared.setdefault(driver, {})
    for sql in _to_prepare.pop(driver, ()):
        if sql in held or len(held) >= PREPARED_PER_SESSION:
            continue
        name = f"um_alerts_{next(_names)}"
        try:
            driver.execute(f"PREPARE {name} AS {_dollars(sql)}")
        except psycopg.Error:
            name = None
        held[sql] = name


def _as_executed(driver: Any, statements: Sequence[Statement]) -> list[str]:
    """Each statement's text as sent: ``EXECUTE`` of the session's prepared statement when it has one, so
    PostgreSQL does not parse and plan it again (measured: 0.29 ms less server time for the five statements
    of an alert's first string, 0.10 ms for its three writes); else the text, noted to be prepared
    (``_prepare_waiting``)."""
    held = _prepared.get(driver, {})
    out = []
    for sql, params in statements:
        name = held.get(sql)
        if name is not None:
            out.append(f"EXECUTE {name}({', '.join(['%s'] * len(params))})" if params else f"EXECUTE {name}")
            continue
        if sql not in held and sql.lstrip()[:6].upper().startswith(_PREPARABLE):
            waiting = _to_prepare.setdefault(driver, set())
            if len(held) + len(waiting) < PREPARED_PER_SESSION:  # a session that never begins one keeps no more
                waiting.add(sql)
        out.append(sql)
    return out


def _begins_here(driver: Any) -> bool:
    """Whether psycopg would send ``BEGIN`` on its own before the next statement: inside a transaction
    Django opened (``atomic``) that has not reached the database yet, with no isolation level, read-only
    or deferrable mode to put in it."""
    return (connection.in_atomic_block and not driver.autocommit
            and driver.pgconn.transaction_status == IDLE
            and driver.isolation_level is None and driver.read_only is None and driver.deferrable is None)


def _match_autocommit(driver: Any) -> None:
    """Once the transaction a string began has ended (its ``COMMIT`` or a rollback), psycopg's autocommit is
    Django's again, so a statement after it opens its own transaction as Django expects."""
    if driver.autocommit and not connection.get_autocommit() and (
            driver.pgconn.transaction_status == IDLE):
        driver.autocommit = False


def together(statements: Sequence[Statement]) -> list[list[tuple] | None]:
    """Run ``statements`` ((sql, params) each) in order, in one round trip where the database allows it.
    Returns each statement's rows, None for a statement that returns none.

    On PostgreSQL, the first statements of a transaction carry its ``BEGIN`` in the same string (psycopg
    sends it alone otherwise, one round trip more): psycopg is told it is in autocommit until the
    transaction ends, so it sends no ``BEGIN`` of its own, and commits or rolls back what the database says
    is open (Django's commit and rollback at the end of ``atomic`` are unchanged)."""
    out: list[list[tuple] | None] = []
    if not statements:
        return out
    with connection.cursor() as cursor:
        driver = connection.connection if _in_one_string() else None
        begin = driver is not None and _begins_here(driver)
        if driver is not None and (len(statements) > 1 or begin or _may_prepare()):
            if begin:
                driver.autocommit = True
                if _may_prepare() and driver in _to_prepare:
                    _prepare_waiting(driver)
            sqls = _as_executed(driver, statements) if _may_prepare() else [sql for sql, _ in statements]
            if begin:
                sqls.insert(0, "BEGIN")
            cursor.execute("; ".join(sqls), [p for _, params in statements for p in params])
            raw = cursor.cursor
            while True:
                # ``description`` would build every column's description to say whether there are rows.
                result = raw.pgresult
                out.append(raw.fetchall() if result is not None and (result.nfields or result.status == TUPLES_OK)
                           else None)
                if not raw.nextset():
                    break
            if begin:
                out.pop(0)
            _match_autocommit(driver)
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
    columns = _columns.get((connection.vendor, model))
    if columns is None:
        columns = _columns[(connection.vendor, model)] = ", ".join(quote(f.column) for f in model._meta.concrete_fields)
    sql = f"SELECT {columns} FROM {quote(model._meta.db_table)} WHERE {where}"
    if lock and connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    return sql


def instances(model: type[Model], rows: Iterable[tuple]) -> list[Any]:
    """Model instances from the rows of a ``select`` of ``model``, converted as the ORM converts them."""
    conn = connections[DEFAULT_DB_ALIAS]  # ``connection`` looks it up again on every attribute read
    held = _converters.setdefault(conn, {})
    if model not in held:
        # Compiling the model's converters costs more than reading a row: once per connection and model.
        compiler = conn.ops.compiler("SQLCompiler")(model._default_manager.all().query, conn, conn.alias)
        held[model] = (compiler, compiler.get_converters([f.get_col(model._meta.db_table)
                                                          for f in model._meta.concrete_fields]))
    compiler, converters = held[model]
    if converters:
        rows = compiler.apply_converters(rows, converters)
    names = [f.attname for f in model._meta.concrete_fields]
    return [model.from_db(conn.alias, names, list(row)) for row in rows]


def insert(model: type[Model], objs: Sequence[Model], *, ignore_conflicts: bool = False) -> list[Statement]:
    """The INSERT ``bulk_create(objs)`` would run (``ignore_conflicts``: a row that would break a unique
    constraint is left out), as statements for ``together``. Call ``saved`` once they ran."""
    if not objs:
        return []
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not (f.primary_key and getattr(objs[0], f.attname) is None)]
    if len(objs) <= KEPT_ROWS:
        kept = _kept_insert(model, fields, objs, ignore_conflicts)
        if kept is not None:
            return [kept]
    size = max(1, min(BATCH, connection.ops.bulk_batch_size(fields, objs)))
    out: list[Statement] = []
    for start in range(0, len(objs), size):
        query = InsertQuery(model, on_conflict=OnConflict.IGNORE if ignore_conflicts else None)
        query.insert_values(fields, objs[start:start + size], raw=False)
        out += query.get_compiler(connection=connection).as_sql()
    return out


def _kept_insert(model: type[Model], fields: list[Any], objs: Sequence[Model], ignore_conflicts: bool
                 ) -> Statement | None:
    """The INSERT the ORM's compiler writes for a few rows of plain values (``INSERT INTO t (columns)
    VALUES (%s, ...), ... [ON CONFLICT DO NOTHING]``, each value prepared by its field as the compiler
    prepares it), with its text kept: every alert received from outside writes three or four such rows,
    and compiling each statement cost the ORM more than the rest of its dispatch (0.2-0.3 ms of CPU
    apiece, measured). None when a field places its value itself or a value is an expression: then
    the compiler writes it."""
    conn = connections[DEFAULT_DB_ALIAS]
    key = (conn.vendor, model, len(fields), len(objs), ignore_conflicts)
    sql = _insert_texts.get(key)
    if sql == "":
        return None
    params: list[Any] = []
    for obj in objs:
        for f in fields:
            value = f.pre_save(obj, True)
            if hasattr(value, "resolve_expression"):
                return None
            params.append(f.get_db_prep_save(value, connection=conn))
    if sql is None:
        if any(hasattr(f, "get_placeholder") for f in fields):
            _insert_texts[key] = ""
            return None
        quote = conn.ops.quote_name
        on_conflict = OnConflict.IGNORE if ignore_conflicts else None
        row = f"({', '.join(['%s'] * len(fields))})"
        sql = (f"{conn.ops.insert_statement(on_conflict=on_conflict)} {quote(model._meta.db_table)} "
               f"({', '.join(quote(f.column) for f in fields)}) VALUES {', '.join([row] * len(objs))}")
        suffix = conn.ops.on_conflict_suffix_sql(fields, on_conflict, None, None)
        sql = _insert_texts[key] = f"{sql} {suffix}" if suffix else sql
    return sql, params


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

    def flush(self, *, commit: bool = False, reads: Sequence[Statement] = ()) -> list[list[tuple] | None]:
        """``commit``: these are the transaction's last writes and the caller's ``atomic`` block is the
        outermost: on PostgreSQL the ``COMMIT`` goes in the same query string (one round trip less), and
        the block's own commit finds nothing left to commit and runs the on-commit hooks as usual. A
        statement that fails stops the string before its ``COMMIT``, and the block rolls back as usual.

        ``reads`` run after the writes (seeing them), before that ``COMMIT``; their rows are returned."""
        inserts, updates = self._inserts, self._updates
        self._inserts, self._updates = {}, []
        writes = [s for model, objs in inserts.items() for s in insert(model, objs)] + updates
        sent = [*writes, *reads]
        if (commit and sent and _in_one_string() and connection.in_atomic_block and not connection.savepoint_ids
                and not connection.needs_rollback):
            sent.append(("COMMIT", []))
        out = together(sent)
        for objs in inserts.values():
            saved(objs)
        return out[len(writes):len(writes) + len(reads)]
