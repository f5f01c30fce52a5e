"""Several resources the cloud has just reported, refreshed together (a poll round's finished operations):
the same rows, owners and announcements as one refresh each, in a number of statements that does not grow
with how many are new."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.clouds.simulated import sim_adapter
from apps.resources import services
from apps.resources.models import Resource, ResourceRelation
from apps.resources.services import resource_refresh, resources_refresh

pytestmark = pytest.mark.django_db
REGION = "cn-hangzhou"


@pytest.fixture
def adapter(sim, control):
    return sim_adapter(sim.endpoint)


def eips(adapter, count: int) -> list[str]:
    return [adapter.create("eip.eip", REGION, {"bandwidth_mbps": 5}) for _ in range(count)]


def test_refreshed_together_as_one_by_one(platform, adapter, people, monkeypatch):
    new, changed, unchanged, gone = eips(adapter, 4)
    for external_id in (changed, unchanged, gone):
        resource_refresh(platform=platform, resource_type="eip.eip", region=REGION, external_id=external_id,
                         adapter=adapter)
    Resource.objects.filter(external_id=changed).update(content_hash="0" * 32)
    adapter.delete("eip.eip", REGION, gone)
    emitted = []
    monkeypatch.setattr(services, "emit", lambda org, topic, payload: emitted.append((org, topic, payload)))
    claim = (people["other"].pk, None)  # the request that made them takes the new and the changed
    reported = [("eip.eip", external_id, adapter.get_resource("eip.eip", REGION, external_id), claimed)
                for external_id, claimed in ((new, claim), (changed, claim), (unchanged, None), (gone, None))]
    reported.append(("eip.eip", "eip-never-known", None, None))
    rows = resources_refresh(platform=platform, reported=reported)
    assert [row.external_id if row else None for row in rows] == [new, changed, unchanged, gone, None]
    assert [row.deleted for row in rows[:4]] == [False, False, False, True]
    assert all(row.organization_id == people["other"].pk and row.assigned_by == "manual" for row in rows[:2])
    stored = {r.external_id: r for r in Resource.objects.filter(platform=platform)}
    assert stored[new].pk == rows[0].pk and stored[new].status == rows[0].status
    assert stored[changed].content_hash != "0" * 32 and stored[gone].deleted
    # What was written is announced, in the order given; the unchanged and the gone are not.
    assert emitted == [(row.organization_id, row.topic, {"event": "resource_changed", "id": row.id,
                                                         "status": row.status}) for row in rows[:2]]
    assert ResourceRelation.objects.filter(source__in=rows[:2]).count() == sum(
        len(cr.relations) for _t, _e, cr, _c in reported[:2])


def test_new_resources_cost_the_same_statements_however_many(platform, adapter):
    def statements(count: int) -> int:
        reported = [("eip.eip", external_id, adapter.get_resource("eip.eip", REGION, external_id), None)
                    for external_id in eips(adapter, count)]
        with CaptureQueriesContext(connection) as captured:
            rows = resources_refresh(platform=platform, reported=reported)
        assert Resource.objects.filter(pk__in=[row.pk for row in rows]).count() == count
        return len(captured.captured_queries)

    assert statements(2) == statements(8)


def test_nothing_reported_reads_nothing(platform):
    with CaptureQueriesContext(connection) as captured:
        assert resources_refresh(platform=platform, reported=[]) == []
    assert captured.captured_queries == []


def test_resources_of_several_types_refreshed_together_find_their_own_rows(platform, adapter):
    """Each type's rows are read by that type's ids: a disk and an EIP known already are changed, not
    added again, and neither is taken for the other."""
    eip = eips(adapter, 1)[0]
    disk = adapter.create("ecs.disk", REGION, {"zone": f"{REGION}-a", "size_gib": 20, "category": "cloud_essd",
                                               "name": "scratch"})
    for resource_type, external_id in (("eip.eip", eip), ("ecs.disk", disk)):
        resource_refresh(platform=platform, resource_type=resource_type, region=REGION, external_id=external_id,
                         adapter=adapter)
    before = {r.external_id: r.pk for r in Resource.objects.filter(platform=platform)}
    Resource.objects.filter(platform=platform).update(content_hash="0" * 32)
    rows = resources_refresh(platform=platform, reported=[
        ("eip.eip", eip, adapter.get_resource("eip.eip", REGION, eip), None),
        ("ecs.disk", disk, adapter.get_resource("ecs.disk", REGION, disk), None)])
    assert [(row.pk, row.type) for row in rows] == [(before[eip], "eip.eip"), (before[disk], "ecs.disk")]
    assert Resource.objects.filter(platform=platform).count() == 2
    assert not Resource.objects.filter(platform=platform, content_hash="0" * 32).exists()
