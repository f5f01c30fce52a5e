"""Fixtures of the core tests: two unrelated organizations (A with a child department, and B) and
a member of each, plus a platform superuser.

Core's contract is that every read goes through ``restrict``; these tests run under the backend
production installs (``RbacScoping``, from the rbac app), so what they prove holds for the system as
it runs, not only for the foundation's membership backend.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from rest_framework.test import APIClient

from tests import factories as f
from tests.fixtures import api_as, fast_passwords, rbac_scoping  # noqa: F401 (fixtures; api_as for the tests)


@pytest.fixture(autouse=True)
def fresh_cache_and_layer():
    """Sequence numbers, the replay buffer and channel groups do not leak from one test to the next."""
    cache.clear()
    async_to_sync(get_channel_layer().flush)()
    yield
    cache.clear()


@pytest.fixture
def world(db):
    org_a = f.org("Org A")
    dept_a = f.org("Department of A", org_a)
    org_b = f.org("Org B")
    return SimpleNamespace(
        org_a=org_a,
        dept_a=dept_a,
        org_b=org_b,
        alice=f.user("alice", org_a),
        bob=f.user("bob", org_b),
        root=f.user("root", is_superuser=True, is_staff=True),
    )


@pytest.fixture
def alice_api(world) -> APIClient:
    return api_as(world.alice)


@pytest.fixture
def bob_api(world) -> APIClient:
    return api_as(world.bob)


@pytest.fixture
def root_api(world) -> APIClient:
    return api_as(world.root)
