"""Property: after any sequence of cloud-side creates, deletes and changes followed by a sync, the
inventory's live resources are exactly the cloud's, with the cloud's status, name and tags; every
resource that vanished is kept flagged deleted."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.clouds.adapters.base import normal_status
from apps.clouds.simulated import sim_adapter
from apps.clouds.tests.factories import platform as make_platform
from apps.resources.models import Resource
from apps.resources.services import sync_drive, sync_start

pytestmark = pytest.mark.django_db
REGION = "cn-hangzhou"
IMAGE = "centos_7_9_x64_20G_alibase_20230919.vhd"
_names = itertools.count(1)

ANY_STEP = st.one_of(
    st.tuples(st.just("create_instance"), st.integers(0, 2)),
    st.tuples(st.just("delete_instance"), st.integers(0, 50)),
    st.tuples(st.just("stop_instance"), st.integers(0, 50)),
    st.tuples(st.just("rename_instance"), st.integers(0, 50)),
    st.tuples(st.just("tag_instance"), st.integers(0, 50)),
    st.tuples(st.just("create_disk"), st.integers(20, 500)),
    st.tuples(st.just("delete_disk"), st.integers(0, 50)),
    st.tuples(st.just("allocate_eip"), st.integers(1, 100)),
    st.tuples(st.just("release_eip"), st.integers(0, 50)),
    st.tuples(st.just("sync"), st.just(0)),
)
# Changes to what the inventory already holds; small indexes land on the same few resources, so a
# resource is often changed twice between syncs, or changed back.
CHANGE = st.one_of(
    st.tuples(st.sampled_from(["stop_instance", "rename_instance", "tag_instance"]), st.integers(0, 3)),
    st.tuples(st.sampled_from(["delete_instance", "delete_disk", "release_eip"]), st.integers(0, 1)),
)


@st.composite
def histories(draw) -> list[tuple[str, int]]:
    """Resources created and synced, then rounds of changes to those same resources, each ended by a
    sync, then a few steps of any kind. Uniform steps seldom change a resource after a sync has
    recorded it, and a sync that misses such a change would then pass on some seeds."""
    steps = [("create_instance", draw(st.integers(0, 2))) for _ in range(draw(st.integers(1, 2)))]
    steps += draw(st.lists(st.one_of(st.tuples(st.just("create_disk"), st.integers(20, 500)),
                                     st.tuples(st.just("allocate_eip"), st.integers(1, 100))), max_size=2))
    steps.append(("sync", 0))
    for _ in range(draw(st.integers(1, 3))):
        steps += draw(st.lists(CHANGE, min_size=1, max_size=3))
        steps.append(("sync", 0))
    return steps + draw(st.lists(ANY_STEP, max_size=4))


def _pick(control, sim_type: str, index: int, id_field: str):
    rows = control.get(f"/resources?type={sim_type}")["resources"]
    return rows[index % len(rows)][id_field] if rows else None


def _apply(adapter, control, vsw: str, action: str, arg: int, sg: str = "") -> None:
    from alibabacloud_ecs20140526 import models as ecs_models

    if action == "create_instance":
        adapter.create("ecs.instance", REGION, {"instance_type": ("ecs.g6.large", "ecs.c6.large", "ecs.r6.large")[arg],
                                                "image_id": IMAGE, "vswitch_id": vsw, "name": f"p-{next(_names)}",
                                                "security_group_id": sg})
    elif action == "delete_instance" and (iid := _pick(control, "ecs_instance", arg, "InstanceId")):
        adapter.delete("ecs.instance", REGION, iid)
    elif action == "stop_instance" and (iid := _pick(control, "ecs_instance", arg, "InstanceId")):
        status = adapter.get_resource("ecs.instance", REGION, iid).status
        (adapter.stop if status == "running" else adapter.start)("ecs.instance", REGION, iid)
    elif action == "rename_instance" and (iid := _pick(control, "ecs_instance", arg, "InstanceId")):
        adapter._invoke("ecs", REGION, "modify_instance_attribute", ecs_models.ModifyInstanceAttributeRequest(
            instance_id=iid, instance_name=f"renamed-{next(_names)}"))
    elif action == "tag_instance" and (iid := _pick(control, "ecs_instance", arg, "InstanceId")):
        adapter._invoke("ecs", REGION, "tag_resources", ecs_models.TagResourcesRequest(
            region_id=REGION, resource_type="instance", resource_id=[iid],
            tag=[ecs_models.TagResourcesRequestTag(key="env", value=f"v{arg}")]))
    elif action == "create_disk":
        adapter.create("ecs.disk", REGION, {"zone": f"{REGION}-a", "size_gib": arg, "category": "cloud_ssd"})
    elif action == "delete_disk":
        rows = [d for d in control.get("/resources?type=disk")["resources"] if d["Status"] == "Available"]
        if rows:
            adapter.delete("ecs.disk", REGION, rows[arg % len(rows)]["DiskId"])
    elif action == "allocate_eip":
        adapter.create("eip.eip", REGION, {"bandwidth_mbps": arg})
    elif action == "release_eip" and (eid := _pick(control, "eip", arg, "AllocationId")):
        adapter.delete("eip.eip", REGION, eid)


def _cloud(control) -> dict[tuple[str, str], tuple[str, str, dict]]:
    out = {}
    for our, sim_type, id_field, name_field in (
            ("ecs.instance", "ecs_instance", "InstanceId", "InstanceName"), ("ecs.disk", "disk", "DiskId", "DiskName"),
            ("eip.eip", "eip", "AllocationId", "Name"), ("vpc.vpc", "vpc", "VpcId", "VpcName"),
            ("vpc.vswitch", "vswitch", "VSwitchId", "VSwitchName")):
        for row in control.get(f"/resources?type={sim_type}")["resources"]:
            fallback = row.get("IpAddress") if our == "eip.eip" else row[id_field]
            out[(our, row[id_field])] = (normal_status(row.get("Status")), row.get(name_field) or fallback,
                                         row.get("tags") or {})
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(steps=histories())
def test_inventory_agrees_with_the_cloud_after_any_changes_and_a_sync(people, sim, steps):
    from apps.resources.tests.conftest import Control

    control = Control(sim)
    control.post("/reset")
    control.post("/config", {"provision_seconds": 0})
    adapter = sim_adapter(sim.endpoint)
    vpc = adapter.create("vpc.vpc", REGION, {"cidr_block": "192.168.0.0/16"})
    vsw = adapter.create("vpc.vswitch", REGION, {"vpc_id": vpc, "zone": f"{REGION}-a", "cidr_block": "192.168.1.0/24"})
    sg = adapter.create("ecs.security_group", REGION, {"vpc_id": vpc, "name": "prop"})  # an instance needs one
    platform = make_platform(people["hq"], endpoint=sim.endpoint, name=f"prop-{next(_names)}")
    ever_seen: set[tuple[str, str]] = set()
    for action, arg in [*steps, ("sync", 0)]:
        if action == "sync":
            run = sync_drive(run_id=sync_start(actor=None, platform=platform, check=False).id, sleep=False)
            assert run.status == "succeeded", run.error
            cloud = _cloud(control)
            live = {(r.type, r.external_id): (r.status, r.name, r.tags)
                    for r in Resource.objects.filter(platform=platform, deleted=False,
                                                     type__in=["ecs.instance", "ecs.disk", "eip.eip", "vpc.vpc",
                                                               "vpc.vswitch"])}
            assert live == cloud
            ever_seen |= set(live)
            deleted = set(Resource.objects.filter(platform=platform, deleted=True).values_list("type", "external_id"))
            assert deleted == ever_seen - set(live) - {k for k in deleted if k[0] not in
                                                        {"ecs.instance", "ecs.disk", "eip.eip", "vpc.vpc",
                                                         "vpc.vswitch"}}
        else:
            _apply(adapter, control, vsw, action, arg, sg)
