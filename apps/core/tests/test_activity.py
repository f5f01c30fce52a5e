"""Activity streams: every operation change is also announced on its organization's activity topic
and on the platform's, which only platform-wide readers may follow (home pages, wall screens)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from apps.core import selectors, services
from apps.core.tests import factories
from apps.core.tests.test_consumers import connected, run, subscribe

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_member_follows_the_activity_of_own_organization_only(world):
    async def scenario():
        socket = await connected(world.alice)
        own = f"activity:{world.org_a.id}"
        foreign = f"activity:{world.org_b.id}"
        assert await subscribe(socket, own) == {"type": "subscribed", "topic": own}
        assert await subscribe(socket, foreign) == {"type": "error", "topic": foreign, "code": "forbidden"}
        assert (await subscribe(socket, "activity:platform"))["code"] == "forbidden"
        assert (await subscribe(socket, "activity:not-a-uuid"))["code"] == "forbidden"
        await socket.disconnect()

    run(scenario)


def test_operation_changes_reach_the_organization_and_platform_streams(world):
    op = factories.operation(world.org_a)
    foreign = factories.operation(world.org_b)

    async def scenario():
        alice = await connected(world.alice)
        root = await connected(world.root)
        await subscribe(alice, f"activity:{world.org_a.id}")
        await subscribe(root, "activity:platform")
        await database_sync_to_async(services.operation_advance)(operation_id=op.id, step=1, progress=10, message="a")
        await database_sync_to_async(services.operation_advance)(
            operation_id=foreign.id, step=1, progress=10, message="b")
        seen_by_alice = await alice.receive_json_from(timeout=2)
        assert seen_by_alice["data"]["id"] == op.id
        assert await alice.receive_nothing(timeout=0.3), "another organization's activity arrived"
        seen_by_root = [(await root.receive_json_from(timeout=2))["data"]["id"] for _ in range(2)]
        assert seen_by_root == [op.id, foreign.id]
        await alice.disconnect()
        await root.disconnect()

    run(scenario)


def test_activity_topics_cover_memberships_with_descendants(world):
    topics = selectors.activity_topics_for(world.alice)
    assert sorted(topics) == sorted([f"activity:{world.org_a.id}", f"activity:{world.dept_a.id}"])
    assert selectors.activity_topics_for(world.root) == ["activity:platform"]
