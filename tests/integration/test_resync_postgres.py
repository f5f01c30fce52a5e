"""On PostgreSQL: a sync of a cloud that did not change writes no inventory row, also with rows of
vanished resources kept as deleted (the same check as the fast tier's, on the production database)."""

from __future__ import annotations

import pytest
from django.db import connection

from apps.resources.tests.conftest import control, people, platform, rbac_scoping, sim  # noqa: F401 - fixtures
from apps.resources.tests.test_resync_unchanged import assert_an_unchanged_resync_writes_nothing

pytestmark = pytest.mark.django_db


def test_an_unchanged_resync_writes_no_row_on_postgresql(platform, control, sim):  # noqa: F811 - fixtures
    assert connection.vendor == "postgresql", "the integration tier runs on PostgreSQL"
    assert_an_unchanged_resync_writes_nothing(platform, control, sim)
