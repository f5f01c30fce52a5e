"""The apsara adapter and cloudsim held to the official SDKs' own description of each API.

The test lists every OpenAPI action the adapter calls from the adapter's source (its syntax tree),
drives the adapter through all of them against cloudsim in strict Apsara Stack mode, and records
each call. For every call:

- every parameter the SDK's request model marks required (``# This parameter is required.``) is sent;
- every field the adapter reads from the response is one the SDK's response model defines (a field
  the model lacks is silently empty on the real cloud: RDS storage, port and tags were lost that way);
- cloudsim's answer, deserialized through the SDK's response model, has no field the model lacks.

OSS (``oss2``, XML) and STS ``AssumeRole`` (no SDK model installed) are outside these checks; their
behaviour is tested in ``test_apsara_connection``.

The inventory companion (``apsara_inventory``: MongoDB, PolarDB, KMS, Auto Scaling, ROS, OOS, NAS, DTS,
DBS, API Gateway, Kafka, Container Registry, Tablestore, ECS key pairs and images) is held to the same
three checks, its actions listed from its own source and driven by collecting a seeded estate.
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
import time
from typing import Any

import pytest

from apps.clouds.adapters import apsara, apsara_inventory
from apps.clouds.adapters.apsara import PRODUCTS, ApsaraAdapter
from apps.clouds.adapters.base import CloudCallError
from apps.clouds.simulated import sim_connection
from cloudsim.server import CloudSim
from cloudsim.tests.sdk_schema import fields, missing_required, undefined

REGION = "cn-hangzhou"
IMAGE = "centos_7_9_x64_20G_alibase_20230919.vhd"


_NESTED_RE = re.compile(r"temp_model = (\w+)\(\)")


def model_fields(model: type) -> dict[str, type | None]:
    """``fields`` of a model, also for the older SDK generation (Tablestore) whose ``from_map`` names a nested
    model without its module (``temp_model = X()``)."""
    out = dict(fields(model))
    module = sys.modules[model.__module__]
    current = None
    for line in inspect.getsource(model.from_map).splitlines():
        found = re.search(r"\bm\.get\('([^']+)'\)", line)
        if found:
            current = found.group(1)
        nested = _NESTED_RE.search(line)
        if nested and current is not None and out.get(current) is None and hasattr(module, nested.group(1)):
            out[current] = getattr(module, nested.group(1))
    return out


def undefined_fields(model: type, body: Any, path: str = "") -> list[str]:
    """``undefined`` through ``model_fields``."""
    out: list[str] = []
    if isinstance(body, list):
        for item in body:
            out += [p for p in undefined_fields(model, item, path + "[]") if p not in out]
        return out
    if not isinstance(body, dict):
        return out
    known = model_fields(model)
    for key, value in body.items():
        if key not in known:
            out.append(f"{path}.{key}".lstrip("."))
        elif known[key] is not None:
            out += undefined_fields(known[key], value, f"{path}.{key}".lstrip("."))
    return out


def adapter_actions(module: Any = apsara) -> set[tuple[str, str]]:
    """(product, SDK method) of every OpenAPI call in the adapter's source: a call or tuple whose string
    arguments name a product and then a method of that product's client."""
    tree = ast.parse(inspect.getsource(module))
    found = set()
    for node in ast.walk(tree):
        items = node.args if isinstance(node, ast.Call) else node.elts if isinstance(node, ast.Tuple) else []
        strings = [i.value for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)]
        if not strings or strings[0] not in PRODUCTS:
            continue
        client = PRODUCTS[strings[0]]
        found |= {(strings[0], s) for s in strings[1:] if hasattr(client, f"{s}_with_options")}
    return found


class Tracked(dict):
    """A response body that records which fields are read, against the SDK model of that object."""

    def __init__(self, data: dict[str, Any], model: type | None, sink: list, method: str):
        super().__init__(data)
        self._model, self._sink, self._method = model, sink, method

    def _note(self, key: str) -> None:
        if self._model is not None:
            self._sink.append((self._method, self._model, key))

    def _wrap(self, key: str, value: Any) -> Any:
        nested = model_fields(self._model).get(key) if self._model is not None else None
        return track(value, nested, self._sink, self._method)

    def __getitem__(self, key: str) -> Any:
        self._note(key)
        return self._wrap(key, super().__getitem__(key))

    def get(self, key: str, default: Any = None) -> Any:
        self._note(key)
        return self._wrap(key, super().__getitem__(key)) if key in self else default


def track(value: Any, model: type | None, sink: list, method: str) -> Any:
    if isinstance(value, dict):
        return Tracked(value, model, sink, method)
    if isinstance(value, list):
        return [track(v, model, sink, method) for v in value]
    return value


class RecordingAdapter(ApsaraAdapter):
    """The apsara adapter, recording every request, the SDK model of every answer, every field read and
    cloudsim's raw answers."""

    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self.requests: list[tuple[str, str, Any]] = []
        self.reads: list[tuple[str, type, str]] = []
        self.raw: list[tuple[str, str, dict]] = []
        self.models: dict[tuple[str, str], type] = {}  # (product, response body class name) -> class

    def _client(self, product: str, region: str | None = None) -> Any:
        client = super()._client(product, region)
        if not getattr(client, "_recorded", False):
            original = client.call_api

            def call_api(params: Any, request: Any, runtime: Any) -> dict:
                answer = original(params, request, runtime)
                self.raw.append((product, params.action, answer.get("body") or {}))
                return answer

            client.call_api, client._recorded = call_api, True
        return client

    def _call(self, product: str, region: str | None, method: str, request: Any) -> Any:
        self.requests.append((product, method, request))
        return super()._call(product, region, method, request)

    def _invoke(self, product: str, region: str | None, method: str, request: Any) -> dict[str, Any]:
        response = self._call(product, region, method, request)
        model = type(response.body)
        self.models[(product, model.__name__)] = model
        body = response.body.to_map() if response.body is not None else {}
        return track(body, model, self.reads, method)


def read_violations(reads: list[tuple[str, type, str]], fields_of: Any = model_fields) -> list[str]:
    """Fields read by the adapter that the SDK model of that object does not define."""
    return sorted({f"{method}: {model.__name__}.{key}" for method, model, key in reads if key not in fields_of(model)})


def wait(adapter: ApsaraAdapter, rtype: str, rid: str, statuses: set[str], timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = adapter.get_resource(rtype, REGION, rid)
        if (found.status if found else "gone") in statuses:
            return found
        time.sleep(0.03)
    raise AssertionError(f"{rtype} {rid} did not reach {statuses}")


def drive(a: RecordingAdapter) -> None:
    """Every collection, lifecycle, catalog, metric and check call of the adapter, against cloudsim."""
    a.regions()
    a.flavors(REGION)
    a.images(REGION)
    a.probe()
    vpc = a.create("vpc.vpc", REGION, {"cidr_block": "192.168.0.0/16", "name": "fidelity"})
    wait(a, "vpc.vpc", vpc, {"available"})
    vsw = a.create("vpc.vswitch", REGION, {"vpc_id": vpc, "zone": f"{REGION}-a", "cidr_block": "192.168.1.0/24"})
    wait(a, "vpc.vswitch", vsw, {"available"})
    sg = a.create("ecs.security_group", REGION, {"vpc_id": vpc, "name": "web"})
    ecs = {"instance_type": "ecs.g6.large", "image_id": IMAGE, "vswitch_id": vsw, "security_group_id": sg,
           "zone": f"{REGION}-a", "name": "web", "tags": {"team": "shop"}}
    rds = {"engine": "MySQL", "engine_version": "8.0", "class": "mysql.n2.medium.1", "storage_gib": 50,
           "vpc_id": vpc, "vswitch_id": vsw, "name": "orders", "tags": {"team": "data"}}
    redis = {"class": "redis.master.small.default", "vpc_id": vpc, "vswitch_id": vsw, "name": "sessions"}
    for rtype, params in (("ecs.instance", ecs), ("vpc.vpc", {"cidr_block": "10.0.0.0/8"}), ("rds.instance", rds),
                          ("redis.instance", redis)):
        assert a.validate_create(rtype, REGION, params) is True
    iid = a.create("ecs.instance", REGION, ecs)
    disk = a.create("ecs.disk", REGION, {"zone": f"{REGION}-a", "size_gib": 40, "name": "data"})
    eip = a.create("eip.eip", REGION, {"bandwidth_mbps": 5})
    db = a.create("rds.instance", REGION, rds)
    cache = a.create("redis.instance", REGION, redis)
    lb = a.create("slb.instance", REGION, {"vswitch_id": vsw, "vpc_id": vpc, "name": "front"})
    wait(a, "ecs.instance", iid, {"running"})
    wait(a, "ecs.disk", disk, {"available"})
    a.attach("ecs.disk", REGION, disk, iid)
    a.attach("eip.eip", REGION, eip, iid)
    wait(a, "eip.eip", eip, {"in_use"})
    wait(a, "ecs.disk", disk, {"in_use"})
    for rtype in apsara.LISTS:
        assert list(a.iter_resources(rtype, REGION)), rtype
    a.detach("eip.eip", REGION, eip, iid)
    a.detach("ecs.disk", REGION, disk, iid)
    for rtype, metrics in a.capabilities.metrics.items():
        rid = {"ecs.instance": iid, "rds.instance": db, "redis.instance": cache, "slb.instance": lb}[rtype]
        for metric in metrics:
            assert a.metrics(rtype, REGION, rid, metric, start=time.time() - 600, end=time.time())
    a.reboot("ecs.instance", REGION, iid)
    wait(a, "ecs.instance", iid, {"running"})
    a.stop("ecs.instance", REGION, iid)
    wait(a, "ecs.instance", iid, {"stopped"})
    a.resize("ecs.instance", REGION, iid, "ecs.g6.xlarge")
    a.start("ecs.instance", REGION, iid)
    wait(a, "rds.instance", db, {"running"})
    a.reboot("rds.instance", REGION, db)
    wait(a, "rds.instance", db, {"running"})
    a.resize("rds.instance", REGION, db, "mysql.n4.large.1")
    wait(a, "redis.instance", cache, {"running"})
    a.reboot("redis.instance", REGION, cache)
    wait(a, "redis.instance", cache, {"running"})
    a.resize("redis.instance", REGION, cache, "redis.master.mid.default")
    a.resize("slb.instance", REGION, lb, "slb.s2.small")
    wait(a, "eip.eip", eip, {"available"})
    wait(a, "ecs.disk", disk, {"available"})
    wait(a, "rds.instance", db, {"running"})
    wait(a, "redis.instance", cache, {"running"})
    for rtype, rid in (("eip.eip", eip), ("ecs.disk", disk), ("slb.instance", lb), ("rds.instance", db),
                       ("redis.instance", cache), ("ecs.instance", iid)):
        a.delete(rtype, REGION, rid)
        wait(a, rtype, rid, {"gone"})
    a.delete("ecs.security_group", REGION, sg)
    a.delete("vpc.vswitch", REGION, vsw)
    wait(a, "vpc.vswitch", vsw, {"gone"})
    a.delete("vpc.vpc", REGION, vpc)


@pytest.fixture(scope="module")
def recorded() -> RecordingAdapter:
    sim = CloudSim(port=0, provision_seconds=0.05, regions=[REGION]).start()
    try:
        connection = sim_connection()
        adapter = RecordingAdapter(endpoint=sim.endpoint, protocol="http", region=REGION,
                                   credentials=connection["credentials"],
                                   options={"organization_id": connection["organization_id"],
                                            "resource_set_id": connection["resource_set_id"]})
        drive(adapter)
        yield adapter
    finally:
        sim.stop()


def test_the_adapter_source_names_the_actions_it_calls():
    actions = adapter_actions()
    assert {("rds", "describe_dbinstance_attribute"), ("rds", "list_tag_resources"), ("rds", "list_classes"),
            ("ecs", "run_instances"), ("redis", "describe_instances"), ("cms", "describe_metric_list")} <= actions
    assert len(actions) >= 40


def test_every_action_the_adapter_calls_was_driven(recorded):
    called = {(product, method) for product, method, _request in recorded.requests}
    assert adapter_actions() - called == set()


def test_every_required_parameter_is_sent(recorded):
    missing = {f"{method}: {', '.join(m)}" for _p, method, request in recorded.requests
               if (m := missing_required(request))}
    assert missing == set()


def test_every_field_the_adapter_reads_is_in_the_sdk_response_model(recorded):
    assert recorded.reads
    assert read_violations(recorded.reads) == []


def test_cloudsim_answers_only_fields_the_sdk_response_model_defines(recorded):
    problems = set()
    for product, action, raw in recorded.raw:
        model = recorded.models.get((product, f"{action}ResponseBody"))
        if model is None:  # an answer the SDK raised as an error (DryRunOperation): no body model was built
            continue
        problems |= {f"{product} {action}: {path}" for path in undefined(model, raw)}
    assert sorted(problems) == []


def test_a_read_field_missing_from_the_model_is_reported(recorded):
    """Remove one field the adapter reads from the SDK model description: the check must fail on it."""
    method, model, key = next(r for r in recorded.reads if r[0] == "describe_dbinstance_attribute"
                              and r[2] == "DBInstanceStorage")
    trimmed = {model: {k: v for k, v in fields(model).items() if k != key}}
    assert read_violations(recorded.reads, lambda m: trimmed.get(m) or fields(m)) == [
        f"{method}: {model.__name__}.{key}"]


def test_reading_rds_storage_from_the_list_would_be_reported(recorded):
    from alibabacloud_rds20140815 import models as rds_models

    item = rds_models.DescribeDBInstancesResponseBodyItemsDBInstance
    reads = [("describe_dbinstances", item, k) for k in ("DBInstanceStorage", "Port", "Tags", "DBInstanceId")]
    assert read_violations(reads) == [f"describe_dbinstances: {item.__name__}.{k}"
                                      for k in ("DBInstanceStorage", "Port", "Tags")]


def test_a_refused_call_is_not_silently_swallowed(recorded):
    with pytest.raises(CloudCallError) as exc:
        recorded.validate_create("ecs.instance", REGION, {"instance_type": "ecs.g6.large", "image_id": IMAGE,
                                                          "vswitch_id": "vsw-missing", "security_group_id": "sg-x"})
    assert exc.value.code == "InvalidVSwitchId.NotFound"


def test_the_readme_ram_policies_allow_every_action_the_adapter_calls():
    """The least-privilege policies in the README name every action of the adapter (RAM's service prefix)."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    prefixes = {"ecs": "ecs", "vpc": "vpc", "slb": "slb", "rds": "rds", "redis": "kvstore", "cms": "cms"}
    missing = []
    for product, method in sorted(adapter_actions()):
        source = inspect.getsource(getattr(PRODUCTS[product], f"{method}_with_options"))
        action = re.search(r"action\s*=\s*'(\w+)'", source).group(1)
        if f'"{prefixes[product]}:{action}"' not in readme:
            missing.append(f"{prefixes[product]}:{action}")
    oss_calls = set(re.findall(r'self\.call\("(\w+)"', inspect.getsource(apsara))) - {"AssumeRole"}
    missing += [f"oss:{a}" for a in sorted(oss_calls) if f'"oss:{a}"' not in readme]
    assert missing == []


def test_lists_page_by_next_token_wherever_the_api_has_it(recorded):
    """A request model with both NextToken and PageNumber: the adapter pages by NextToken (PageNumber is
    the deprecated way, and the API's NextToken walk is stable while resources come and go)."""
    by_number = sorted({method for _p, method, request in recorded.requests
                        if hasattr(request, "next_token") and hasattr(request, "page_number")
                        and request.page_number is not None})
    assert by_number == []


# -- the inventory companion -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def recorded_inventory() -> RecordingAdapter:
    from apps.clouds.inventory_demo import seed_inventory
    from apps.clouds.simulated import seed_resources
    from cloudsim.services import cr

    sim = CloudSim(port=0, provision_seconds=0.05, regions=[REGION]).start()
    try:
        connection = sim_connection()
        adapter = RecordingAdapter(endpoint=sim.endpoint, protocol="http", region=REGION,
                                   credentials=connection["credentials"],
                                   options={"organization_id": connection["organization_id"],
                                            "resource_set_id": connection["resource_set_id"]})
        made = seed_resources(sim.endpoint, instances=2)
        seed_inventory(adapter, made, add_registry=lambda region, name: cr.add_instance(
            sim.store, region, name)["InstanceId"])
        time.sleep(0.3)  # every new resource past its first step
        adapter.collected = {t: list(adapter.iter_resources(t, REGION))
                             for t in apsara_inventory.extensions_types()}
        yield adapter
    finally:
        sim.stop()


def test_the_inventory_companion_names_the_actions_it_calls():
    actions = adapter_actions(apsara_inventory)
    assert {("dds", "describe_dbinstances"), ("polardb", "describe_dbclusters"), ("kms", "list_keys"),
            ("ess", "describe_scaling_instances"), ("oos", "list_executions"), ("dbs", "describe_backup_plan_list"),
            ("cr", "list_repository"), ("ots", "get_instance"), ("ecs", "describe_key_pairs")} <= actions
    assert len(actions) >= 20


def test_every_inventory_type_was_collected_and_every_action_driven(recorded_inventory):
    assert {t for t, items in recorded_inventory.collected.items() if not items} == set()
    called = {(product, method) for product, method, _request in recorded_inventory.requests}
    assert adapter_actions(apsara_inventory) - called == set()


def test_every_inventory_request_sends_its_required_parameters(recorded_inventory):
    missing = {f"{method}: {', '.join(m)}" for _p, method, request in recorded_inventory.requests
               if (m := missing_required(request))}
    assert missing == set()


def test_every_field_the_inventory_reads_is_in_the_sdk_response_model(recorded_inventory):
    assert {method for method, _model, _key in recorded_inventory.reads} >= {
        m for _p, m in adapter_actions(apsara_inventory)}
    assert read_violations(recorded_inventory.reads) == []


def test_cloudsim_answers_the_inventory_only_with_fields_the_sdk_defines(recorded_inventory):
    problems = set()
    for product, action, raw in recorded_inventory.raw:
        model = recorded_inventory.models.get((product, f"{action}ResponseBody"))
        if model is None:
            continue
        problems |= {f"{product} {action}: {path}" for path in undefined_fields(model, raw)}
    assert sorted(problems) == []
    assert {action for _p, action, _raw in recorded_inventory.raw} >= {"ListInstance", "GetInstance",
                                                                        "DescribeDtsJobs", "GetInstanceList"}


def test_a_tablestore_field_missing_from_the_older_sdk_model_would_be_reported():
    """The older SDK generation's nested models are followed too: a read of a field its model lacks fails."""
    from alibabacloud_ots20160620 import models as ots_models

    info = ots_models.GetInstanceResponseBodyInstanceInfo
    assert model_fields(ots_models.GetInstanceResponseBody)["InstanceInfo"] is info
    assert read_violations([("get_instance", info, "RegionId"), ("get_instance", info, "ClusterType")]) == [
        f"get_instance: {info.__name__}.RegionId"]
