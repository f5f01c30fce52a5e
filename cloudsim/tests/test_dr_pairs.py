"""EBS replication pairs in cloudsim, through the official EBS and ECS SDKs: the API's states and the
refusals of actions a state does not allow, the recovery point against the lag knob, bytes moved
(a failback moves only changed blocks), drills, the call log and faults."""

from __future__ import annotations

import time

import pytest
from alibabacloud_ebs20210730 import models as ebs_models
from alibabacloud_ebs20210730.client import Client as EbsClient
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ecs20140526.client import Client as EcsClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from Tea.exceptions import TeaException

from cloudsim.params import Params
from cloudsim.services.ebs import BLOCK, GIB
from cloudsim.tests.conftest import sdk_config, wait_for
from cloudsim.tests.sdk_schema import undefined

PRIMARY, SECONDARY = "cn-hangzhou", "cn-shanghai"
MIB = 1024 * 1024
V = "2021-07-30"


@pytest.fixture
def fast(control):
    control.post("/config", {"provision_seconds": 0.05})
    return control


@pytest.fixture
def clients(sim, fast):
    return {r: (EcsClient(sdk_config(sim, region_id=r)), EbsClient(sdk_config(sim, region_id=r)))
            for r in (PRIMARY, SECONDARY)}


def disk(clients, region: str, size: int = 20) -> str:
    ecs = clients[region][0]
    disk_id = ecs.create_disk(ecs_models.CreateDiskRequest(region_id=region, zone_id=f"{region}-a",
                                                           size=size)).body.disk_id
    wait_for(lambda: ecs.describe_disks(ecs_models.DescribeDisksRequest(
        region_id=region, disk_ids=f'["{disk_id}"]')).body.disks.disk[0].status == "Available")
    return disk_id


def make_pair(clients, size: int = 20) -> tuple[str, str, str]:
    """(pair id, source disk, destination disk), the pair ``created``."""
    source, dest = disk(clients, PRIMARY, size), disk(clients, SECONDARY, size)
    pair_id = clients[PRIMARY][1].create_disk_replica_pair(ebs_models.CreateDiskReplicaPairRequest(
        region_id=PRIMARY, source_zone_id=f"{PRIMARY}-a", disk_id=source, destination_region_id=SECONDARY,
        destination_zone_id=f"{SECONDARY}-a", destination_disk_id=dest, rpo=900, pair_name="orders-db")
    ).body.replica_pair_id
    wait_status(clients, pair_id, "created")
    return pair_id, source, dest


def pair(clients, pair_id: str, region: str = PRIMARY, site: str = "production"):
    body = clients[region][1].describe_disk_replica_pairs(ebs_models.DescribeDiskReplicaPairsRequest(
        region_id=region, pair_ids=pair_id, site=site)).body
    return body.replica_pairs[0] if body.replica_pairs else None


def status_anywhere(clients, pair_id: str) -> str | None:
    for region in (PRIMARY, SECONDARY):
        found = pair(clients, pair_id, region)
        if found is not None:
            return found.status
    return None


def wait_status(clients, pair_id: str, status: str | None) -> None:
    wait_for(lambda: status_anywhere(clients, pair_id) == status, timeout=5)


def code_of(call) -> str:
    with pytest.raises(TeaException) as caught:
        call()
    return caught.value.code


def start(clients, pair_id: str, region: str = PRIMARY):
    return clients[region][1].start_disk_replica_pair(ebs_models.StartDiskReplicaPairRequest(
        region_id=region, replica_pair_id=pair_id))


def stop(clients, pair_id: str, region: str = PRIMARY):
    return clients[region][1].stop_disk_replica_pair(ebs_models.StopDiskReplicaPairRequest(
        region_id=region, replica_pair_id=pair_id))


def failover(clients, pair_id: str, region: str = SECONDARY):
    return clients[region][1].failover_disk_replica_pair(ebs_models.FailoverDiskReplicaPairRequest(
        region_id=region, replica_pair_id=pair_id))


def reprotect(clients, pair_id: str, region: str = SECONDARY):
    return clients[region][1].reprotect_disk_replica_pair(ebs_models.ReprotectDiskReplicaPairRequest(
        region_id=region, replica_pair_id=pair_id))


def delete(clients, pair_id: str, region: str = PRIMARY):
    return clients[region][1].delete_disk_replica_pair(ebs_models.DeleteDiskReplicaPairRequest(
        region_id=region, replica_pair_id=pair_id))


def truth(control, pair_id: str) -> dict:
    return control.get(f"/replication?pair_id={pair_id}")["pairs"][0]


def test_a_pair_goes_through_the_api_states_and_reverses_on_reprotect(clients, fast):
    pair_id, source, dest = make_pair(clients)
    created = pair(clients, pair_id)
    assert (created.source_disk_id, created.destination_disk_id, created.rpo) == (source, dest, 900)
    assert created.last_recover_point is None
    start(clients, pair_id)
    assert pair(clients, pair_id).status == "initial_syncing"
    wait_status(clients, pair_id, "normal")
    assert pair(clients, pair_id).last_recover_point is not None
    assert pair(clients, pair_id, SECONDARY, "backup").replica_pair_id == pair_id  # seen from the secondary
    stop(clients, pair_id)
    assert pair(clients, pair_id).status == "stopping"
    wait_status(clients, pair_id, "stopped")
    failover(clients, pair_id)
    wait_status(clients, pair_id, "failovered")
    reprotect(clients, pair_id)
    wait_status(clients, pair_id, "stopped")
    reversed_ = pair(clients, pair_id, SECONDARY)
    assert (reversed_.source_disk_id, reversed_.source_region, reversed_.destination_disk_id) == (dest, SECONDARY,
                                                                                                 source)
    assert (reversed_.primary_region, reversed_.standby_region) == (PRIMARY, SECONDARY)
    delete(clients, pair_id, SECONDARY)
    wait_status(clients, pair_id, None)


def test_pair_answers_hold_to_the_sdk_models(sim, clients, fast):
    pair_id, _s, _d = make_pair(clients)
    start(clients, pair_id)
    wait_status(clients, pair_id, "normal")
    drill = clients[SECONDARY][1].start_pair_drill(ebs_models.StartPairDrillRequest(
        region_id=SECONDARY, pair_id=pair_id)).body.drill_id
    answers = {
        "DescribeDiskReplicaPairs": ({"RegionId": PRIMARY, "PairIds": pair_id},
                                     ebs_models.DescribeDiskReplicaPairsResponseBody),
        "DescribeDiskReplicaPairProgress": ({"RegionId": PRIMARY, "ReplicaPairId": pair_id},
                                            ebs_models.DescribeDiskReplicaPairProgressResponseBody),
        "DescribePairDrills": ({"RegionId": SECONDARY, "PairId": pair_id, "DrillId": drill},
                               ebs_models.DescribePairDrillsResponseBody),
    }
    for action_name, (params, model) in answers.items():
        body = sim.execute(V, action_name, Params(params))
        assert undefined(model, body) == [], action_name
        assert body  # the answer is not empty


def test_create_refuses_a_bad_pair_and_creates_nothing(clients, fast):
    source, dest = disk(clients, PRIMARY, 20), disk(clients, SECONDARY, 40)
    ebs = clients[PRIMARY][1]

    def create(**kw):
        values = dict(region_id=PRIMARY, source_zone_id=f"{PRIMARY}-a", disk_id=source,
                      destination_region_id=SECONDARY, destination_zone_id=f"{SECONDARY}-a",
                      destination_disk_id=dest, rpo=900)
        values.update(kw)
        return lambda: ebs.create_disk_replica_pair(ebs_models.CreateDiskReplicaPairRequest(**values))

    assert code_of(create()) == "InvalidParameter.DiskSize"
    same = disk(clients, SECONDARY, 20)
    assert code_of(create(destination_disk_id=same, rpo=60)) == "InvalidParameter"
    assert code_of(create(destination_disk_id="d-missing")) == "InvalidDiskId.NotFound"
    assert code_of(create(destination_disk_id=same, disk_id=None)) == "MissingParameter"
    assert ebs.describe_disk_replica_pairs(ebs_models.DescribeDiskReplicaPairsRequest(
        region_id=PRIMARY)).body.replica_pairs == []
    ebs.create_disk_replica_pair(ebs_models.CreateDiskReplicaPairRequest(
        region_id=PRIMARY, source_zone_id=f"{PRIMARY}-a", disk_id=source, destination_region_id=SECONDARY,
        destination_zone_id=f"{SECONDARY}-a", destination_disk_id=same, rpo=900))
    assert code_of(create(destination_disk_id=disk(clients, SECONDARY, 20))) == "OperationDenied.DiskInPair"


# The pair's settled states and what each action leads to; any other action is refused.
ALLOWED = {
    "start": {"created": "normal", "stopped": "normal"},
    "stop": {"normal": "stopped"},
    "failover": {"normal": "failovered", "stopped": "failovered"},
    "reprotect": {"failovered": "stopped"},
    "drill": {"normal": "normal"},
    "delete": {"created": None, "stopped": None, "failovered": None},
}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=st.lists(st.sampled_from(sorted(ALLOWED)), min_size=3, max_size=8))
def test_every_action_a_state_does_not_allow_is_refused_with_the_pair_status_code(clients, fast, actions):
    pair_id, _s, _d = make_pair(clients)
    state, synced, drilled = "created", False, False
    secondary = SECONDARY
    calls = {"start": lambda: start(clients, pair_id, primary_of(secondary)),
             "stop": lambda: stop(clients, pair_id, primary_of(secondary)),
             "failover": lambda: failover(clients, pair_id, secondary),
             "reprotect": lambda: reprotect(clients, pair_id, secondary),
             "delete": lambda: delete(clients, pair_id, primary_of(secondary)),
             "drill": lambda: clients[secondary][1].start_pair_drill(ebs_models.StartPairDrillRequest(
                 region_id=secondary, pair_id=pair_id))}
    for name in actions:
        allowed = state in ALLOWED[name] and not (name == "failover" and not synced) and \
            not (name == "drill" and drilled) and not (name == "delete" and drilled)
        if not allowed:
            before = truth(fast, pair_id)
            code = code_of(calls[name])
            assert code in ("OperationDenied.PairStatus", "OperationDenied.DrillExists"), (name, state, code)
            after = truth(fast, pair_id)
            assert (after["status"], after["source_disk_id"]) == (before["status"], before["source_disk_id"])
            continue
        calls[name]()
        state = ALLOWED[name][state]
        if name == "drill":
            drilled = True
        if name == "start":
            synced = True
        if name == "reprotect":
            synced, secondary = False, primary_of(secondary)
        if state is None:
            wait_status(clients, pair_id, None)
            return
        wait_status(clients, pair_id, state)


def primary_of(secondary: str) -> str:
    return PRIMARY if secondary == SECONDARY else SECONDARY


def test_failover_and_reprotect_must_be_called_in_the_secondary_region(clients, fast):
    pair_id, _s, _d = make_pair(clients)
    start(clients, pair_id)
    wait_status(clients, pair_id, "normal")
    assert code_of(lambda: failover(clients, pair_id, PRIMARY)) == "OperationDenied.RegionNotMatch"
    assert pair(clients, pair_id).status == "normal"


@pytest.mark.parametrize("lag", [0, 30, 300])
def test_the_recovery_point_trails_the_clock_by_the_injected_lag(clients, fast, lag):
    pair_id, _s, _d = make_pair(clients)
    start(clients, pair_id)
    wait_status(clients, pair_id, "normal")
    fast.post("/replication", {"pair_id": pair_id, "lag_seconds": lag, "settle": True})
    for _ in range(3):
        point = pair(clients, pair_id).last_recover_point
        rpo = time.time() - point
        real = truth(fast, pair_id)
        assert real["last_recovery_point"] == point  # the API reports the point cloudsim replicated to
        assert lag <= rpo < lag + 1.05
        time.sleep(0.2)


def test_a_raised_lag_or_a_stalled_pair_lets_the_rpo_grow_instead_of_looking_healthy(clients, fast):
    pair_id, _s, _d = make_pair(clients)
    start(clients, pair_id)
    wait_status(clients, pair_id, "normal")
    time.sleep(1.1)
    fast.post("/replication", {"pair_id": pair_id, "stalled": True})
    frozen = pair(clients, pair_id).last_recover_point
    time.sleep(1.2)
    assert pair(clients, pair_id).last_recover_point == frozen
    assert time.time() - frozen > 1.0
    fast.post("/replication", {"pair_id": pair_id, "stalled": False})
    wait_for(lambda: pair(clients, pair_id).last_recover_point > frozen, timeout=3)
    fast.post("/replication", {"lag_seconds": 300})  # every pair: the point stops until the clock is 300 s past it
    held = pair(clients, pair_id).last_recover_point
    time.sleep(1.2)
    assert pair(clients, pair_id).last_recover_point == held
    fast.post("/replication", {"lag_seconds": 0})


def wait_replicated(control, pair_id: str) -> dict:
    return wait_for(lambda: (lambda t: t if t["pending_bytes"] == 0 else None)(truth(control, pair_id)), timeout=4)


def test_the_first_start_copies_the_disk_and_later_writes_move_as_changed_blocks(clients, fast):
    pair_id, source, _d = make_pair(clients, size=20)
    fast.post("/disks/write", {"disk_id": source, "bytes": 3 * MIB})  # before the first sync: in the full copy
    start(clients, pair_id)
    wait_status(clients, pair_id, "normal")
    assert wait_replicated(fast, pair_id)["bytes_moved"] == 20 * GIB
    fast.post("/disks/write", {"disk_id": source, "bytes": 3 * MIB})
    fast.post("/disks/write", {"disk_id": source, "bytes": 100, "offset": 0})  # one more block, rewritten
    assert wait_replicated(fast, pair_id)["bytes_moved"] == 20 * GIB + 3 * MIB + BLOCK


def test_failback_moves_only_what_changed_since_the_failover(clients, fast):
    pair_id, source, dest = make_pair(clients, size=20)
    start(clients, pair_id)
    wait_status(clients, pair_id, "normal")
    fast.post("/disks/write", {"disk_id": source, "bytes": 8 * MIB})
    before_failover = wait_replicated(fast, pair_id)["bytes_moved"]
    failover(clients, pair_id)
    wait_status(clients, pair_id, "failovered")
    fast.post("/disks/write", {"disk_id": dest, "bytes": 2 * MIB})  # the new primary takes writes
    reprotect(clients, pair_id)
    wait_status(clients, pair_id, "stopped")
    start(clients, pair_id, SECONDARY)
    wait_status(clients, pair_id, "normal")
    after = wait_replicated(fast, pair_id)
    assert after["bytes_moved"] - before_failover == 2 * MIB
    assert after["direction"] == "reverse"


def test_failback_also_overwrites_what_the_old_primary_wrote_after_its_last_recovery_point(clients, fast):
    pair_id, source, dest = make_pair(clients, size=20)
    start(clients, pair_id)
    wait_status(clients, pair_id, "normal")
    fast.post("/replication", {"pair_id": pair_id, "lag_seconds": 60, "settle": True})
    fast.post("/disks/write", {"disk_id": source, "bytes": 4 * MIB})  # never replicated: lost by the failover
    moved = truth(fast, pair_id)["bytes_moved"]
    failover(clients, pair_id)
    wait_status(clients, pair_id, "failovered")
    fast.post("/replication", {"pair_id": pair_id, "lag_seconds": 0})
    fast.post("/disks/write", {"disk_id": dest, "bytes": 1 * MIB, "offset": 64 * MIB})
    reprotect(clients, pair_id)
    wait_status(clients, pair_id, "stopped")
    start(clients, pair_id, SECONDARY)
    wait_status(clients, pair_id, "normal")
    assert wait_replicated(fast, pair_id)["bytes_moved"] - moved == 5 * MIB


def test_the_secondary_of_a_replicating_pair_cannot_be_written(clients, fast):
    pair_id, _s, dest = make_pair(clients)
    start(clients, pair_id)
    status, body = fast.call("POST", "/disks/write", {"disk_id": dest, "bytes": MIB})
    assert (status, body["code"]) == (409, "read_only")
    assert fast.get("/replication")["disk_io"].get(dest) is None


def test_a_drill_makes_a_disk_at_the_secondary_and_writes_nothing_on_the_production_disk(clients, fast):
    pair_id, source, dest = make_pair(clients)
    start(clients, pair_id)
    wait_status(clients, pair_id, "normal")
    since = fast.get("/calls")["last_seq"]
    ebs2 = clients[SECONDARY][1]
    drill_id = ebs2.start_pair_drill(ebs_models.StartPairDrillRequest(region_id=SECONDARY, pair_id=pair_id)
                                     ).body.drill_id

    def drill():
        found = ebs2.describe_pair_drills(ebs_models.DescribePairDrillsRequest(
            region_id=SECONDARY, pair_id=pair_id, drill_id=drill_id)).body.drills
        return found[0] if found else None

    wait_for(lambda: drill().status == "executed" and drill().drill_disk_status == "created")
    drill_disk = drill().drill_disk_id
    assert drill().recover_point <= time.time()
    found = clients[SECONDARY][0].describe_disks(ecs_models.DescribeDisksRequest(
        region_id=SECONDARY, disk_ids=f'["{drill_disk}"]')).body.disks.disk[0]
    assert (found.zone_id, found.size) == (f"{SECONDARY}-a", 20)
    assert code_of(lambda: ebs2.start_pair_drill(ebs_models.StartPairDrillRequest(
        region_id=SECONDARY, pair_id=pair_id))) == "OperationDenied.DrillExists"
    ebs2.clear_pair_drill(ebs_models.ClearPairDrillRequest(region_id=SECONDARY, pair_id=pair_id, drill_id=drill_id))
    wait_for(lambda: drill() is None)
    assert clients[SECONDARY][0].describe_disks(ecs_models.DescribeDisksRequest(
        region_id=SECONDARY, disk_ids=f'["{drill_disk}"]')).body.disks.disk == []
    writes = [c for c in fast.get(f"/calls?since={since}&kind=write")["calls"]]
    assert {c["action"] for c in writes} == {"StartPairDrill", "ClearPairDrill"}
    assert all(source not in c["ids"] and dest not in c["ids"] for c in writes)
    assert any(drill_disk in c["ids"] for c in writes)
    assert pair(clients, pair_id).status == "normal"


def test_the_call_log_names_each_call_its_resources_kind_and_outcome(clients, fast):
    pair_id, source, _d = make_pair(clients)
    since = fast.get("/calls")["last_seq"]
    fast.post("/faults", {"action": "StartDiskReplicaPair", "error_rate": 1.0, "remaining": 1})
    assert code_of(lambda: start(clients, pair_id)) == "ServiceUnavailable"
    assert pair(clients, pair_id).status == "created"
    start(clients, pair_id)
    log = fast.get(f"/calls?since={since}&resource_id={pair_id}")["calls"]
    assert [(c["action"], c["kind"], c["outcome"]) for c in log] == [
        ("StartDiskReplicaPair", "write", "error:ServiceUnavailable"),
        ("DescribeDiskReplicaPairs", "read", "ok"),
        ("StartDiskReplicaPair", "write", "ok"),
    ]
    assert fast.get(f"/calls?since={since}&resource_id={source}")["calls"] == []
    applied = fast.get(f"/calls?since={since}&resource_id={pair_id}&kind=write&applied=1")["calls"]
    assert len(applied) == 1


def test_a_lost_answer_is_applied_and_a_retry_with_the_same_client_token_acts_once(clients, fast):
    pair_id, _s, _d = make_pair(clients)
    start(clients, pair_id)
    wait_status(clients, pair_id, "normal")
    fast.post("/faults", {"action": "StopDiskReplicaPair", "lost_rate": 1.0, "remaining": 1})
    request = ebs_models.StopDiskReplicaPairRequest(region_id=PRIMARY, replica_pair_id=pair_id, client_token="tok-1")
    with pytest.raises(Exception):  # noqa: B017 - the connection is dropped: the SDK raises its own error
        clients[PRIMARY][1].stop_disk_replica_pair(request)
    assert pair(clients, pair_id).status in ("stopping", "stopped")
    clients[PRIMARY][1].stop_disk_replica_pair(request)  # same token: the first answer, no second stop
    log = fast.get(f"/calls?resource_id={pair_id}&action=StopDiskReplicaPair")["calls"]
    assert [c["outcome"] for c in log] == ["lost", "ok"]
    assert code_of(lambda: stop(clients, pair_id)) == "OperationDenied.PairStatus"


def test_bulk_pairs_replicate_at_once_and_fail_over_through_the_api(clients, fast):
    made = fast.post("/replication/bulk", {"count": 3, "region_id": PRIMARY, "dest_region_id": SECONDARY,
                                           "name_prefix": "shop", "tags": {"app": "shop"}})
    assert made["created"] == 3
    first = made["pairs"][0]
    described = pair(clients, first["pair_id"])
    assert (described.status, described.source_disk_id, described.destination_disk_id, described.pair_name) == (
        "normal", first["source_disk_id"], first["dest_disk_id"], "shop-0")
    assert {t.tag_key: t.tag_value for t in described.tags} == {"app": "shop"}
    assert time.time() - described.last_recover_point < 2
    failover(clients, first["pair_id"])
    wait_status(clients, first["pair_id"], "failovered")
    assert [pair(clients, p["pair_id"]).status for p in made["pairs"][1:]] == ["normal", "normal"]
    status, body = fast.call("POST", "/replication/bulk", {"count": 1, "region_id": PRIMARY,
                                                           "zone_id": f"{PRIMARY}-a", "dest_zone_id": f"{PRIMARY}-a"})
    assert status == 400 and "another zone" in body["message"]


def test_the_call_log_filters_by_any_of_many_resource_ids(clients, fast):
    made = fast.post("/replication/bulk", {"count": 3, "region_id": PRIMARY, "dest_region_id": SECONDARY})
    ids = [p["pair_id"] for p in made["pairs"]]
    since = fast.get("/calls")["last_seq"]
    stop(clients, ids[0])
    stop(clients, ids[2])
    found = fast.get(f"/calls?since={since}&kind=write&resource_ids={ids[0]},{ids[1]}")["calls"]
    assert [c["ids"] for c in found] == [[ids[0]]]
