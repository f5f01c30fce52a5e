"""Fixtures of the alerts tests: two organizations with a platform, resources and people each."""

from __future__ import annotations

from collections.abc import Iterator
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
def world(db) -> Iterator[dict[str, Any]]:
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
    yield out
    # A sender thread may still be writing a try's outcome: on the in-memory database a write beside it (the
    # next test's set-up, the flush of a transactional test) would fail at once ("database table is locked").
    senders_idle()


def senders_idle(timeout: float = 10.0) -> bool:
    """Wait until no sender thread holds a try (and so its outcome is written); False if one still did."""
    from apps.alerts import sender

    _pool, idle = sender._executor()
    taken = 0
    try:
        while taken < sender.THREADS and idle.acquire(timeout=timeout):
            taken += 1
    finally:
        for _ in range(taken):
            idle.release()
    return taken == sender.THREADS
