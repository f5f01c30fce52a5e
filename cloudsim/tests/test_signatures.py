"""Requests are accepted only with a valid signature from a known AccessKey, and only once."""

from __future__ import annotations

import hashlib
import http.client
import json
from urllib.parse import urlencode

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils import Utils
from darabonba.request import DaraRequest

from cloudsim.server import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET

from .conftest import REGION, sdk_config


def signed_request(sim, query: dict[str, str], *, nonce: str, secret: str = DEFAULT_ACCESS_KEY_SECRET):
    """Headers and query of a DescribeRegions call signed the way the SDK signs (ACS3-HMAC-SHA256)."""
    request = DaraRequest()
    request.method = "POST"
    request.pathname = "/"
    request.query = dict(query)
    request.headers = {
        "host": sim.endpoint, "x-acs-version": "2014-05-26", "x-acs-action": "DescribeRegions",
        "x-acs-date": Utils.get_timestamp(), "x-acs-signature-nonce": nonce, "accept": "application/json",
        "x-acs-content-sha256": hashlib.sha256(b"").hexdigest(),
    }
    request.headers["Authorization"] = Utils.get_authorization(
        request, "ACS3-HMAC-SHA256", request.headers["x-acs-content-sha256"], DEFAULT_ACCESS_KEY_ID, secret)
    return request


def send(sim, request, query: dict[str, str] | None = None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection(sim.endpoint, timeout=5)
    conn.request("POST", "/?" + urlencode(query if query is not None else request.query), body=b"",
                 headers=request.headers)
    response = conn.getresponse()
    payload = json.loads(response.read())
    conn.close()
    return response.status, payload


def test_sdk_default_signature_is_accepted(sim, control):
    body = EcsClient(sdk_config(sim)).describe_regions(ecs_models.DescribeRegionsRequest()).body
    assert [r.region_id for r in body.regions.region] == ["cn-hangzhou", "cn-shanghai"]
    assert body.request_id


def test_legacy_hmac_sha1_query_signature_is_accepted(sim, control):
    client = EcsClient(sdk_config(sim, signature_algorithm="v2"))
    body = client.describe_zones(ecs_models.DescribeZonesRequest(region_id=REGION)).body
    assert [z.zone_id for z in body.zones.zone] == ["cn-hangzhou-a", "cn-hangzhou-b", "cn-hangzhou-c"]


@pytest.mark.parametrize("algorithm", [None, "v2"])
def test_wrong_secret_is_refused(sim, control, algorithm):
    client = EcsClient(sdk_config(sim, access_key_secret="not-the-secret", signature_algorithm=algorithm))
    with pytest.raises(ClientException) as exc:
        client.describe_regions(ecs_models.DescribeRegionsRequest())
    assert exc.value.code == "SignatureDoesNotMatch"
    assert exc.value.status_code == 400


def test_unknown_access_key_is_refused(sim, control):
    client = EcsClient(sdk_config(sim, access_key_id="nobody"))
    with pytest.raises(ClientException) as exc:
        client.describe_regions(ecs_models.DescribeRegionsRequest())
    assert exc.value.code == "InvalidAccessKeyId.NotFound"
    assert exc.value.status_code == 404


def test_tampered_parameter_is_refused(sim, control):
    request = signed_request(sim, {"RegionId": REGION}, nonce="tamper-1")
    status, payload = send(sim, request, {"RegionId": "cn-shanghai"})
    assert (status, payload["Code"]) == (400, "SignatureDoesNotMatch")
    assert set(payload) == {"RequestId", "HostId", "Code", "Message", "Recommend"}


def test_replayed_nonce_is_refused(sim, control):
    request = signed_request(sim, {}, nonce="replay-1")
    assert send(sim, request)[0] == 200
    status, payload = send(sim, request)
    assert (status, payload["Code"]) == (400, "SignatureNonceUsed")


def test_unsigned_request_is_refused(sim, control):
    conn = http.client.HTTPConnection(sim.endpoint, timeout=5)
    conn.request("GET", "/?Action=DescribeRegions&Version=2014-05-26")
    response = conn.getresponse()
    assert response.status == 400
    assert json.loads(response.read())["Code"] == "IncompleteSignature"


def test_garbage_is_answered_with_an_error_not_a_crash(sim, control):
    conn = http.client.HTTPConnection(sim.endpoint, timeout=5)
    conn.request("POST", "/?%zz=%%&a", body=b"\xff\xfe", headers={"Authorization": "ACS3-HMAC-SHA256 junk",
                                                                  "Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    assert 400 <= response.status < 500
    response.read()
    conn.request("GET", "/_cloudsim/health")
    assert conn.getresponse().status == 200
