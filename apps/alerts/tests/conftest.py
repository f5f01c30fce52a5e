"""Fixtures of the alerts tests: two organizations with a platform, resources and people each."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache

from tests import factories as f
from tests.fixtures import api_as, fast_passwords, rbac_scoping  # noqa: F401 (fixtures; api_as for the tests)

OPERATOR = ("alerts:*", "resources:resource:read", "menu:console:*")


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()


@pytest.fixture
def world(db) -> dict[str, Any]:
    """Organization A (an operator holding every alerts permission, a platform, three instances) and
    organization B (its own operator, platform and instance)."""
    out: dict[str, Any] = {}
    role = f.role(*OPERATOR)
    for tag in ("a", "b"):
        org = f.org(f"org-{tag}")
        person = f.user(f"ops-{tag}", org)
        f.grant(role, person, org)
        platform = f.platform(org, name=f"cloud-{tag}")
        out[tag] = {"org": org, "user": person, "platform": platform,
                    "resources": [f.resource(platform, organization=org, name=f"{tag}-vm-{i}") for i in range(3)]}
    return out
