"""The embedded server's SQLite connections, kept for the next request (``apps.core.backends.sqlite3``)."""

from __future__ import annotations

import pytest
from django.db import connection

from apps.core.backends.sqlite3 import base

pytestmark = pytest.mark.django_db  # the blocker refuses any connection, these wrappers' too


@pytest.fixture
def file_db(tmp_path):
    """A wrapper of the project's backend on a database file of its own, with keeping on."""
    wrappers = []

    def make():
        wrapper = base.DatabaseWrapper({**connection.settings_dict, "NAME": str(tmp_path / "kept.sqlite3")},
                                       alias="kept")
        wrappers.append(wrapper)
        return wrapper

    base.keep_connections()
    try:
        yield make, str(tmp_path / "kept.sqlite3")
    finally:
        for wrapper in wrappers:
            wrapper.close()
        base.keep_connections(False)


def _raw(wrapper):
    wrapper.ensure_connection()
    return wrapper.connection


def test_a_closed_connection_is_the_next_one_opened(file_db):
    make, name = file_db
    first = make()
    raw = _raw(first)
    with first.cursor() as cursor:
        cursor.execute("CREATE TABLE t (n INTEGER)")
        cursor.execute("INSERT INTO t VALUES (1)")
    first.close()
    assert base.kept_count(name) == 1
    second = make()
    assert _raw(second) is raw
    assert base.kept_count(name) == 0
    with second.cursor() as cursor:
        cursor.execute("SELECT n FROM t")
        assert cursor.fetchall() == [(1,)]
        cursor.execute("PRAGMA foreign_keys")
        assert cursor.fetchone() == (1,)  # set up as Django sets a connection up


def test_a_transaction_left_open_is_rolled_back_before_the_connection_is_kept(file_db):
    make, name = file_db
    first = make()
    with first.cursor() as cursor:
        cursor.execute("CREATE TABLE t (n INTEGER)")
    raw = _raw(first)
    raw.execute("BEGIN")
    raw.execute("INSERT INTO t VALUES (1)")
    first.close()
    assert not raw.in_transaction
    with make().cursor() as cursor:
        cursor.execute("SELECT count(*) FROM t")
        assert cursor.fetchone() == (0,)


def test_a_connection_that_had_an_error_is_closed_not_kept(file_db):
    make, name = file_db
    first = make()
    with pytest.raises(Exception), first.cursor() as cursor:  # noqa: B017, PT011 - Django's wrapped error
        cursor.execute("SELECT * FROM missing")
    assert first.errors_occurred
    first.close()
    assert base.kept_count(name) == 0


def test_at_most_kept_connections_are_kept(file_db, monkeypatch):
    make, name = file_db
    monkeypatch.setattr(base, "KEPT", 2)
    opened = [make() for _ in range(3)]
    for wrapper in opened:
        _raw(wrapper)
    for wrapper in opened:
        wrapper.close()
    assert base.kept_count(name) == 2


def test_nothing_is_kept_unless_the_process_keeps_connections(tmp_path):
    name = str(tmp_path / "not-kept.sqlite3")
    wrapper = base.DatabaseWrapper({**connection.settings_dict, "NAME": name}, alias="not-kept")
    _raw(wrapper)
    wrapper.close()
    assert base.kept_count(name) == 0


def test_stopping_closes_the_kept_ones(file_db):
    make, name = file_db
    first = make()
    raw = _raw(first)
    first.close()
    assert base.kept_count(name) == 1
    base.keep_connections(False)
    assert base.kept_count(name) == 0
    with pytest.raises(Exception):  # noqa: B017, PT011 - sqlite3's "closed database"
        raw.execute("SELECT 1")
