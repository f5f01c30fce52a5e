"""Two platforms that see the same cloud (the same account registered twice, by two teams) keep an
inventory each: a resource collected by one is never taken for the other's."""

from __future__ import annotations

import time

import pytest

from apps.clouds.simulated import seed_resources
from apps.clouds.tests.factories import platform as make_platform
from apps.resources.models import Resource
from apps.resources.tests.test_sync import cloud_state, inventory, run_sync

pytestmark = pytest.mark.django_db


def test_a_resource_another_platform_holds_is_still_new_to_this_one(people, sim, control):
    first = make_platform(people["hq"], endpoint=sim.endpoint, name="Team A")
    second = make_platform(people["hq"], endpoint=sim.endpoint, name="Team B")
    seed_resources(sim.endpoint, instances=2)
    time.sleep(0.3)  # the instances reach their running state
    run_sync(first)
    run_sync(second)
    assert inventory(first) == inventory(second) == set(cloud_state(control))

    # A new instance: the first platform collects it, then the second, which already holds instances
    # (so it looks up what it knows) must still see this one as new to it.
    made = seed_resources(sim.endpoint, instances=1)
    time.sleep(0.3)
    new_id = made["ecs.instance"][0]
    run_sync(first)
    run = run_sync(second)
    assert run.status == "succeeded" and run.created >= 1
    assert ("ecs.instance", new_id) in inventory(second)
    assert Resource.objects.filter(external_id=new_id).values_list("platform_id", flat=True).count() == 2
    assert inventory(first) == inventory(second) == set(cloud_state(control))
