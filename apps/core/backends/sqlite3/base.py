"""Django's SQLite backend, whose connections to a database file are kept for the process's next requests.

Django's ASGI handler serves each request on a thread made for it and closes that thread's connection when
the request ends (``CONN_MAX_AGE`` cannot help: the thread is gone), so every request that read the database
opened the file again, and SQLite read the whole schema again before its first statement: measured in one
process, the header badge's summary read took 4.25 ms so, against 1.45 ms on an open connection. Here a
connection Django closes goes back to a small pool of this process (rolled back first if a transaction was
left open) and the next one Django opens is taken from it, already open, set up and with the schema read.
A connection that had an error, or is closed inside a transaction block, is closed, not kept; an in-memory
database (the tests') is never kept (Django never closes one). PostgreSQL has its own pool
(``settings.DATABASES``' ``pool``).

Only a process that turned it on (``keep_connections``: the server, ``unimanager.serve``) keeps connections:
elsewhere a database file may be removed or replaced while the process lives (a test database made again,
a copied snapshot), and a kept connection would still read the old one.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from typing import Any

from django.db.backends.sqlite3 import base

# Connections kept per database file and process; more than this many closed at once are closed for good.
KEPT = 8

_lock = threading.Lock()
_kept: dict[tuple[int, str], list[sqlite3.Connection]] = {}
_keeping = False


def keep_connections(on: bool = True) -> None:
    """Keep this process's closed connections from now on (or, ``False``, stop and close the kept ones)."""
    global _keeping
    _keeping = on
    if not on:
        close_kept()


def close_kept() -> None:
    """Close every connection kept by this process."""
    with _lock:
        pools = list(_kept.values())
        _kept.clear()
    for pool in pools:
        for raw in pool:
            raw.close()


def kept_count(database: str) -> int:
    with _lock:
        return len(_kept.get((os.getpid(), str(database)), ()))


class DatabaseWrapper(base.DatabaseWrapper):
    def _pool_key(self, database: Any) -> tuple[int, str] | None:
        if not _keeping or self.is_in_memory_db():
            return None
        return os.getpid(), str(database)  # a forked child opens its own

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        key = self._pool_key(conn_params.get("database"))
        if key is not None:
            with _lock:
                pool = _kept.get(key)
                if pool:
                    return pool.pop()
        return super().get_new_connection(conn_params)

    def _close(self) -> None:
        raw = self.connection
        key = self._pool_key(self.settings_dict["NAME"]) if raw is not None else None
        # Closed inside ``atomic`` (the block still holds it until it ends) or after an error: closed for good.
        if key is not None and not self.errors_occurred and not self.in_atomic_block:
            try:
                if raw.in_transaction:
                    raw.rollback()
            except sqlite3.Error:
                pass
            else:
                with _lock:
                    pool = _kept.setdefault(key, [])
                    if len(pool) < KEPT:
                        pool.append(raw)
                        return
        super()._close()
