"""A platform's connection settings through the API and the console, and "Test connection" reporting,
per product, the call cloudsim (strict Apsara Stack mode) refused and why."""

from __future__ import annotations

import datetime

import pytest
from alibabacloud_tea_openapi.utils import Utils
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from darabonba.request import DaraRequest
from django.test import Client

from apps.clouds.adapters.base import CloudCallError
from apps.clouds.models import CloudPlatform
from apps.clouds.secrets import decrypt_json
from apps.clouds.tests.factories import platform as make_platform
from cloudsim.server import CloudSim
from tests import factories as f
from tests.fixtures import api_as, fast_passwords, rbac_scoping  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db
PRODUCTS = {"ecs", "vpc", "slb", "rds", "redis", "cms", "oss"}


def ca_certificate() -> str:
    """A self-signed CA certificate in PEM, as an Apsara Stack's private CA hands out."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Apsara Stack test CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def sim():
    server = CloudSim(port=0, provision_seconds=0.05, regions=["cn-hangzhou"]).start()
    yield server
    server.stop()


@pytest.fixture
def hq():
    return f.org("HQ")


@pytest.fixture
def root(hq):
    return f.user("root", hq, is_superuser=True)


def body(hq, **extra):
    return {"organization": str(hq.pk), "type": "apsara", "name": "Region", "endpoint": "127.0.0.1:9",
            "protocol": "http", "credentials": {"access_key_id": "a-key", "access_key_secret": "a-secret"}, **extra}


# -- API -------------------------------------------------------------------------------------------


def test_connection_settings_are_saved_and_shown_but_secrets_never_are(hq, root):
    response = api_as(root).post("/api/v1/clouds/platforms/", body(
        hq, gateway="public.asapi.example.com", endpoints={"ecs": "ecs-internal.{region}.example.com",
                                                          "oss": "{cluster}.example.com"},
        apsara_organization_id="10", apsara_resource_set_id="101", verify_tls=False,
        oss_clusters={"cn-hangzhou": ["oss-cn-hangzhou-a"]}, credential_type="sts_token",
        credentials={"access_key_id": "STS.key", "access_key_secret": "tmp-secret", "security_token": "tok-123"}),
        format="json")
    assert response.status_code == 201, response.content
    shown = response.json()
    assert (shown["gateway"], shown["apsara_organization_id"], shown["verify_tls"], shown["credential_type"]) == (
        "public.asapi.example.com", "10", False, "sts_token")
    assert shown["endpoints"]["ecs"] == "ecs-internal.{region}.example.com"
    assert b"tok-123" not in response.content and b"tmp-secret" not in response.content
    platform = CloudPlatform.objects.get(pk=shown["id"])
    assert "tok-123" not in platform.credentials_encrypted
    assert decrypt_json(platform.credentials_encrypted)["security_token"] == "tok-123"
    options = platform.connection_options()
    assert (options["organization_id"], options["verify_tls"]) == ("10", False)
    detail = api_as(root).get(f"/api/v1/clouds/platforms/{platform.pk}/")
    assert b"tok-123" not in detail.content and b"tmp-secret" not in detail.content
    pem = ca_certificate()
    patched = api_as(root).patch(f"/api/v1/clouds/platforms/{platform.pk}/", {
        "apsara_resource_set_id": "102", "ca_bundle": pem, "verify_tls": True}, format="json")
    assert patched.status_code == 200, patched.content
    assert (patched.json()["apsara_resource_set_id"], patched.json()["ca_bundle"]) == ("102", pem)


@pytest.mark.parametrize("change", [
    {"endpoints": {"dns": "dns.example.com"}}, {"endpoints": {"ecs": "{zone}.example.com"}},
    {"endpoints": {"ecs": "file:///etc/passwd"}}, {"gateway": "gopher://gw.example.com"},
    {"apsara_organization_id": "10\r\nX-Injected: 1"}, {"ca_bundle": "not a certificate"},
    {"ca_bundle": "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----"},
    {"oss_clusters": {"cn-hangzhou": ["OSS CLUSTER!"]}}, {"credential_type": "ram_role"},
    {"credential_type": "ram_role", "role_arn": "arn:aws:iam::1:role/x"}, {"credential_type": "sts_token"},
    {"credential_type": "password"},
])
def test_bad_connection_settings_are_a_400_and_create_nothing(hq, root, change):
    response = api_as(root).post("/api/v1/clouds/platforms/", body(hq, **change), format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert not CloudPlatform.objects.exists()


def apsara_platform(hq, sim, **kw):
    return make_platform(hq, endpoint=sim.endpoint, name=kw.pop("name", "Apsara"), **kw)


def test_a_correct_platform_answers_on_every_product(hq, root, sim):
    platform = apsara_platform(hq, sim)
    result = api_as(root).post(f"/api/v1/clouds/platforms/{platform.pk}/test/").json()
    assert result["ok"] and result["health"] == "healthy"
    assert {c["product"] for c in result["products"] if c["ok"]} == PRODUCTS


@pytest.mark.parametrize(("connection", "code"), [
    ({"apsara_organization_id": ""}, "MissingParameter"),
    ({"apsara_resource_set_id": "201"}, "InvalidResourceGroup.NotFound"),
    ({"apsara_organization_id": "20", "apsara_resource_set_id": "201"}, "Forbidden.RAM"),
])
def test_a_platform_the_cloud_refuses_reports_each_call_and_the_clouds_code(hq, root, sim, connection, code):
    platform = apsara_platform(hq, sim, **connection)
    result = api_as(root).post(f"/api/v1/clouds/platforms/{platform.pk}/test/").json()
    assert not result["ok"] and result["health"] == "degraded"
    assert result["error"]["code"] == code and result["error"]["product"] == "ecs"
    assert {(c["product"], c["ok"], c["code"]) for c in result["products"]} == {(p, False, code) for p in PRODUCTS}
    platform.refresh_from_db()
    assert platform.health_message.startswith(f"ecs DescribeRegions: {code}")
    assert len(platform.connection_checks) == len(PRODUCTS)


class SignsTooLittle(Utils):
    """A client that leaves the organization header out of its signature."""

    @staticmethod
    def get_authorization(request, sign_type, payload, ak, secret):
        partial = DaraRequest()
        partial.method, partial.pathname, partial.query = request.method, request.pathname, request.query
        partial.headers = {k: v for k, v in request.headers.items() if k != "x-acs-organizationid"}
        return Utils.get_authorization(partial, sign_type, payload, ak, secret)


def test_a_client_that_signs_too_little_is_refused_with_the_clouds_code(hq, root, sim, monkeypatch):
    platform = apsara_platform(hq, sim)
    monkeypatch.setattr("alibabacloud_tea_openapi.client.Utils", SignsTooLittle)
    result = api_as(root).post(f"/api/v1/clouds/platforms/{platform.pk}/test/").json()
    assert not result["ok"] and result["error"]["code"] == "SignatureDoesNotMatch"
    assert "x-acs-organizationid" in result["error"]["message"]
    refused = {c["product"] for c in result["products"] if c.get("code") == "SignatureDoesNotMatch"}
    assert refused == PRODUCTS - {"oss"}  # OSS signs with its own scheme, which never covers x-acs headers


# -- console ---------------------------------------------------------------------------------------


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_page_shows_the_refused_call_on_test_connection(hq, root, sim):
    platform = apsara_platform(hq, sim, apsara_organization_id="")
    page = page_client(root).post(f"/console/clouds/{platform.pk}/", {"action": "test"}, follow=True)
    text = page.content.decode()
    assert 'data-testid="message"' in text
    assert "ecs DescribeRegions: MissingParameter" in text and "x-acs-organizationid" in text
    assert text.count('data-ok="false"') == len(PRODUCTS)


def test_the_page_saves_connection_settings_and_warns_when_certificates_are_not_checked(hq, root, sim):
    platform = apsara_platform(hq, sim, apsara_organization_id="")
    client = page_client(root)
    page = client.post(f"/console/clouds/{platform.pk}/", {
        "action": "connection", "apsara_organization_id": "10", "apsara_resource_set_id": "101",
        "endpoints": "ecs=http://{region}.example.com\nvpc=", "oss_clusters": "cn-hangzhou=oss-cn-hangzhou-a",
        "skip_tls_verify": "1", "credential_type": "access_key"}, follow=True)
    assert 'data-testid="tls-warning"' in page.content.decode()
    platform.refresh_from_db()
    assert (platform.apsara_organization_id, platform.verify_tls) == ("10", False)
    assert platform.endpoints == {"ecs": "http://{region}.example.com", "vpc": ""}
    assert platform.oss_clusters == {"cn-hangzhou": ["oss-cn-hangzhou-a"]}
    page = client.post(f"/console/clouds/{platform.pk}/", {
        "action": "connection", "apsara_organization_id": "10", "apsara_resource_set_id": "101", "endpoints": "",
        "credential_type": "access_key"}, follow=True)
    platform.refresh_from_db()
    assert platform.verify_tls and platform.endpoints == {}
    assert 'data-testid="tls-warning"' not in page.content.decode()
    page = client.post(f"/console/clouds/{platform.pk}/", {"action": "test"}, follow=True)
    assert "calls answered" in page.content.decode()
    bad = client.post(f"/console/clouds/{platform.pk}/", {"action": "connection", "endpoints": "no equals sign",
                                                           "credential_type": "access_key"}, follow=True)
    assert "endpoints: line 1 is not key=value" in bad.content.decode()


def test_registering_from_the_console_takes_the_connection_and_sts_credentials(hq, root):
    page = page_client(root).post("/console/clouds/", {
        "name": "Private region", "type": "apsara", "organization": str(hq.pk), "endpoint": "{region}.pop.example.com",
        "protocol": "https", "default_region": "cn-hangzhou", "access_key_id": "STS.abc",
        "access_key_secret": "tmp", "security_token": "token-xyz", "credential_type": "sts_token",
        "gateway": "", "apsara_organization_id": "10", "apsara_resource_set_id": "101"}, follow=True)
    assert page.status_code == 200
    platform = CloudPlatform.objects.get(name="Private region")
    assert (platform.credential_type, platform.apsara_organization_id) == ("sts_token", "10")
    assert decrypt_json(platform.credentials_encrypted)["security_token"] == "token-xyz"
    assert "token-xyz" not in page.content.decode()


# -- the cloud's own check before a create ---------------------------------------------------------


def test_the_cloud_checks_a_create_of_the_whole_count_and_nothing_is_created(hq, sim):
    import json
    import urllib.request

    from apps.clouds.services import platform_check_create
    from apps.clouds.simulated import _wait, sim_adapter

    def config(body):
        request = urllib.request.Request(f"http://{sim.endpoint}/_cloudsim/config", data=json.dumps(body).encode(),
                                         method="POST", headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=30).read()

    a = sim_adapter(sim.endpoint)
    vpc = a.create("vpc.vpc", "cn-hangzhou", {"cidr_block": "192.168.0.0/16"})
    _wait(a, "vpc.vpc", "cn-hangzhou", vpc, {"available"})
    vsw = a.create("vpc.vswitch", "cn-hangzhou", {"vpc_id": vpc, "zone": "cn-hangzhou-a",
                                                  "cidr_block": "192.168.7.0/24"})
    _wait(a, "vpc.vswitch", "cn-hangzhou", vsw, {"available"})
    sg = a.create("ecs.security_group", "cn-hangzhou", {"vpc_id": vpc})
    platform = apsara_platform(hq, sim)
    spec = {"instance_type": "ecs.g6.large", "image_id": "centos_7_9_x64_20G_alibase_20230919.vhd",
            "zone": "cn-hangzhou-a", "vswitch_id": vsw, "security_group_id": sg, "name": "web"}
    before = len(list(a.iter_resources("ecs.instance", "cn-hangzhou")))
    config({"capacity": {"zone_vcpu": 8}})
    try:
        assert platform_check_create(platform=platform, region="cn-hangzhou", resource_type="ecs.instance",
                                     params=spec, count=4) is True
        with pytest.raises(CloudCallError) as exc:
            platform_check_create(platform=platform, region="cn-hangzhou", resource_type="ecs.instance",
                                  params=spec, count=5)
        assert (exc.value.code, exc.value.transient) == ("OperationDenied.NoStock", False)
        with pytest.raises(CloudCallError) as exc:
            platform_check_create(platform=platform, region="cn-hangzhou", resource_type="ecs.instance",
                                  params={**spec, "security_group_id": None})
        assert exc.value.code == "MissingParameter"
    finally:
        config({"capacity": {"zone_vcpu": 20_000}})
    assert platform_check_create(platform=platform, region="cn-hangzhou", resource_type="ecs.disk",
                                 params={"zone": "cn-hangzhou-a", "size_gib": 40}) is False  # no check offered
    assert len(list(a.iter_resources("ecs.instance", "cn-hangzhou"))) == before
