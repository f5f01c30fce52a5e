"""The embedded mode's SQLite checkpoints, taken off the requests' path (``apps.core.sqlite``)."""

from __future__ import annotations

import os
import sqlite3
import time

import pytest
from django.db import connection

from apps.core.sqlite import WalCheckpointer


def _file_db(path: str) -> sqlite3.Connection:
    """A WAL-mode file whose connection never checkpoints on its own, as the server's connections do."""
    db = sqlite3.connect(path, isolation_level=None)
    assert db.execute("PRAGMA journal_mode=WAL").fetchone() == ("wal",)
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
    return db


def _write(db: sqlite3.Connection, rows: int) -> None:
    for _ in range(rows):
        db.execute("INSERT INTO t (body) VALUES (?)", ("x" * 2000,))


def test_a_checkpoint_moves_the_log_into_the_file(tmp_path):
    path = str(tmp_path / "one.sqlite3")
    db = _file_db(path)
    _write(db, 300)
    before = os.path.getsize(path)
    checkpointer = WalCheckpointer(path)
    try:
        logged, copied = checkpointer.checkpoint()
    finally:
        checkpointer.stop()
    assert logged > 100 and copied == logged
    assert os.path.getsize(path) > before + 300 * 2000
    # The next writer starts the log from its beginning: the file of the log grows no further.
    wal = os.path.getsize(path + "-wal")
    _write(db, 10)
    assert os.path.getsize(path + "-wal") == wal
    assert db.execute("SELECT count(*) FROM t").fetchone() == (310,)
    db.close()


def test_the_thread_checkpoints_what_writers_leave_in_the_log(tmp_path):
    path = str(tmp_path / "two.sqlite3")
    db = _file_db(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = os.path.getsize(path)
    checkpointer = WalCheckpointer(path, interval=0.05).start()
    try:
        _write(db, 200)
        deadline = time.monotonic() + 10
        while os.path.getsize(path) < size + 200 * 2000 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        checkpointer.stop()
    assert os.path.getsize(path) >= size + 200 * 2000
    db.close()


def _autocheckpoint_of_a_new_connection() -> int:
    fresh = connection.copy("scratch")
    try:
        with fresh.cursor() as cursor:
            cursor.execute("PRAGMA wal_autocheckpoint")
            return cursor.fetchone()[0]
    finally:
        fresh.close()


@pytest.mark.django_db
def test_connections_opened_while_it_runs_leave_checkpoints_to_it(tmp_path):
    assert _autocheckpoint_of_a_new_connection() == 1000  # SQLite's default, in every other process
    checkpointer = WalCheckpointer(str(tmp_path / "three.sqlite3"), interval=60).start()
    try:
        assert _autocheckpoint_of_a_new_connection() == 0
        with connection.cursor() as cursor:  # this thread's, opened before the start
            cursor.execute("PRAGMA wal_autocheckpoint")
            assert cursor.fetchone()[0] == 0
    finally:
        checkpointer.stop()
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_autocheckpoint=1000")
    assert _autocheckpoint_of_a_new_connection() == 1000


def test_a_file_it_cannot_read_is_logged_and_tried_again(tmp_path, caplog):
    path = tmp_path / "missing" / "four.sqlite3"
    checkpointer = WalCheckpointer(str(path), interval=0.02).start()
    try:
        deadline = time.monotonic() + 5
        while not any("checkpoint of" in r.getMessage() for r in caplog.records) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert checkpointer._thread is not None and checkpointer._thread.is_alive()
    finally:
        checkpointer.stop()
    assert any("checkpoint of" in r.getMessage() for r in caplog.records)
