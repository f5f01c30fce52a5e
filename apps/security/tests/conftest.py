from __future__ import annotations

import pytest
from django.core.cache import cache

from apps.core import scoping
from apps.rbac.backend import RbacScoping


@pytest.fixture(autouse=True)
def security_defaults(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    previous = scoping.install_backend(RbacScoping())
    cache.clear()
    yield
    cache.clear()
    scoping.install_backend(previous)
