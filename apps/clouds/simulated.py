"""The simulated Apsara Stack region of the embedded mode, and its demo resources.

``manage.py serve`` calls ``start_embedded_cloudsim`` (unless ``UNIMANAGER_CLOUDSIM=0``): cloudsim
serves on a fixed loopback port (``UNIMANAGER_CLOUDSIM_PORT``, 9100) in a thread, keeping its state
in ``var/cloudsim.json``, and a fresh region gets a small estate so the first sync finds something.
``seed_resources`` builds that estate through the ``apsara`` adapter, as a user of the cloud would.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)


def sim_connection() -> dict[str, Any]:
    """Credentials and connection options of cloudsim's Apsara Stack account (organization and resource set)."""
    from cloudsim.server import (
        APSARA_ACCESS_KEY_ID,
        APSARA_ACCESS_KEY_SECRET,
        APSARA_ORGANIZATION_ID,
        APSARA_RESOURCE_SET_ID,
    )

    return {"credentials": {"access_key_id": APSARA_ACCESS_KEY_ID, "access_key_secret": APSARA_ACCESS_KEY_SECRET},
            "organization_id": APSARA_ORGANIZATION_ID, "resource_set_id": APSARA_RESOURCE_SET_ID}


def sim_adapter(endpoint: str, region: str = "cn-hangzhou", timeout: float = 10.0) -> Any:
    """The apsara adapter as cloudsim's Apsara Stack account, sending its organization and resource set."""
    from apps.clouds.adapters.apsara import ApsaraAdapter

    connection = sim_connection()
    return ApsaraAdapter(endpoint=endpoint, protocol="http", region=region, timeout=timeout,
                         credentials=connection["credentials"],
                         options={"organization_id": connection["organization_id"],
                                  "resource_set_id": connection["resource_set_id"]})


def _wait(adapter: Any, resource_type: str, region: str, external_id: str, statuses: set[str],
          timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = adapter.get_resource(resource_type, region, external_id)
        if found is not None and found.status in statuses:
            return
        time.sleep(0.05)
    raise TimeoutError(f"{resource_type} {external_id} did not reach {statuses}")


def seed_resources(endpoint: str, *, region: str = "cn-hangzhou", instances: int = 6) -> dict[str, list[str]]:
    """A VPC with two vSwitches, a security group, instances with data disks, an EIP on the first
    instance, a load balancer, an RDS and a Redis instance, tagged by team."""
    a = sim_adapter(endpoint, region)
    zone_a, zone_b = f"{region}-a", f"{region}-b"
    made: dict[str, list[str]] = {}
    vpc = a.create("vpc.vpc", region, {"cidr_block": "192.168.0.0/16", "name": "production"})
    _wait(a, "vpc.vpc", region, vpc, {"available"})
    vsw_a = a.create("vpc.vswitch", region, {"vpc_id": vpc, "zone": zone_a, "cidr_block": "192.168.1.0/24",
                                             "name": "web-a"})
    vsw_b = a.create("vpc.vswitch", region, {"vpc_id": vpc, "zone": zone_b, "cidr_block": "192.168.2.0/24",
                                             "name": "db-b"})
    _wait(a, "vpc.vswitch", region, vsw_a, {"available"})
    _wait(a, "vpc.vswitch", region, vsw_b, {"available"})
    sg = a.create("ecs.security_group", region, {"vpc_id": vpc, "name": "web"})
    made.update({"vpc.vpc": [vpc], "vpc.vswitch": [vsw_a, vsw_b], "ecs.security_group": [sg]})
    made["ecs.instance"] = []
    for n in range(instances):
        made["ecs.instance"].append(a.create("ecs.instance", region, {
            "instance_type": ("ecs.g6.large", "ecs.c6.xlarge", "ecs.r6.large")[n % 3],
            "image_id": "centos_7_9_x64_20G_alibase_20230919.vhd", "vswitch_id": vsw_a, "name": f"web-{n + 1}",
            "security_group_id": sg}))
    made["ecs.disk"] = [a.create("ecs.disk", region, {"zone": zone_a, "size_gib": 100, "category": "cloud_essd",
                                                      "name": "data-1"})]
    made["eip.eip"] = [a.create("eip.eip", region, {"bandwidth_mbps": 10})]
    made["slb.instance"] = [a.create("slb.instance", region, {"vswitch_id": vsw_a, "vpc_id": vpc, "name": "front",
                                                              "spec": "slb.s2.small"})]
    made["rds.instance"] = [a.create("rds.instance", region, {
        "engine": "MySQL", "engine_version": "8.0", "class": "mysql.n2.medium.1", "storage_gib": 50,
        "vpc_id": vpc, "vswitch_id": vsw_b, "name": "orders"})]
    made["redis.instance"] = [a.create("redis.instance", region, {"class": "redis.master.small.default",
                                                                  "vpc_id": vpc, "vswitch_id": vsw_b,
                                                                  "name": "sessions"})]
    # Every instance running before it is wired up (and before a caller counts the running ones to
    # place node pools on them: the last ones are made a moment after the first).
    for iid in made["ecs.instance"]:
        _wait(a, "ecs.instance", region, iid, {"running"})
    # The disk and the EIP ready too before they are attached (on a busy machine they may still be creating).
    _wait(a, "ecs.disk", region, made["ecs.disk"][0], {"available"})
    _wait(a, "eip.eip", region, made["eip.eip"][0], {"available"})
    from alibabacloud_ecs20140526 import models as ecs_models
    from alibabacloud_vpc20160428 import models as vpc_models

    a._invoke("vpc", region, "associate_eip_address", vpc_models.AssociateEipAddressRequest(
        allocation_id=made["eip.eip"][0], instance_id=made["ecs.instance"][0], instance_type="EcsInstance"))
    a._invoke("ecs", region, "attach_disk", ecs_models.AttachDiskRequest(
        disk_id=made["ecs.disk"][0], instance_id=made["ecs.instance"][0]))
    for n, iid in enumerate(made["ecs.instance"]):
        a._invoke("ecs", region, "tag_resources", ecs_models.TagResourcesRequest(
            region_id=region, resource_type="instance", resource_id=[iid],
            tag=[ecs_models.TagResourcesRequestTag(key="team", value=("shop", "data")[n % 2])]))
    return made


def start_embedded_cloudsim() -> Any:
    """Serve cloudsim beside the console (embedded mode); ``None`` when it is off or cannot start."""
    if os.environ.get("UNIMANAGER_CLOUDSIM", "1") == "0":
        return None
    from apps.clouds.containers_demo import seed_containers
    from apps.clouds.demo import SIM_PORT
    from apps.clouds.inventory_demo import seed_demo_estate
    from cloudsim.server import CloudSim

    snapshot = str(settings.DATA_DIR / "cloudsim.json")
    try:
        sim = CloudSim(host="127.0.0.1", port=SIM_PORT, provision_seconds=2.0, snapshot_path=snapshot).start()
    except OSError as exc:
        logger.warning("cloudsim could not start on 127.0.0.1:%s (%s); the simulated platform is offline",
                       SIM_PORT, exc)
        return None
    if not any(sim.store.tables["ecs_instance"].values()):
        sim.store.provision_seconds = 0.05
        try:
            seed_resources(sim.endpoint)
            seed_demo_estate(sim.endpoint, store=sim.store)
            seed_containers(sim.endpoint, store=sim.store)
        except Exception:  # noqa: BLE001 - the console must start even if the demo estate cannot be built
            logger.exception("could not seed the simulated region")
        finally:
            sim.store.provision_seconds = 2.0
    return sim
