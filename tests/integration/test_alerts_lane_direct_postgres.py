"""The signed ingestion answered below Django's handler, on PostgreSQL (the distributed mode's
database): each kind of request gets the same status, body, headers and audit entry the short way
as through Django's whole handler (the fast tier's ``apps/alerts/tests/test_lane_direct.py``)."""

from __future__ import annotations

from apps.alerts.tests.conftest import fresh_cache, world  # noqa: F401 - fixtures
from apps.alerts.tests.test_lane_direct import *  # noqa: F403 - run here on PostgreSQL
from tests.fixtures import fast_passwords, rbac_scoping  # noqa: F401 - fixtures
