"""``apps/alerts/statements``'s tests on PostgreSQL: the INSERT text kept for a few rows is the compiler's there
too (more rows are the compiler's ``UNNEST``), and rows read with a connection's kept converters come back as the
ORM converts them."""

from __future__ import annotations

import pytest

from apps.alerts.tests.conftest import fresh_cache, world  # noqa: F401 - fixtures
from apps.alerts.tests.test_statements import *  # noqa: F403 - run here on PostgreSQL
from tests.fixtures import fast_passwords, rbac_scoping  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)
