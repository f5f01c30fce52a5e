"""Fixtures and helpers that the tests of every app may use. An app's ``conftest.py`` brings in the
fixtures it wants by importing them (``from tests.fixtures import rbac_scoping``)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.core import scoping
from apps.rbac.backend import RbacScoping


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    # The real hasher costs ~0.2 s per password by design; these tests are not about hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def rbac_scoping():
    """The backend production installs decides (another app's fixtures may have pinned a different one)."""
    previous = scoping.install_backend(RbacScoping())
    yield
    scoping.install_backend(previous)


def api_as(user: Any) -> APIClient:
    """An API client signed in as ``user`` with a real session (each request loads the user afresh, as in
    production); anonymous for ``None``."""
    client = APIClient()
    if user is not None:
        client.force_login(user)
    return client


def run_coroutine(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """``asyncio.run(coroutine)``, on a thread of its own when this thread already runs an event loop (a
    browser test earlier in the session leaves Playwright's running in the main thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
