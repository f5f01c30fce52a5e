from apps.provisioning.tests.conftest import control, fast_polls, fresh_cache, network, sim, world  # noqa: F401
from tests.fixtures import fast_passwords, rbac_scoping  # noqa: F401 (fixtures)
