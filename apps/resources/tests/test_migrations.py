"""The migration dropping the inventory's duplicate indexes goes both ways and leaves every foreign key and
list filter the leading column of an index."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = ("resources", "0001_initial")


def index_columns(table: str) -> list[list[str]]:
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    return [c["columns"] for c in found.values() if c["index"] or c["unique"] or c["primary_key"]]


def leads(table: str, column: str) -> int:
    return sum(1 for columns in index_columns(table) if columns and columns[0] == column)


def migrate(target: tuple[str, str]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


@pytest.mark.django_db(transaction=True)
def test_duplicate_indexes_are_dropped_and_come_back_when_migrated_back():
    assert (leads("resources_resource", "platform_id"), leads("resources_resource", "organization_id"),
            leads("resources_resource", "project_id")) == (2, 1, 1)  # the list's index (+ the unique key)
    assert (leads("resources_resourcerelation", "source_id"),
            leads("resources_resourcerelation", "platform_id")) == (1, 1)
    for column in ("type", "service", "region", "status", "deleted", "name", "external_id", "id"):
        assert leads("resources_resource", column) >= 1, column
    try:
        migrate(BEFORE)
        assert (leads("resources_resource", "platform_id"), leads("resources_resource", "organization_id"),
                leads("resources_resource", "project_id")) == (3, 2, 2)
        assert (leads("resources_resourcerelation", "source_id"),
                leads("resources_resourcerelation", "platform_id")) == (2, 2)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes("resources"))
    assert leads("resources_resource", "platform_id") == 2
