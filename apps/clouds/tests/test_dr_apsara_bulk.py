"""apsara_dr's bulk reads against cloudsim through the EBS SDK: ``pairs_get`` (what a plan round polls a
batch with) and ``pair_drills`` (what a drill cleanup looks for), and pair actions given the regions
read just before (no second look-up)."""

from __future__ import annotations

import pytest

from apps.clouds.adapters import apsara_dr
from apps.clouds.tests.test_dr_apsara import DEST, REGION, cloud, disk, sim, until  # noqa: F401 (fixtures)


def _pair(cloud, name):  # noqa: F811
    pid = apsara_dr.pair_create(cloud, REGION, source_disk_id=disk(cloud), dest_region=DEST, dest_zone=f"{DEST}-a",
                                rpo_seconds=900, name=name, tags={})
    until(lambda: apsara_dr.pair_get(cloud, REGION, pid)["status"] == "created")
    apsara_dr.pair_start(cloud, REGION, pid)
    until(lambda: apsara_dr.pair_get(cloud, REGION, pid)["status"] == "normal")
    return pid


def test_pairs_get_reads_many_pairs_as_pair_get_does_and_names_a_missing_one(cloud):  # noqa: F811
    pids = [_pair(cloud, f"bulk-{n}") for n in range(3)]
    got = apsara_dr.pairs_get(cloud, REGION, [*pids, "pair-missing"])
    assert set(got) == {*pids, "pair-missing"} and got["pair-missing"] is None
    for pid in pids:
        one = apsara_dr.pair_get(cloud, REGION, pid)
        assert {k: v for k, v in got[pid].items() if k != "last_recovery_point"} == \
            {k: v for k, v in one.items() if k != "last_recovery_point"}


def test_pairs_get_finds_a_reprotected_pair_from_the_other_site(cloud):  # noqa: F811
    pid = _pair(cloud, "bulk-reverse")
    pair = apsara_dr.pairs_get(cloud, REGION, [pid])[pid]
    # The regions read are given: the failover is sent without looking the pair up again.
    apsara_dr.pair_failover(cloud, REGION, pid, source_region=pair["source_region"], dest_region=pair["dest_region"])
    until(lambda: apsara_dr.pair_get(cloud, REGION, pid)["status"] == "failovered")
    apsara_dr.pair_reprotect(cloud, REGION, pid)
    until(lambda: apsara_dr.pair_get(cloud, REGION, pid)["status"] == "stopped")
    back = apsara_dr.pairs_get(cloud, REGION, [pid])[pid]
    assert back is not None and back["direction"] == "reverse" and back["source_region"] == DEST


def test_pair_drills_lists_every_drill_a_pair_still_has(cloud):  # noqa: F811
    pid = _pair(cloud, "bulk-drill")
    assert apsara_dr.pair_drills(cloud, REGION, pid) == []
    drill = apsara_dr.pair_drill_start(cloud, REGION, pid)
    listed = until(lambda: (lambda d: d if d and d[0]["status"] == "executed" else None)(
        apsara_dr.pair_drills(cloud, REGION, pid)))
    assert [d["id"] for d in listed] == [drill] and listed[0]["disk_id"] and listed[0]["region"] == DEST
    assert listed[0] == apsara_dr.pair_drill_get(cloud, REGION, pid, drill)
    apsara_dr.pair_drill_clear(cloud, REGION, pid, drill)
    until(lambda: apsara_dr.pair_drills(cloud, REGION, pid) == [])


def test_a_pair_action_with_wrong_regions_given_is_refused_by_the_cloud(cloud):  # noqa: F811
    pid = _pair(cloud, "bulk-wrong")
    with pytest.raises(Exception) as exc:
        apsara_dr.pair_failover(cloud, REGION, pid, source_region=DEST, dest_region=REGION)
    assert apsara_dr.pair_get(cloud, REGION, pid)["status"] == "normal", exc.value
