"""The predefined operator runs scripts on the instances in its scope and keeps the script library;
a viewer does neither."""

import pytest

from apps.core.scoping import authorize
from apps.provisioning.models import Script
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_an_operator_may_run_scripts_and_write_the_library_a_viewer_may_not():
    hq = f.org("HQ")
    east = f.org("East", hq)
    west = f.org("West", hq)
    platform = f.platform(hq)
    operator, viewer = f.user("ops", east), f.user("looker", east)
    f.grant(f.predefined("operator"), operator, east)
    f.grant(f.predefined("viewer"), viewer, east)
    operator, viewer = f.fresh(operator), f.fresh(viewer)
    mine = f.resource(platform, organization=east)
    theirs = f.resource(platform, organization=west)
    script = Script(organization=east, name="check")

    assert authorize(operator, "ecs:instance:command", mine)
    assert authorize(operator, "provisioning:script:write", script)
    assert not authorize(operator, "ecs:instance:command", theirs)
    assert not authorize(viewer, "ecs:instance:command", mine)
    assert not authorize(viewer, "provisioning:script:write", script)
