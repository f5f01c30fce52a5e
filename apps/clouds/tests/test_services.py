"""The clouds app's services: registering, changing and removing a platform (who may, what is checked,
what is stored), testing its connection against cloudsim, and discovering what it offers (regions,
zones, services and flavors) — all without the API in between."""

from __future__ import annotations

import pytest

from apps.clouds import services
from apps.clouds.adapters import adapter_class
from apps.clouds.models import CloudPlatform, CloudService, Flavor, PlatformService, Region, Zone
from apps.clouds.secrets import decrypt_json
from apps.clouds.selectors import catalog_tree
from apps.clouds.simulated import sim_connection
from apps.core.errors import Conflict, Forbidden, InvalidInput
from cloudsim.server import CloudSim
from tests import factories as f
from tests.fixtures import fast_passwords, rbac_scoping  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db
CREDENTIALS = {"access_key_id": "LTAI-service-test", "access_key_secret": "service-test-secret"}
REGIONS = ["cn-hangzhou", "cn-shanghai"]


@pytest.fixture(scope="module")
def sim():
    server = CloudSim(port=0, provision_seconds=0.05, regions=REGIONS).start()
    yield server
    server.stop()


@pytest.fixture
def people():
    hq = f.org("HQ")
    branch = f.org("Branch", hq)
    other = f.org("Other")
    admin, viewer, outsider = f.user("admin", hq), f.user("viewer", hq), f.user("outsider", other)
    f.grant(f.role("clouds:platform:*"), admin, hq)
    f.grant(f.role("clouds:platform:read"), viewer, hq)
    f.grant(f.role("clouds:platform:*"), outsider, other)
    return {"hq": hq, "branch": branch, "other": other, "admin": admin, "viewer": viewer, "outsider": outsider}


def create(people, **kw) -> CloudPlatform:
    values = {"actor": people["admin"], "organization": people["hq"], "type": "apsara", "name": "Region A",
              "endpoint": "127.0.0.1:9", "protocol": "http", "credentials": CREDENTIALS, **kw}
    return services.platform_create(**values)


def simulated(people, sim) -> CloudPlatform:
    connection = sim_connection()
    platform = create(people, endpoint=sim.endpoint, credentials=connection["credentials"])
    CloudPlatform.objects.filter(pk=platform.pk).update(apsara_organization_id=connection["organization_id"],
                                                        apsara_resource_set_id=connection["resource_set_id"])
    platform.refresh_from_db()
    return platform


# -- create ------------------------------------------------------------------------------------------


def test_a_registered_platform_keeps_its_credentials_encrypted_with_only_a_hint_in_clear(people):
    platform = create(people, description="Production region", default_region="cn-hangzhou")
    stored = CloudPlatform.objects.get(pk=platform.pk)
    assert stored.organization == people["hq"] and stored.name == "Region A"
    assert CREDENTIALS["access_key_secret"] not in stored.credentials_encrypted
    assert decrypt_json(stored.credentials_encrypted) == CREDENTIALS
    assert stored.access_key_hint == "LTAI…st"


@pytest.mark.parametrize("who", ["viewer", "outsider"])
def test_registering_needs_write_on_the_owning_organization(people, who):
    with pytest.raises(Forbidden):
        create(people, actor=people[who])
    assert not CloudPlatform.objects.exists()


@pytest.mark.parametrize("field, change", [
    ("type", {"type": "no-such-cloud"}),
    ("name", {"name": "  "}),
    ("protocol", {"protocol": "ftp"}),
    ("endpoint", {"endpoint": "file:///etc/passwd"}),
    ("sync_interval_minutes", {"sync_interval_minutes": -1}),
    ("options", {"options": ["not", "an", "object"]}),
    ("credentials.access_key_secret", {"credentials": {"access_key_id": "only-the-id"}}),
])
def test_bad_input_names_the_field_and_registers_nothing(people, field, change):
    with pytest.raises(InvalidInput) as refused:
        create(people, **change)
    assert field in refused.value.detail
    assert not CloudPlatform.objects.exists()


def test_a_name_is_unique_within_its_organization_only(people):
    create(people)
    with pytest.raises(Conflict) as refused:
        create(people)
    assert refused.value.code == "duplicate_name"
    create(people, actor=people["outsider"], organization=people["other"])
    assert CloudPlatform.objects.filter(name="Region A").count() == 2


def test_projects_of_the_organization_or_below_may_use_the_platform_and_no_others(people):
    ours, branchs, theirs = f.project(people["hq"]), f.project(people["branch"]), f.project(people["other"])
    platform = create(people, projects=[ours, branchs])
    assert set(platform.projects.all()) == {ours, branchs}
    with pytest.raises(InvalidInput) as refused:
        create(people, name="Region B", projects=[theirs])
    assert refused.value.detail == {"projects": [str(theirs.pk)]}
    assert not CloudPlatform.objects.filter(name="Region B").exists()


# -- update and delete -------------------------------------------------------------------------------


def test_an_update_changes_the_named_fields_and_replaces_credentials_whole(people):
    platform = create(people, description="before")
    new = {"access_key_id": "LTAI-rotated-key", "access_key_secret": "rotated-secret"}
    services.platform_update(actor=people["admin"], platform=platform, description="after", credentials=new)
    stored = CloudPlatform.objects.get(pk=platform.pk)
    assert (stored.name, stored.description, stored.endpoint) == ("Region A", "after", "127.0.0.1:9")
    assert decrypt_json(stored.credentials_encrypted) == new
    assert stored.access_key_hint == "LTAI…ey"


def test_an_update_refuses_unknown_fields_a_taken_name_and_a_reader(people):
    platform = create(people)
    create(people, name="Region B")
    with pytest.raises(InvalidInput) as refused:
        services.platform_update(actor=people["admin"], platform=platform, credentials_encrypted="x")
    assert refused.value.detail == {"credentials_encrypted": ["not writable"]}
    with pytest.raises(Conflict):
        services.platform_update(actor=people["admin"], platform=CloudPlatform.objects.get(pk=platform.pk),
                                 name="Region B")
    with pytest.raises(Forbidden):
        services.platform_update(actor=people["viewer"], platform=platform, description="mine now")
    assert CloudPlatform.objects.get(pk=platform.pk).name == "Region A"


def test_deleting_a_platform_removes_its_regions_and_catalog(people, sim):
    platform = simulated(people, sim)
    services.platform_discover_regions(platform=platform)
    services.platform_discover_catalog(platform=platform)
    assert Region.objects.filter(platform=platform).exists() and Flavor.objects.filter(platform=platform).exists()
    with pytest.raises(Forbidden):
        services.platform_delete(actor=people["viewer"], platform=platform)
    services.platform_delete(actor=people["admin"], platform=platform)
    assert not CloudPlatform.objects.filter(pk=platform.pk).exists()
    assert not Region.objects.exists() and not Zone.objects.exists()
    assert not Flavor.objects.exists() and not PlatformService.objects.exists()


# -- testing the connection --------------------------------------------------------------------------


def test_a_reachable_platform_is_healthy_and_its_regions_and_zones_are_discovered(people, sim):
    platform = simulated(people, sim)
    result = services.platform_test(actor=people["admin"], platform=platform)
    assert result["ok"] is True and result["health"] == "healthy", result
    assert sorted(result["regions"]) == sorted(REGIONS)
    stored = CloudPlatform.objects.get(pk=platform.pk)
    assert stored.health == CloudPlatform.Health.HEALTHY and stored.health_checked_at is not None
    assert set(Region.objects.filter(platform=platform).values_list("region_id", flat=True)) == set(REGIONS)
    assert Zone.objects.filter(region__platform=platform, region__region_id="cn-hangzhou").exists()


def test_a_wrong_secret_is_reported_with_the_clouds_code_and_the_platform_degraded(people, sim):
    platform = simulated(people, sim)
    services.platform_update(actor=people["admin"], platform=platform, credentials={
        "access_key_id": sim_connection()["credentials"]["access_key_id"], "access_key_secret": "wrong"})
    result = services.platform_test(actor=people["admin"], platform=CloudPlatform.objects.get(pk=platform.pk))
    assert result["ok"] is False and result["health"] == "degraded"
    assert result["error"]["code"] == "SignatureDoesNotMatch"
    assert CloudPlatform.objects.get(pk=platform.pk).health == CloudPlatform.Health.DEGRADED
    assert not Region.objects.filter(platform=platform).exists()


def test_a_platform_nothing_answers_is_unreachable(people):
    platform = create(people, endpoint="127.0.0.1:1")
    result = services.platform_test(actor=people["admin"], platform=platform, timeout=2)
    assert result["ok"] is False and result["health"] == "unreachable"
    assert CloudPlatform.objects.get(pk=platform.pk).health == CloudPlatform.Health.UNREACHABLE


def test_testing_needs_the_operate_permission(people):
    platform = create(people)
    with pytest.raises(Forbidden):
        services.platform_test(actor=people["viewer"], platform=platform)
    assert CloudPlatform.objects.get(pk=platform.pk).health == CloudPlatform.Health.UNKNOWN


# -- the catalog -------------------------------------------------------------------------------------


def test_the_catalog_lists_the_services_the_adapter_offers_and_the_flavors_of_enabled_regions(people, sim):
    platform = simulated(people, sim)
    services.platform_discover_regions(platform=platform)
    counts = services.platform_discover_catalog(platform=platform)
    offered = set(PlatformService.objects.filter(platform=platform).values_list("service_id", flat=True))
    caps = adapter_class("apsara").capabilities
    assert offered == set(caps.services) & set(CloudService.objects.values_list("code", flat=True))
    assert {"ecs", "vpc", "eip", "slb", "rds", "redis", "oss", "mongodb", "polardb", "kms", "ess", "ros", "oos",
            "nas", "dts", "dbs", "apigateway", "kafka", "cr", "ots"} <= offered
    flavors = Flavor.objects.filter(platform=platform)
    assert set(flavors.values_list("region", flat=True)) == set(REGIONS)
    assert flavors.filter(kind=Flavor.Kind.INSTANCE_TYPE, code="ecs.g6.large", vcpu=2).exists()
    assert counts == {"services": len(offered), "flavors": flavors.count(), "regions": len(REGIONS)}


def test_discovering_again_changes_nothing_and_a_disabled_regions_flavors_go(people, sim):
    platform = simulated(people, sim)
    services.platform_discover_regions(platform=platform)
    services.platform_discover_catalog(platform=platform)
    before = sorted(Flavor.objects.filter(platform=platform).values_list("pk", "region", "kind", "code"))
    services.platform_discover_catalog(platform=platform)
    assert sorted(Flavor.objects.filter(platform=platform).values_list("pk", "region", "kind", "code")) == before
    services.region_set_enabled(actor=people["admin"], platform=platform, region_id="cn-shanghai", enabled=False)
    services.platform_discover_catalog(platform=platform)
    assert set(Flavor.objects.filter(platform=platform).values_list("region", flat=True)) == {"cn-hangzhou"}


def test_enabling_a_region_the_platform_does_not_have_is_refused(people):
    platform = create(people)
    with pytest.raises(InvalidInput) as refused:
        services.region_set_enabled(actor=people["admin"], platform=platform, region_id="mars-1", enabled=True)
    assert refused.value.detail == {"region": ["not found"]}
    with pytest.raises(Forbidden):
        services.region_set_enabled(actor=people["viewer"], platform=platform, region_id="mars-1", enabled=True)


def test_the_service_catalog_groups_every_service_under_its_category():
    tree = catalog_tree()
    codes = {s["code"]: s for category in tree for s in category["services"]}
    assert {"ecs", "vpc", "rds", "oss"} <= set(codes)
    assert {"code": "ecs.instance", "name": "ECS instance", "collected": True} in codes["ecs"]["resource_types"]
    assert all(category["name"] for category in tree)
