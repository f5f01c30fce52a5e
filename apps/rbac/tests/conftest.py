import pytest
from rest_framework.test import APIClient

from apps.core import scoping
from apps.rbac.backend import RbacScoping


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def rbac_scoping():
    """The RBAC backend decides (another app's fixtures may have pinned a different one)."""
    previous = scoping.install_backend(RbacScoping())
    yield
    scoping.install_backend(previous)


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client
