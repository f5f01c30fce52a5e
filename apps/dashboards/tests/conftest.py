from tests.fixtures import fast_passwords, rbac_scoping  # noqa: F401 (fixtures)
