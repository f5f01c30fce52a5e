"""OSS buckets on cloudsim collected through the ``apsara`` adapter (the OSS SDK): they appear in the
inventory after a sync, in their own region, and are kept as deleted once gone from the cloud."""

from __future__ import annotations

import pytest

from apps.clouds.adapters.apsara import ApsaraAdapter
from apps.clouds.simulated import sim_adapter
from apps.resources.models import Resource, SyncRun
from apps.resources.services import resource_refresh, sync_drive, sync_start

pytestmark = pytest.mark.django_db


def run_sync(platform) -> SyncRun:
    run = sync_start(actor=None, platform=platform, check=False)
    return sync_drive(run_id=run.id, sleep=False)


def buckets(platform, **filters) -> dict[str, Resource]:
    rows = Resource.objects.filter(platform=platform, type="oss.bucket", **filters)
    return {r.external_id: r for r in rows}


def test_the_adapter_declares_buckets():
    caps = ApsaraAdapter.capabilities
    assert "oss.bucket" in caps.resource_types and "oss" in caps.services
    assert caps.supports("oss.bucket", "create") and caps.supports("oss.bucket", "delete")


def test_buckets_appear_after_a_sync_and_are_marked_deleted_when_gone(platform, control, sim):
    adapter = sim_adapter(sim.endpoint)
    assert adapter.create("oss.bucket", "cn-hangzhou", {"name": "app-logs", "acl": "public-read",
                                                        "storage_class": "IA"}) == "app-logs"
    adapter.create("oss.bucket", "cn-hangzhou", {"name": "app-assets"})
    control.post("/bulk", {"type": "bucket", "count": 3, "region_id": "cn-shanghai", "name_prefix": "sh-archive",
                           "storage_class": "Archive"})
    run = run_sync(platform)
    assert run.status == "succeeded", run.error
    live = buckets(platform, deleted=False)
    assert set(live) == {"app-logs", "app-assets", "sh-archive-1", "sh-archive-2", "sh-archive-3"}
    logs = live["app-logs"]
    assert (logs.region, logs.name, logs.status) == ("cn-hangzhou", "app-logs", "available")
    assert logs.spec["storage_class"] == "IA" and logs.spec["acl"] == "public-read"
    assert logs.spec["location"] == "oss-cn-hangzhou" and logs.spec["created_at"].endswith("Z")
    assert live["app-assets"].spec["acl"] == "private"
    assert {live[f"sh-archive-{n}"].region for n in (1, 2, 3)} == {"cn-shanghai"}
    assert live["sh-archive-1"].spec["storage_class"] == "Archive"

    adapter.delete("oss.bucket", "cn-hangzhou", "app-logs")
    assert adapter.get_resource("oss.bucket", "cn-hangzhou", "app-logs") is None
    run = run_sync(platform)
    assert run.status == "succeeded", run.error
    assert run.deleted == 1
    gone = Resource.objects.get(platform=platform, external_id="app-logs")
    assert gone.deleted and gone.deleted_at is not None
    assert set(buckets(platform, deleted=False)) == {"app-assets", "sh-archive-1", "sh-archive-2", "sh-archive-3"}


def test_a_bucket_is_refreshed_on_its_own(platform, control, sim):
    adapter = sim_adapter(sim.endpoint)
    adapter.create("oss.bucket", "cn-hangzhou", {"name": "one-bucket"})
    run_sync(platform)
    adapter.delete("oss.bucket", "cn-hangzhou", "one-bucket")
    row = resource_refresh(platform=platform, resource_type="oss.bucket", region="cn-hangzhou",
                           external_id="one-bucket")
    assert row.deleted


def test_oss_errors_keep_the_services_code(platform, control, sim):
    from apps.clouds.adapters.base import CloudCallError

    adapter = sim_adapter(sim.endpoint)
    adapter.create("oss.bucket", "cn-hangzhou", {"name": "dup-bucket"})
    with pytest.raises(CloudCallError) as err:
        adapter.create("oss.bucket", "cn-hangzhou", {"name": "dup-bucket"})
    assert err.value.code == "BucketAlreadyExists" and err.value.status == 409 and not err.value.transient
    control.post("/faults", {"action": "ListBuckets", "error_rate": 1.0, "code": "ServiceUnavailable", "remaining": 1})
    page = adapter.list_resources("oss.bucket", "cn-hangzhou")
    assert [b.external_id for b in page.items] == ["dup-bucket"]
