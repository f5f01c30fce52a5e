"""The clouds and inventory API and console pages: filters, keyset pages at a constant query count,
credentials never returned, bad input refused with 4xx and no change, tenant scoping."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.clouds.models import CloudPlatform
from apps.clouds.secrets import decrypt_json
from apps.clouds.simulated import seed_resources
from apps.resources.models import Resource, SyncRun
from apps.resources.services import sync_drive
from apps.resources.tests.factories import resource
from tests import factories as f
from tests.fixtures import api_as

pytestmark = pytest.mark.django_db


def test_registering_a_platform_stores_credentials_encrypted_and_never_returns_them(people, sim, control):
    client = api_as(people["root"])
    body = {"organization": str(people["hq"].pk), "type": "apsara", "name": "Region A", "endpoint": sim.endpoint,
            "protocol": "http", "default_region": "cn-hangzhou",
            "credentials": {"access_key_id": "cloudsim-access-key", "access_key_secret": "cloudsim-access-secret"}}
    response = client.post("/api/v1/clouds/platforms/", body, format="json")
    assert response.status_code == 201, response.content
    assert b"cloudsim-access-secret" not in response.content and "credentials" not in response.json()
    platform = CloudPlatform.objects.get(pk=response.json()["id"])
    assert "cloudsim-access-secret" not in platform.credentials_encrypted
    assert decrypt_json(platform.credentials_encrypted)["access_key_secret"] == "cloudsim-access-secret"
    test = client.post(f"/api/v1/clouds/platforms/{platform.pk}/test/")
    assert test.status_code == 200 and test.json()["ok"] and test.json()["health"] == "healthy"
    detail = client.get(f"/api/v1/clouds/platforms/{platform.pk}/")
    assert b"secret" not in detail.content.replace(b"access_key_hint", b"")
    regions = client.get(f"/api/v1/clouds/platforms/{platform.pk}/regions/").json()["results"]
    assert {r["region_id"] for r in regions} == {"cn-hangzhou", "cn-shanghai"} and len(regions[0]["zones"]) == 3
    assert client.post("/api/v1/clouds/platforms/", body, format="json").status_code == 409


@pytest.mark.parametrize("change", [
    {"type": "openstack-nope"}, {"name": ""}, {"endpoint": "bad endpoint!"}, {"protocol": "ftp"},
    {"credentials": {"access_key_id": "x"}}, {"credentials": "plain"}, {"organization": "not-a-uuid"},
    {"sync_interval_minutes": -1}, {"projects": ["00000000-0000-0000-0000-000000000000"]},
])
def test_bad_platform_input_is_a_400_and_creates_nothing(people, change):
    body = {"organization": str(people["hq"].pk), "type": "apsara", "name": "X", "endpoint": "127.0.0.1:9",
            "credentials": {"access_key_id": "a", "access_key_secret": "b"}, **change}
    response = api_as(people["root"]).post("/api/v1/clouds/platforms/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert not CloudPlatform.objects.exists()


def test_a_wrong_secret_makes_the_platform_degraded_with_the_clouds_code(people, sim, control):
    from apps.clouds.tests.factories import platform

    p = platform(people["hq"], endpoint=sim.endpoint, access_key_secret="wrong")
    result = api_as(people["root"]).post(f"/api/v1/clouds/platforms/{p.pk}/test/").json()
    assert not result["ok"] and result["health"] == "degraded"
    assert result["error"]["code"] == "SignatureDoesNotMatch"


def test_sync_over_the_api_is_202_then_409_while_running(people, platform, control, sim):
    client = api_as(people["root"])
    response = client.post("/api/v1/resources/syncs/", {"platform": platform.pk}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["operation"]["kind"] == "resources.sync"
    again = client.post("/api/v1/resources/syncs/", {"platform": platform.pk}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "sync_running"
    assert client.post("/api/v1/resources/syncs/", {"platform": "cp-0"}, format="json").status_code == 400
    sync_drive(run_id=response.json()["sync"]["id"], sleep=False)
    history = client.get("/api/v1/resources/syncs/", {"platform": platform.pk}).json()["results"]
    assert history[0]["status"] == "succeeded"


def test_resource_list_filters_and_pages_at_a_constant_query_count(people, platform, control, sim):
    made = seed_resources(sim.endpoint, instances=6)
    from apps.resources.services import sync_start

    sync_drive(run_id=sync_start(actor=None, platform=platform, check=False).id, sleep=False)
    client = api_as(people["root"])
    rows = client.get("/api/v1/resources/resources/", {"type": "ecs.instance"}).json()["results"]
    assert {r["external_id"] for r in rows} == set(made["ecs.instance"])
    assert rows == sorted(rows, key=lambda r: r["id"], reverse=True)
    shop = client.get("/api/v1/resources/resources/", {"tag": "team=shop"}).json()["results"]
    assert len(shop) == 3 and all(r["tags"]["team"] == "shop" for r in shop)
    assert client.get("/api/v1/resources/resources/", {"q": "web-1"}).json()["results"][0]["name"] == "web-1"
    by_id = client.get("/api/v1/resources/resources/", {"q": made["rds.instance"][0]}).json()["results"]
    assert [r["type"] for r in by_id] == ["rds.instance"]
    assert client.get("/api/v1/resources/resources/", {"status": "running", "region": "cn-shanghai"}
                      ).json()["results"] == []
    counted = client.get("/api/v1/resources/resources/", {"count": "true", "service": "vpc"}).json()
    assert counted["count"] == 3
    assert "count" not in client.get("/api/v1/resources/resources/").json()
    assert client.get("/api/v1/resources/resources/", {"tag": "bad key!"}).status_code == 400
    assert client.get("/api/v1/resources/resources/", {"organization": "nope"}).status_code == 400
    assert client.get("/api/v1/resources/resources/", {"cursor": "garbage"}).status_code == 404

    def queries(page_size: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/api/v1/resources/resources/", {"page_size": page_size})
        assert response.status_code == 200
        return len(ctx.captured_queries)

    assert queries(2) == queries(20)
    page = client.get("/api/v1/resources/resources/", {"page_size": 5}).json()
    second = client.get(page["next"]).json()
    assert not {r["id"] for r in page["results"]} & {r["id"] for r in second["results"]}
    one = rows[0]
    relations = client.get(f"/api/v1/resources/resources/{one['id']}/relations/").json()
    assert {e["kind"] for e in relations["outgoing"]} >= {"in_vpc", "in_vswitch"}
    usage = client.get("/api/v1/resources/usage/", {"group_by": "platform,service"}).json()
    ecs = next(r for r in usage["results"] if r["service"] == "ecs")
    assert ecs["platform_name"] == "Sim" and ecs["vcpu"] > 0
    assert client.get("/api/v1/resources/usage/", {"group_by": "color"}).status_code == 400


def test_scoping_members_see_their_organizations_resources_and_unassigned_ones_are_hidden(people, platform):
    alice = f.user("alice", people["other"])
    viewer = f.role("resources:resource:read", "resources:usage:read", key="inventory_reader")
    f.grant(viewer, alice, people["other"])
    mine = resource(platform, organization=people["other"])
    resource(platform, organization=people["hq"])
    resource(platform, organization=None)
    client = api_as(alice)
    rows = client.get("/api/v1/resources/resources/").json()["results"]
    assert [r["id"] for r in rows] == [mine.id]
    usage = client.get("/api/v1/resources/usage/", {"group_by": "organization"}).json()
    assert usage["totals"]["count"] == 1
    assert client.post(f"/api/v1/resources/resources/{mine.id}/assign/", {"organization": None},
                       format="json").status_code == 403
    hidden = Resource.objects.exclude(pk=mine.pk).first()
    assert client.get(f"/api/v1/resources/resources/{hidden.id}/").status_code == 404


def test_console_pages_render(people, platform, control, sim):
    from apps.resources.services import sync_start

    seed_resources(sim.endpoint, instances=2)
    sync_drive(run_id=sync_start(actor=None, platform=platform, check=False).id, sleep=False)
    client = api_as(people["root"])
    row = Resource.objects.filter(type="ecs.instance").first()
    for url in ("/console/clouds/", f"/console/clouds/{platform.pk}/", "/console/clouds/catalog/",
                "/console/inventory/", "/console/inventory/?type=ecs.instance&tag=team%3Dshop",
                f"/console/inventory/{row.id}/", "/console/inventory/usage/?group_by=platform,region"):
        response = client.get(url)
        assert response.status_code == 200, url
    assert b"web-1" in client.get("/console/inventory/").content
    assert client.get("/console/inventory/?cursor=zzz").status_code == 200
    assert client.get("/console/clouds/cp-00000000000000000000/").status_code == 404
    response = client.post(f"/console/clouds/{platform.pk}/", {"action": "schedule", "sync_interval_minutes": "15"},
                           format="multipart")
    assert response.status_code == 302
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name=f"Sync {platform.pk}")
    assert task.interval.every == 15 and task.task.endswith("platform_sync_scheduled_task")
    assert SyncRun.objects.filter(platform=platform).count() == 1
