"""Fixtures of the billing tests: people, a platform and a price book."""

from __future__ import annotations

import pytest

from tests.fixtures import api_as, fast_passwords, rbac_scoping  # noqa: F401 (fixtures; api_as for the tests)


@pytest.fixture
def people(db):
    from tests import factories as f

    hq = f.org("HQ")
    other = f.org("Other")
    root = f.user("root", hq, is_superuser=True)
    return {"hq": hq, "other": other, "root": root}


@pytest.fixture
def platform(people):
    from tests import factories as f

    return f.platform(people["hq"], name="Sim")
