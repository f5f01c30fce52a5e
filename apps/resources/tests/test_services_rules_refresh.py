"""Inventory rules around one resource and a run that ends early: a refresh announces the resource it
wrote (unless its caller announces it), and touches only the row of its own platform and type, even
when another platform or another type holds the same external id; a sync cancelled between its steps
ends failed with nothing staged left behind and stops fetching pages ahead."""

from __future__ import annotations

import pytest

from apps.clouds.simulated import seed_resources, sim_adapter
from apps.core.services import operation_cancel
from apps.resources import services
from apps.resources.models import Resource, SyncPage
from apps.resources.services import resource_refresh, sync_start, sync_step
from tests import factories as f

pytestmark = pytest.mark.django_db
REGION = "cn-hangzhou"


@pytest.fixture
def eip(sim, control):
    adapter = sim_adapter(sim.endpoint)
    return adapter, adapter.create("eip.eip", REGION, {"bandwidth_mbps": 5})


def test_a_refresh_announces_the_resource_it_wrote_unless_its_caller_announces_it(platform, eip, monkeypatch):
    adapter, external_id = eip
    emitted = []
    monkeypatch.setattr(services, "emit", lambda org, topic, payload: emitted.append((org, topic, payload)))
    row = resource_refresh(platform=platform, resource_type="eip.eip", region=REGION, external_id=external_id,
                           adapter=adapter)
    assert emitted == [(row.organization_id, row.topic, {"event": "resource_changed", "id": row.id,
                                                         "status": row.status})]
    emitted.clear()  # asked again, the cloud answers the same: nothing written, nothing announced
    resource_refresh(platform=platform, resource_type="eip.eip", region=REGION, external_id=external_id,
                     adapter=adapter)
    assert emitted == []
    Resource.objects.filter(pk=row.pk).update(content_hash="0" * 32)  # stored before a change
    resource_refresh(platform=platform, resource_type="eip.eip", region=REGION, external_id=external_id,
                     adapter=adapter, announce=False)
    assert emitted == []


def test_a_refresh_touches_only_its_own_platform_and_type_under_a_shared_external_id(platform, eip, people):
    adapter, external_id = eip
    elsewhere = f.platform(people["other"], name="Elsewhere")
    stamp = "2025-01-01T00:00:00Z"
    others = [
        Resource.objects.create(platform=elsewhere, type="eip.eip", service="eip", region=REGION,
                                external_id=external_id, name="theirs", content_hash="1" * 32,
                                first_seen_at=stamp, last_changed_at=stamp),
        Resource.objects.create(platform=platform, type="ecs.instance", service="ecs", region=REGION,
                                external_id=external_id, name="another type", content_hash="2" * 32,
                                first_seen_at=stamp, last_changed_at=stamp),
    ]

    def as_stored():
        return list(Resource.objects.filter(pk__in=[r.pk for r in others]).order_by("pk").values_list(
            "pk", "platform_id", "type", "name", "content_hash", "deleted", "last_changed_at"))

    before = as_stored()

    row = resource_refresh(platform=platform, resource_type="eip.eip", region=REGION, external_id=external_id,
                           adapter=adapter)
    assert row.pk not in {r.pk for r in others}
    assert (row.platform_id, row.type, row.external_id) == (platform.pk, "eip.eip", external_id)
    adapter.delete("eip.eip", REGION, external_id)
    gone = resource_refresh(platform=platform, resource_type="eip.eip", region=REGION, external_id=external_id,
                            adapter=adapter)
    assert gone.pk == row.pk and gone.deleted
    assert as_stored() == before
    assert Resource.objects.filter(external_id=external_id).count() == 3


def test_a_sync_cancelled_between_steps_ends_failed_with_nothing_staged_and_stops_fetching(
        platform, control, sim, monkeypatch):
    seed_resources(sim.endpoint, instances=2)
    monkeypatch.setattr(services, "STEP_SECONDS", 0.0)  # one page a step: the run has steps to come
    run = sync_start(actor=None, platform=platform, check=False)
    step = 1
    while not SyncPage.objects.filter(run=run).exists():
        more, _delay, step = sync_step(run_id=run.id, step=step)
        assert more
    assert run.pk in services._feeds  # pages being fetched ahead for the next step
    operation_cancel(operation_id=run.operation_id, actor=None)
    assert sync_step(run_id=run.id, step=step) == (False, 0.0, step)
    run.refresh_from_db()
    assert (run.status, run.error) == ("failed", "Cancelled.") and run.finished_at is not None
    assert not SyncPage.objects.filter(run=run).exists()
    assert run.pk not in services._feeds
