"""Container Service for Kubernetes (ACK, a ROA API) through the official SDK ``alibabacloud_cs20151215``."""

from __future__ import annotations

from typing import Any

import pytest
from alibabacloud_cs20151215 import models as cs_models
from alibabacloud_cs20151215.client import Client as CsClient
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils_models import OpenApiRequest, Params
from darabonba.runtime import RuntimeOptions

from .conftest import REGION, apsara_config, make_network, run_instances, sdk_config, wait_for, wait_status
from .sdk_schema import undefined


@pytest.fixture
def cs(sim, control) -> CsClient:
    return CsClient(sdk_config(sim))


def _estate(ecs, vpc, control) -> tuple[dict, list[str]]:
    """A cluster of two node pools (two and one instances) and one instance outside it."""
    _vpc_id, vsw = make_network(vpc)
    ids = run_instances(ecs, vsw, amount=4)
    for i in ids:
        wait_status(ecs, i, "Running")
    made = control.post("/ack/clusters", {"region_id": REGION, "name": "shop-k8s", "tags": {"team": "shop"},
                                          "node_pools": [{"name": "web", "instance_ids": ids[:2]},
                                                         {"name": "batch", "instance_ids": ids[2:3]}]})
    return made, ids


def test_clusters_are_listed_by_page_with_ack_states_and_fields(cs, ecs, vpc, control):
    made, _ids = _estate(ecs, vpc, control)
    control.post("/ack/clusters", {"region_id": REGION, "name": "data-k8s",
                                   "node_pools": [{"name": "default", "instance_ids": []}]})
    first = cs.describe_clusters_v1(cs_models.DescribeClustersV1Request(region_id=REGION, page_size=1,
                                                                         page_number=1)).body
    assert first.page_info.total_count == 2 and len(first.clusters) == 1
    second = cs.describe_clusters_v1(cs_models.DescribeClustersV1Request(region_id=REGION, page_size=1,
                                                                          page_number=2)).body
    assert {first.clusters[0].name, second.clusters[0].name} == {"shop-k8s", "data-k8s"}
    shop = next(c for c in (first.clusters[0], second.clusters[0]) if c.name == "shop-k8s")
    assert shop.cluster_id == made["cluster_id"] and shop.state == "initial"
    assert shop.cluster_type == "ManagedKubernetes" and shop.vpc_id.startswith("vpc-") and shop.size == 3
    assert {(t.key, t.value) for t in shop.tags} == {("team", "shop")}
    wait_for(lambda: cs.describe_cluster_detail(made["cluster_id"]).body.state == "running")
    other = cs.describe_clusters_v1(cs_models.DescribeClustersV1Request(region_id="cn-shanghai")).body
    assert other.clusters == [] and other.page_info.total_count == 0


def test_node_pools_and_nodes_name_their_ecs_instances(cs, ecs, vpc, control):
    made, ids = _estate(ecs, vpc, control)
    cluster_id = made["cluster_id"]
    pools = cs.describe_cluster_node_pools(cluster_id, cs_models.DescribeClusterNodePoolsRequest()).body.nodepools
    by_name = {p.nodepool_info.name: p for p in pools}
    assert set(by_name) == {"web", "batch"} and by_name["web"].nodepool_info.is_default
    assert by_name["web"].status.state == "active" and by_name["web"].status.total_nodes == 2
    assert by_name["web"].scaling_group.instance_types == ["ecs.g6.large"]
    web_id = by_name["web"].nodepool_info.nodepool_id
    nodes = cs.describe_cluster_nodes(cluster_id, cs_models.DescribeClusterNodesRequest(nodepool_id=web_id)).body
    assert sorted(n.instance_id for n in nodes.nodes) == sorted(ids[:2]) and nodes.page.total_count == 2
    assert {(n.state, n.node_status, n.nodepool_id) for n in nodes.nodes} == {("running", "Ready", web_id)}
    page = cs.describe_cluster_nodes(cluster_id, cs_models.DescribeClusterNodesRequest(page_size="2",
                                                                                       page_number="2")).body
    assert page.page.total_count == 3 and [n.instance_id for n in page.nodes] == [ids[2]]
    assert ids[3] not in {n.instance_id for n in cs.describe_cluster_nodes(
        cluster_id, cs_models.DescribeClusterNodesRequest()).body.nodes}
    named = cs.describe_cluster_node_pools(cluster_id, cs_models.DescribeClusterNodePoolsRequest(
        nodepool_name="batch")).body.nodepools
    assert [p.nodepool_info.name for p in named] == ["batch"]


def test_unknown_cluster_is_refused_with_acks_code(cs, control):
    with pytest.raises(ClientException) as exc:
        cs.describe_cluster_detail("c0000000000000000")
    assert (exc.value.code, exc.value.status_code) == ("ErrorClusterNotFound", 404)
    with pytest.raises(ClientException) as exc:
        cs.describe_cluster_node_pools("c0000000000000000", cs_models.DescribeClusterNodePoolsRequest())
    assert exc.value.code == "ErrorClusterNotFound"


def test_delete_cluster_goes_through_deleting_and_keeps_the_instances(cs, ecs, vpc, control):
    made, ids = _estate(ecs, vpc, control)
    cluster_id = made["cluster_id"]
    wait_for(lambda: cs.describe_cluster_detail(cluster_id).body.state == "running")
    cs.delete_cluster(cluster_id, cs_models.DeleteClusterRequest())
    assert cs.describe_cluster_detail(cluster_id).body.state == "deleting"

    def gone() -> bool:
        try:
            cs.describe_cluster_detail(cluster_id)
        except ClientException as exc:
            return exc.code == "ErrorClusterNotFound"
        return False

    wait_for(gone)
    assert cs.describe_clusters_v1(cs_models.DescribeClustersV1Request(region_id=REGION)).body.clusters == []
    still = control.get("/resources?type=ecs_instance")["resources"]
    assert set(ids) <= {r["id"] for r in still}


def test_a_cluster_is_made_only_of_instances_of_its_region(control, ecs, vpc):
    _vpc_id, vsw = make_network(vpc)
    ids = run_instances(ecs, vsw, amount=1)
    status, body = control.call("POST", "/ack/clusters", {"region_id": "cn-shanghai", "name": "x",
                                                          "node_pools": [{"name": "p", "instance_ids": ids}]})
    assert (status, body["code"]) == (404, "ErrorInstanceNotFound")
    status, body = control.call("POST", "/ack/clusters", {"region_id": REGION, "name": "",
                                                          "node_pools": [{"name": "p", "instance_ids": ids}]})
    assert status == 400


def test_wrong_key_and_wrong_path_are_refused(sim, control):
    bad = CsClient(sdk_config(sim, access_key_secret="not-the-secret"))
    with pytest.raises(ClientException) as exc:
        bad.describe_clusters_v1(cs_models.DescribeClustersV1Request(region_id=REGION))
    assert (exc.value.code, exc.value.status_code) == ("SignatureDoesNotMatch", 400)
    unknown = CsClient(sdk_config(sim, access_key_id="nobody"))
    with pytest.raises(ClientException) as exc:
        unknown.describe_clusters_v1(cs_models.DescribeClustersV1Request(region_id=REGION))
    assert exc.value.code == "InvalidAccessKeyId.NotFound"
    # the right action at another path is not the action
    cs = CsClient(sdk_config(sim))
    params = Params(action="DescribeClustersV1", version="2015-12-15", protocol="HTTP", pathname="/clusters/x/y",
                    method="GET", auth_type="AK", style="ROA", req_body_type="json", body_type="json")
    with pytest.raises(ClientException) as exc:
        cs.call_api(params, OpenApiRequest(headers={}), RuntimeOptions())
    assert (exc.value.code, exc.value.status_code) == ("InvalidAction.NotFound", 404)


def test_apsara_account_must_name_its_organization(sim, control):
    ok = CsClient(apsara_config(sim))
    assert ok.describe_clusters_v1(cs_models.DescribeClustersV1Request(region_id=REGION)).body.clusters == []
    missing = CsClient(apsara_config(sim, organization=None))
    with pytest.raises(ClientException) as exc:
        missing.describe_clusters_v1(cs_models.DescribeClustersV1Request(region_id=REGION))
    assert exc.value.code == "MissingParameter"


def test_faults_apply_to_roa_actions(cs, control):
    control.post("/faults", {"action": "DescribeClustersV1", "error_rate": 1.0, "code": "Throttling.User",
                             "remaining": 1})
    with pytest.raises(ClientException) as exc:
        cs.describe_clusters_v1(cs_models.DescribeClustersV1Request(region_id=REGION))
    assert exc.value.code == "Throttling.User"
    assert cs.describe_clusters_v1(cs_models.DescribeClustersV1Request(region_id=REGION)).body.clusters == []


def test_answers_hold_only_fields_the_sdk_response_models_define(cs, ecs, vpc, control):
    """Every field of cloudsim's ACK answers is one the SDK's response model defines (the RequestId that
    cloudsim adds to every OpenAPI answer aside)."""
    made, _ids = _estate(ecs, vpc, control)
    raw: dict[str, Any] = {}
    call_api = cs.call_api

    def capture(params, request, runtime):
        out = call_api(params, request, runtime)
        raw[params.action] = out["body"]
        return out

    cs.call_api = capture
    cs.describe_clusters_v1(cs_models.DescribeClustersV1Request(region_id=REGION))
    cs.describe_cluster_detail(made["cluster_id"])
    cs.describe_cluster_node_pools(made["cluster_id"], cs_models.DescribeClusterNodePoolsRequest())
    cs.describe_cluster_nodes(made["cluster_id"], cs_models.DescribeClusterNodesRequest())
    cs.delete_cluster(made["cluster_id"], cs_models.DeleteClusterRequest())
    models = {"DescribeClustersV1": cs_models.DescribeClustersV1ResponseBody,
              "DescribeClusterDetail": cs_models.DescribeClusterDetailResponseBody,
              "DescribeClusterNodePools": cs_models.DescribeClusterNodePoolsResponseBody,
              "DescribeClusterNodes": cs_models.DescribeClusterNodesResponseBody,
              "DeleteCluster": cs_models.DeleteClusterResponseBody}
    assert set(raw) == set(models)
    problems = {action: [p for p in undefined(models[action], body) if p != "RequestId"]
                for action, body in raw.items()}
    assert {a: p for a, p in problems.items() if p} == {}
