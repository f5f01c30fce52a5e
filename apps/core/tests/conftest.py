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

from apps.core import scoping
from apps.core.tests import factories


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    # The real hasher costs ~0.2 s per password by design; these tests are not about hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def production_scoping():
    from apps.rbac.backend import RbacScoping

    previous = scoping.install_backend(RbacScoping())
    yield
    scoping.install_backend(previous)


@pytest.fixture(autouse=True)
def fresh_cache_and_layer():
    """Sequence numbers, the replay buffer and channel groups do not leak from one test to the next."""
    cache.clear()
    async_to_sync(get_channel_layer().flush)()
    yield
    cache.clear()


@pytest.fixture
def world(db):
    org_a = factories.organization("Org A")
    dept_a = factories.organization("Department of A", parent=org_a)
    org_b = factories.organization("Org B")
    return SimpleNamespace(
        org_a=org_a,
        dept_a=dept_a,
        org_b=org_b,
        alice=factories.user("alice", member_of=(org_a,)),
        bob=factories.user("bob", member_of=(org_b,)),
        root=factories.user("root", superuser=True),
    )


def api_as(user) -> APIClient:
    client = APIClient()
    if user is not None:
        # A real session: each request loads the user afresh, as in production.
        client.force_login(user)
    return client


@pytest.fixture
def alice_api(world) -> APIClient:
    return api_as(world.alice)


@pytest.fixture
def bob_api(world) -> APIClient:
    return api_as(world.bob)


@pytest.fixture
def root_api(world) -> APIClient:
    return api_as(world.root)
