"""Protection groups: membership by tag with coverage drift, replication per member, live RPO from the
last replicated point, breach announced within one poll, tenant isolation and refused input."""

from __future__ import annotations

import time

import pytest

from apps.core.errors import Conflict, Forbidden, InvalidInput
from apps.resilience import services
from apps.resilience.models import ProtectedMember, ProtectionGroup
from apps.resilience.tests.conftest import PRIMARY, SECONDARY, make_disks, make_group, wait_replicating

pytestmark = pytest.mark.django_db(transaction=False)


def test_group_by_tag_protects_each_matching_disk_with_its_own_replication_pair(world):
    make_disks(world, 3, tags={"app": "shop"})
    make_disks(world, 1, tags={"app": "other"})
    group = make_group(world)
    members = list(group.members.all())
    assert len(members) == 3
    assert all(m.channel == ProtectedMember.Channel.DISK_PAIR and m.replica_id.startswith("pair-") for m in members)
    assert len({m.replica_id for m in members}) == 3
    state = world["control"].get("/replication")
    pairs = {p["pair_id"]: p for p in state["pairs"]}
    for member in members:
        assert pairs[member.replica_id]["source_disk_id"] == member.external_id
        assert pairs[member.replica_id]["dest_region"] == SECONDARY


def test_setup_run_twice_opens_one_pair_per_member(world):
    make_disks(world, 2, tags={"app": "shop"})
    group = make_group(world)
    services.group_setup(group_id=group.id)
    assert len(world["control"].get("/replication")["pairs"]) == 2


def test_new_matching_resource_joins_or_is_flagged_as_drift(world):
    make_disks(world, 1, tags={"app": "shop"})
    joined = make_group(world)
    flagged = make_group(world, name="flagging", auto_join=False)
    make_disks(world, 1, tags={"app": "shop"})
    assert services.group_refresh_members(group=joined) == {"joined": 1, "flagged": 0, "left": 0}
    assert services.group_refresh_members(group=flagged) == {"joined": 0, "flagged": 1, "left": 0}
    flagged.refresh_from_db()
    assert flagged.drift == 1
    drifted = flagged.members.get(state=ProtectedMember.State.FLAGGED)
    services.member_join(actor=world["operator"], member=drifted)
    flagged.refresh_from_db()
    assert flagged.drift == 0


def test_resource_that_stops_matching_leaves_but_is_kept(world):
    from apps.resources.models import Resource

    disk = make_disks(world, 1, tags={"app": "shop"})[0]
    group = make_group(world)
    Resource.objects.filter(pk=disk.pk).update(tags={"app": "moved"})
    assert services.group_refresh_members(group=group)["left"] == 1
    assert group.members.get().state == ProtectedMember.State.LEFT


def test_another_organizations_resources_are_never_picked_by_tag(world):
    make_disks(world, 2, tags={"app": "shop"}, org=world["other"])
    make_disks(world, 1, tags={"app": "shop"})
    group = make_group(world)
    assert group.members.count() == 1


@pytest.mark.parametrize("lag", [0, 30, 300])
def test_live_rpo_is_within_a_second_of_the_truth(world, lag):
    make_disks(world, 2, tags={"app": "shop"})
    group = make_group(world)
    wait_replicating(group)
    world["control"].post("/replication", {"lag_seconds": lag, "settle": True})
    polled = services.group_poll(group=group)
    truth = {p["pair_id"]: p for p in world["control"].get("/replication")["pairs"]}
    for member in polled.members.all():
        assert abs(member.rpo_seconds - truth[member.replica_id]["rpo_seconds"]) <= 1.0
    assert abs(polled.rpo_seconds - max(p["rpo_seconds"] for p in truth.values())) <= 1.0


def test_stuck_replication_breaches_the_target_within_one_poll_and_is_announced_once(world, monkeypatch):
    announced = []
    monkeypatch.setattr(services, "_announce", lambda group, event, **kw: announced.append(event))
    make_disks(world, 1, tags={"app": "shop"})
    group = make_group(world, target_rpo_seconds=2)
    wait_replicating(group)
    assert services.group_poll(group=group).rpo_breached is False
    pair = group.members.get().replica_id
    world["control"].post("/replication", {"pair_id": pair, "stalled": True})
    time.sleep(3.1)
    polled = services.group_poll(group=group)
    assert polled.rpo_breached is True and polled.rpo_seconds > 2
    services.group_poll(group=group)
    assert announced.count("rpo_breached") == 1
    world["control"].post("/replication", {"pair_id": pair, "stalled": False, "settle": True})
    assert services.group_poll(group=group).rpo_breached is False
    assert announced.count("rpo_recovered") == 1


def test_group_needs_the_write_permission_on_its_organization(world):
    with pytest.raises(Forbidden):
        make_group(world, actor=world["viewer"])
    with pytest.raises(Forbidden):
        make_group(world, actor=world["outsider"])
    assert not ProtectionGroup.objects.exists()


@pytest.mark.parametrize("change, field", [
    ({"name": ""}, "name"),
    ({"secondary_region": PRIMARY, "secondary_zone": f"{PRIMARY}-a"}, "secondary_region"),
    ({"target_rpo_seconds": 0}, "target_rpo_seconds"),
    ({"target_rto_seconds": True}, "target_rto_seconds"),
])
def test_bad_group_input_names_the_field_and_writes_nothing(world, change, field):
    from apps.resilience.tests.conftest import SECONDARY as S

    args = {"actor": world["operator"], "organization": world["hq"], "name": "g", "selection": "tag",
            "tag_key": "app", "tag_value": "shop", "primary_platform": world["platform"], "primary_region": PRIMARY,
            "primary_zone": f"{PRIMARY}-a", "secondary_platform": world["platform"], "secondary_region": S,
            **change}
    with pytest.raises(InvalidInput) as exc:
        services.group_create(**args)
    assert field in exc.value.detail
    assert not ProtectionGroup.objects.exists()


def test_a_setup_does_not_wait_for_the_secondary_disk_and_a_later_one_pairs_the_same_disk(world):
    from alibabacloud_ecs20140526 import models as ecs_models

    from apps.clouds.adapters import adapter_for

    make_disks(world, 2, tags={"app": "shop"})
    world["control"].post("/config", {"provision_seconds": 3})
    group = services.group_create(
        actor=world["operator"], organization=world["hq"], name="unhurried", selection="tag", tag_key="app",
        tag_value="shop", primary_platform=world["platform"], primary_region=PRIMARY, primary_zone=f"{PRIMARY}-a",
        secondary_platform=world["platform"], secondary_region=SECONDARY, secondary_zone=f"{SECONDARY}-a")
    first = services.group_setup(group_id=group.id)
    # Both secondary disks are still being made: no pair yet, both members pending, nothing failed.
    assert first == {"opened": 0, "pending": 2, "failed": 0}
    members = list(group.members.all())
    assert [(m.replica_id, m.replica_status, m.error) for m in members] == [("", "preparing", "")] * 2
    assert world["control"].get("/replication")["pairs"] == []
    deadline = time.monotonic() + 30
    while services.group_setup(group_id=group.id)["pending"] and time.monotonic() < deadline:
        time.sleep(0.2)
    world["control"].post("/config", {"provision_seconds": 0})
    wait_replicating(group)
    # Each member has one pair and the cloud one secondary disk per member: later setups found the first.
    pairs = world["control"].get("/replication")["pairs"]
    assert sorted(p["source_disk_id"] for p in pairs) == sorted(m.external_id for m in members)
    adapter = adapter_for(world["platform"], region=SECONDARY)
    disks = adapter._invoke("ecs", SECONDARY, "describe_disks", ecs_models.DescribeDisksRequest(
        region_id=SECONDARY, page_size=100))["Disks"]["Disk"]
    secondaries = sorted(d["DiskName"] for d in disks if d.get("DiskName", "").endswith("-secondary"))
    assert secondaries == sorted(f"um-{m.id}-secondary" for m in members)


def test_duplicate_name_conflicts(world):
    make_disks(world, 1, tags={"app": "shop"})
    make_group(world)
    with pytest.raises(Conflict):
        make_group(world)


def test_a_pair_still_being_made_is_started_by_a_later_setup(world):
    make_disks(world, 2, tags={"app": "shop"})
    world["control"].post("/config", {"provision_seconds": 0.5})
    group = services.group_create(
        actor=world["operator"], organization=world["hq"], name="slow", selection="tag", tag_key="app",
        tag_value="shop", primary_platform=world["platform"], primary_region=PRIMARY, primary_zone=f"{PRIMARY}-a",
        secondary_platform=world["platform"], secondary_region=SECONDARY, secondary_zone=f"{SECONDARY}-a")
    first = services.group_setup(group_id=group.id)
    assert first["failed"] == 0 and first["opened"] + first["pending"] == 2
    deadline = time.monotonic() + 15
    while services.group_setup(group_id=group.id)["pending"] and time.monotonic() < deadline:
        time.sleep(0.1)
    wait_replicating(group)
    pairs = world["control"].get("/replication")["pairs"]
    assert len(pairs) == 2 and {p["status"] for p in pairs} <= {"normal", "syncing", "initial_syncing"}
