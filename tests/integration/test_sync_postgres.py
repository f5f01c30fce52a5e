"""On PostgreSQL, where a sync's apply step writes by set-based statements over the staged pages: the
fast tier's sync, apply, ownership and property tests, run again on the production database."""

from __future__ import annotations

import pytest
from django.db import connection

from apps.resources.tests.conftest import control, people, platform, rbac_scoping, sim  # noqa: F401 - fixtures
from apps.resources.tests.test_services_rules import (  # noqa: F401 - collected here
    cloud,
    test_a_manual_assignment_outlives_changes_syncs_and_rules,
)
from apps.resources.tests.test_sync import (  # noqa: F401 - collected here
    test_a_permanent_error_fails_the_sync_with_the_clouds_message_and_changes_nothing,
    test_assignment_rules_give_resources_to_organizations_and_projects,
    test_full_sync_collects_every_supported_type_with_relations,
    test_vanished_resources_are_flagged_deleted_and_keep_their_history,
)
from apps.resources.tests.test_sync_apply import (  # noqa: F401 - collected here
    cloud_platform,
    test_a_resource_listed_on_two_pages_is_one_row_as_the_last_page_saw_it,
    test_changed_vanished_returned_and_manually_assigned_resources,
    test_new_resources_are_written_with_every_field_their_relations_and_an_opaque_id,
)
from apps.resources.tests.test_sync_property import (  # noqa: F401 - collected here
    test_inventory_agrees_with_the_cloud_after_any_changes_and_a_sync,
)

pytestmark = pytest.mark.django_db


def test_the_database_is_postgresql():
    assert connection.vendor == "postgresql", "the integration tier runs on PostgreSQL"
