from tests.fixtures import api_as, fast_passwords, rbac_scoping  # noqa: F401 (fixtures; api_as for the tests)
