"""Builders for tests, gathered in one module that the tests of every app may use.

Each builder lives with its model, in its app's ``tests/factories.py``, and uses only builders of
apps below it. An app's tests never import a later app directly (``tests/test_import_direction.py``):
when they need a later app's objects (a grant for the person an organizations test acts as, a
platform for an RBAC scope), they build them through this module, which stands for the assembled
project as ``unimanager`` does.
"""

from apps.clouds.tests.factories import platform
from apps.core.tests.factories import operation
from apps.organizations.tests.factories import fresh, group, leave, org, project, user
from apps.rbac.tests.factories import grant, predefined, role
from apps.resources.tests.factories import resource
from apps.security.tests.factories import password_policy

__all__ = ["fresh", "grant", "group", "leave", "operation", "org", "password_policy", "platform", "predefined",
           "project", "resource", "role", "user"]
