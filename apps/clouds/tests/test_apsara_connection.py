"""How the apsara adapter reaches an Apsara Stack: Apsara headers on every product, an ASAPI gateway,
``{region}`` endpoint templates, a private CA or no certificate check, OSS clusters, and STS
credentials refreshed before they expire; all against cloudsim in strict mode."""

from __future__ import annotations

import datetime
import ipaddress
import itertools
import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from apps.clouds.adapters.apsara import ApsaraAdapter
from apps.clouds.adapters.apsara_connection import AssumedRole, Connection
from apps.clouds.adapters.base import CloudCallError
from apps.clouds.simulated import sim_connection
from cloudsim.server import CloudSim

REGION = "cn-hangzhou"
ROLE = "acs:ram::1000000000000000:role/unimanager-collector"
_names = itertools.count(1)


def control(sim: CloudSim, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(f"http://{sim.endpoint}/_cloudsim{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def adapter(sim_endpoint: str, *, protocol: str = "http", credentials: dict[str, str] | None = None,
            **options: Any) -> ApsaraAdapter:
    connection = sim_connection()
    options = {"organization_id": connection["organization_id"], "resource_set_id": connection["resource_set_id"],
               **options}
    return ApsaraAdapter(endpoint=sim_endpoint, protocol=protocol, region=REGION, timeout=10,
                         credentials={**connection["credentials"], **(credentials or {})},
                         options={k: v for k, v in options.items() if v is not None})


@pytest.fixture(scope="module")
def sim():
    server = CloudSim(port=0, provision_seconds=0.05, regions=[REGION, "cn-shanghai"],
                      oss_clusters={REGION: "oss-cn-hangzhou-a"}).start()
    yield server
    server.stop()


# -- Apsara headers --------------------------------------------------------------------------------


def test_every_product_carries_the_organization_and_resource_set(sim):
    assert all(check["ok"] for check in adapter(sim.endpoint).probe())
    refused = adapter(sim.endpoint, organization_id=None).probe()
    assert {c["product"] for c in refused} == {"ecs", "vpc", "slb", "rds", "redis", "cms", "oss"}
    assert {(c["ok"], c["code"]) for c in refused} == {(False, "MissingParameter")}
    wrong = adapter(sim.endpoint, resource_set_id="201").probe()
    assert {(c["ok"], c["code"]) for c in wrong} == {(False, "InvalidResourceGroup.NotFound")}


# -- endpoints -------------------------------------------------------------------------------------


def test_region_templates_fill_every_product_and_an_unknown_placeholder_is_refused():
    connection = Connection.from_options("https://{region}.pop.example.com", "https", {
        "endpoints": {"ecs": "ecs-internal.{region}.example.com", "oss": "{cluster}.example.com"},
        "oss_clusters": {REGION: ["oss-cn-hangzhou-a"]}})
    assert connection.target("ecs", REGION).host == "ecs-internal.cn-hangzhou.example.com"
    for product in ("vpc", "slb", "rds", "redis", "cms", "sts"):
        target = connection.target(product, "cn-shanghai")
        assert (target.host, target.protocol, target.path) == ("cn-shanghai.pop.example.com", "https", "")
    assert connection.oss_endpoint(REGION) == "https://oss-cn-hangzhou-a.example.com"
    with pytest.raises(CloudCallError) as exc:
        Connection.from_options("{zone}.example.com", "https", {}).target("ecs", REGION)
    assert exc.value.code == "InvalidEndpointTemplate"


def test_a_product_endpoint_is_used_instead_of_the_platforms(sim):
    a = adapter("127.0.0.1:1", endpoints={"vpc": f"http://{sim.endpoint}", "oss": f"http://{sim.endpoint}"})
    assert isinstance(list(a.iter_resources("vpc.vpc", REGION)), list)
    assert isinstance(list(a.iter_resources("oss.bucket", REGION)), list)
    with pytest.raises(CloudCallError) as exc:
        a.regions()  # ECS has no endpoint of its own: the platform's, which nothing answers
    assert exc.value.code == "ConnectionError"


def test_an_asapi_gateway_carries_every_product_with_its_name(sim):
    before = control(sim, "GET", "/stats")["asapi_calls"]
    a = adapter("", gateway=sim.endpoint, endpoints={"oss": f"http://{sim.endpoint}"})
    checks = a.probe()
    assert all(c["ok"] for c in checks), checks
    openapi = [c for c in checks if c["product"] != "oss"]
    assert control(sim, "GET", "/stats")["asapi_calls"] - before == len(openapi)
    assert [r.region_id for r in a.regions()] == [REGION, "cn-shanghai"]


# -- OSS clusters ----------------------------------------------------------------------------------


def test_buckets_in_a_cluster_of_the_region_are_collected(sim):
    a = adapter(sim.endpoint)
    name = f"cluster-bucket-{next(_names)}"
    a.create("oss.bucket", REGION, {"name": name})
    found = {b.external_id: b for b in a.iter_resources("oss.bucket", REGION)}
    assert found[name].spec["location"] == "oss-cn-hangzhou-a"
    assert name not in {b.external_id for b in a.iter_resources("oss.bucket", "cn-shanghai")}
    other = adapter(sim.endpoint, oss_clusters={REGION: ["oss-cn-hangzhou-finance"]})
    assert name not in {b.external_id for b in other.iter_resources("oss.bucket", REGION)}
    a.delete("oss.bucket", REGION, name)


def test_a_cluster_suffix_belongs_to_its_region_only():
    connection = Connection.from_options("", "https", {})
    assert connection.holds_bucket(REGION, "oss-cn-hangzhou")
    assert connection.holds_bucket(REGION, "oss-cn-hangzhou-a")
    assert not connection.holds_bucket(REGION, "oss-cn-hangzhou-finance")
    assert not connection.holds_bucket(REGION, "oss-cn-shanghai")


# -- TLS -------------------------------------------------------------------------------------------


def _certificate(subject: str, key: Any, issuer: x509.Name, issuer_key: Any, *, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(issuer).public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def private_ca(tmp_path_factory) -> dict[str, Any]:
    """A private CA and a server certificate it signed for 127.0.0.1, as an Apsara Stack has."""
    folder: Path = tmp_path_factory.mktemp("ca")
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Apsara Stack test CA")])
    ca_cert = _certificate("Apsara Stack test CA", ca_key, ca_name, ca_key, ca=True)
    server_cert = _certificate("127.0.0.1", server_key, ca_name, ca_key, ca=False)
    (folder / "server.pem").write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    (folder / "server.key").write_bytes(server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return {"pem": ca_cert.public_bytes(serialization.Encoding.PEM).decode(),
            "cert": str(folder / "server.pem"), "key": str(folder / "server.key")}


def tls_sim(private_ca: dict[str, Any]) -> CloudSim:
    return CloudSim(port=0, provision_seconds=0.05, regions=[REGION],
                    tls=(private_ca["cert"], private_ca["key"])).start()


def test_a_private_ca_bundle_is_trusted_for_openapi_and_oss(private_ca):
    sim = tls_sim(private_ca)
    try:
        a = adapter(sim.endpoint, protocol="https", ca_bundle=private_ca["pem"])
        assert [r.region_id for r in a.regions()] == [REGION]
        assert list(a.iter_resources("oss.bucket", REGION)) == []
    finally:
        sim.stop()


def test_without_the_ca_the_certificate_is_refused(private_ca):
    sim = tls_sim(private_ca)
    try:
        checks = adapter(sim.endpoint, protocol="https").probe()
        assert not any(c["ok"] for c in checks)
        assert all("certificate" in c["message"].lower() for c in checks), checks
    finally:
        sim.stop()


def test_skipping_the_certificate_check_connects(private_ca):
    sim = tls_sim(private_ca)
    try:
        a = adapter(sim.endpoint, protocol="https", verify_tls=False)
        assert [r.region_id for r in a.regions()] == [REGION]
        assert list(a.iter_resources("oss.bucket", REGION)) == []
    finally:
        sim.stop()


# -- STS -------------------------------------------------------------------------------------------


def test_an_assumed_role_is_refreshed_before_it_expires():
    now = [1000.0]
    issued = []

    def assume() -> tuple[str, str, str, float]:
        issued.append(now[0])
        return f"STS.{len(issued)}", "secret", f"token-{len(issued)}", now[0] + 3600

    role = AssumedRole(assume=assume, clock=lambda: now[0])
    assert role.current()[2] == "token-1"
    now[0] += 3600 - 301  # more than five minutes left: the token is kept
    assert role.current()[2] == "token-1"
    now[0] += 2  # less than five minutes left: a new one, before the old one expires
    assert role.current()[2] == "token-2" and len(issued) == 2


def test_a_short_lived_role_token_is_refreshed_during_a_long_collection():
    sim = CloudSim(port=0, provision_seconds=0.05, regions=[REGION]).start()
    try:
        control(sim, "POST", "/bulk", {"type": "ecs_instance", "count": 2500, "region_id": REGION,
                                       "zone_id": f"{REGION}-a"})
        control(sim, "POST", "/config", {"sts_token_seconds": 1.5})
        control(sim, "POST", "/faults", {"action": "DescribeInstances", "latency_ms": 120})
        role = {"role_arn": ROLE, "role_session_name": f"collect-{next(_names)}"}
        token, seen = None, 0
        while True:  # a new adapter per page, as each step of a sync builds its own
            page = adapter(sim.endpoint, credentials=role).list_resources("ecs.instance", REGION, token)
            seen += len(page.items)
            token = page.next_token
            if token is None:
                break
        stats = control(sim, "GET", "/stats")
        assert seen == 2500
        assert stats["calls"]["AssumeRole"] >= 2  # refreshed while the collection ran
        assert "InvalidSecurityToken.Expired" not in stats["errors"]
        assert list(adapter(sim.endpoint, credentials=role).iter_resources("oss.bucket", REGION)) == []
    finally:
        sim.stop()


def test_a_static_sts_token_is_used_until_the_cloud_says_it_expired():
    sim = CloudSim(port=0, provision_seconds=0.05, regions=[REGION]).start()
    try:
        control(sim, "POST", "/config", {"sts_token_seconds": 0.5})
        role = AssumedRole(assume=adapter(sim.endpoint, credentials={"role_arn": ROLE})._role(REGION)._assume)
        key_id, secret, token = role.current()
        a = adapter(sim.endpoint, credentials={"access_key_id": key_id, "access_key_secret": secret,
                                               "security_token": token})
        assert [r.region_id for r in a.regions()] == [REGION]
        time.sleep(0.6)  # past the token's lifetime
        with pytest.raises(CloudCallError) as exc:
            a.regions()
        assert (exc.value.code, exc.value.transient) == ("InvalidSecurityToken.Expired", False)
    finally:
        sim.stop()


def test_a_role_the_cloud_refuses_fails_with_its_code():
    sim = CloudSim(port=0, provision_seconds=0.05, regions=[REGION]).start()
    try:
        checks = adapter(sim.endpoint, credentials={"role_arn": "not-a-role"}).probe()
        assert (checks[0]["product"], checks[0]["ok"], checks[0]["code"]) == ("sts", False,
                                                                              "InvalidParameter.RoleArn")
    finally:
        sim.stop()


# -- what collection reads -------------------------------------------------------------------------


def test_rds_storage_port_and_tags_and_the_classes_in_mib(sim):
    from apps.clouds.simulated import _wait

    a = adapter(sim.endpoint)
    vpc = a.create("vpc.vpc", REGION, {"cidr_block": "172.16.0.0/16"})
    _wait(a, "vpc.vpc", REGION, vpc, {"available"})
    vsw = a.create("vpc.vswitch", REGION, {"vpc_id": vpc, "zone": f"{REGION}-b", "cidr_block": "172.16.9.0/24"})
    _wait(a, "vpc.vswitch", REGION, vsw, {"available"})
    db = a.create("rds.instance", REGION, {"engine": "MySQL", "engine_version": "8.0", "class": "mysql.n2.medium.1",
                                           "storage_gib": 80, "vpc_id": vpc, "vswitch_id": vsw, "name": "orders",
                                           "tags": {"team": "data"}})
    found = {r.external_id: r for r in a.iter_resources("rds.instance", REGION)}[db]
    assert (found.storage_gib, found.spec["storage_gib"], found.spec["port"]) == (80, 80, "3306")
    assert found.tags == {"team": "data"}
    assert found.zone == f"{REGION}-b"  # the zone of the vSwitch, sent as ZoneId
    classes = {f.code: f for f in a.flavors(REGION) if f.kind == "rds_class"}
    assert (classes["mysql.n2.medium.1"].vcpu, classes["mysql.n2.medium.1"].memory_mib) == (2, 4096)


def test_images_are_read_to_the_last_page(sim, monkeypatch):
    from apps.clouds.adapters import apsara

    monkeypatch.setattr(apsara, "IMAGE_PAGE_SIZE", 2)
    before = control(sim, "GET", "/stats")["calls"].get("DescribeImages", 0)
    images = adapter(sim.endpoint).images(REGION)
    assert len(images) == 5 and len({i.image_id for i in images}) == 5
    assert control(sim, "GET", "/stats")["calls"]["DescribeImages"] - before == 3


def test_an_instance_without_eip_shows_the_public_address_it_got_at_creation(sim):
    from alibabacloud_ecs20140526 import models as ecs_models

    from apps.clouds.simulated import _wait

    a = adapter(sim.endpoint)
    vpc = a.create("vpc.vpc", REGION, {"cidr_block": "10.0.0.0/8"})
    _wait(a, "vpc.vpc", REGION, vpc, {"available"})
    vsw = a.create("vpc.vswitch", REGION, {"vpc_id": vpc, "zone": f"{REGION}-a", "cidr_block": "10.1.0.0/24"})
    _wait(a, "vpc.vswitch", REGION, vsw, {"available"})
    sg = a.create("ecs.security_group", REGION, {"vpc_id": vpc})
    body = a._invoke("ecs", REGION, "run_instances", ecs_models.RunInstancesRequest(
        region_id=REGION, instance_type="ecs.g6.large", image_id="centos_7_9_x64_20G_alibase_20230919.vhd",
        v_switch_id=vsw, security_group_id=sg, internet_max_bandwidth_out=10))
    iid = body["InstanceIdSets"]["InstanceIdSet"][0]
    assert a.get_resource("ecs.instance", REGION, iid).spec["public_ip"]
