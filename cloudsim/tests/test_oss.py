"""OSS buckets through the official OSS SDK (``oss2``), path-style on the simulator's IP endpoint."""

from __future__ import annotations

import oss2
import pytest
from oss2 import exceptions as oss_errors
from oss2.models import BucketCreateConfig

from cloudsim.server import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET

AUTH = oss2.Auth(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)
SHANGHAI = {"Host": "oss-cn-shanghai.aliyuncs.com"}


@pytest.fixture
def endpoint(sim, control) -> str:
    return f"http://{sim.endpoint}"


def bucket(endpoint: str, name: str, auth=AUTH) -> oss2.Bucket:
    return oss2.Bucket(auth, endpoint, name, connect_timeout=5)


def names(endpoint: str, **kwargs) -> list[str]:
    return [b.name for b in oss2.Service(AUTH, endpoint).list_buckets(**kwargs).buckets]


def test_create_list_info_delete(endpoint, control):
    logs = bucket(endpoint, "app-logs")
    assert logs.create_bucket(oss2.BUCKET_ACL_PUBLIC_READ, BucketCreateConfig(oss2.BUCKET_STORAGE_CLASS_IA)).status \
        == 200
    bucket(endpoint, "app-assets").create_bucket()
    listed = oss2.Service(AUTH, endpoint).list_buckets().buckets
    assert [b.name for b in listed] == ["app-assets", "app-logs"]
    assert {b.location for b in listed} == {"oss-cn-hangzhou"}
    assert listed[1].storage_class == "IA" and listed[1].creation_date > 0
    info = logs.get_bucket_info()
    assert (info.name, info.location, info.storage_class, info.acl.grant) == (
        "app-logs", "oss-cn-hangzhou", "IA", "public-read")
    assert info.data_redundancy_type == "LRS" and info.extranet_endpoint == "oss-cn-hangzhou.aliyuncs.com"
    assert logs.get_bucket_location().location == "oss-cn-hangzhou"
    assert bucket(endpoint, "app-assets").get_bucket_acl().acl == "private"
    assert logs.delete_bucket().status == 204
    assert names(endpoint) == ["app-assets"]
    rows = control.get("/resources?type=bucket")["resources"]
    assert [(r["id"], r["region_id"], r["Acl"]) for r in rows] == [("app-assets", "cn-hangzhou", "private")]


def test_the_region_comes_from_the_host_and_a_bucket_answers_only_there(endpoint, control):
    sh = bucket(endpoint, "sh-data")
    sh.create_bucket(headers=SHANGHAI)
    assert oss2.Service(AUTH, endpoint).list_buckets().buckets[0].location == "oss-cn-shanghai"
    with pytest.raises(oss_errors.AccessDenied) as err:
        _info_via(endpoint, "sh-data", "cn-hangzhou")
    assert err.value.details["Endpoint"] == "oss-cn-shanghai.aliyuncs.com"
    # A bare IP endpoint names no region: the bucket answers wherever it is.
    assert sh.get_bucket_info().location == "oss-cn-shanghai"


def _info_via(endpoint: str, name: str, region: str):
    """GetBucketInfo with the Host of a region's endpoint."""
    b = bucket(endpoint, name)
    return b._Bucket__do_bucket("GET", params={"bucketInfo": ""}, headers={"Host": f"oss-{region}.aliyuncs.com"})


def test_listing_pages_with_prefix_marker_and_max_keys(endpoint, control):
    control.post("/bulk", {"type": "bucket", "count": 25, "name_prefix": "bulk"})
    bucket(endpoint, "other").create_bucket()
    service = oss2.Service(AUTH, endpoint)
    first = service.list_buckets(prefix="bulk-", max_keys=10)
    assert len(first.buckets) == 10 and first.is_truncated
    seen = [b.name for b in oss2.BucketIterator(service, prefix="bulk-", max_keys=10)]
    assert len(seen) == 25 and len(set(seen)) == 25 and "other" not in seen


def test_errors_have_the_services_codes(endpoint, control):
    b = bucket(endpoint, "taken")
    b.create_bucket()
    with pytest.raises(oss_errors.ServerError) as err:
        b.create_bucket()
    assert (err.value.status, err.value.code) == (409, "BucketAlreadyExists")
    with pytest.raises(oss_errors.NoSuchBucket):
        bucket(endpoint, "missing").get_bucket_info()
    with pytest.raises(oss_errors.NoSuchBucket):
        bucket(endpoint, "missing").delete_bucket()
    b.put_object("reports/2024.csv", b"a,b\n")
    with pytest.raises(oss_errors.BucketNotEmpty) as err:
        b.delete_bucket()
    assert err.value.status == 409
    b.delete_object("reports/2024.csv")
    assert b.delete_bucket().status == 204
    with pytest.raises(oss_errors.InvalidArgument):
        bucket(endpoint, "bad-acl").create_bucket("world-writable")
    with pytest.raises(oss_errors.AccessDenied):
        oss2.Service(oss2.AnonymousAuth(), endpoint).list_buckets()
    stats = control.get("/stats")
    assert stats["errors"]["BucketAlreadyExists"] == 1 and stats["calls"]["PutBucket"] >= 2


def test_a_bad_signature_or_key_is_refused(endpoint, control):
    with pytest.raises(oss_errors.SignatureDoesNotMatch) as err:
        oss2.Service(oss2.Auth(DEFAULT_ACCESS_KEY_ID, "wrong-secret"), endpoint).list_buckets()
    assert err.value.status == 403 and err.value.details["StringToSign"].startswith("GET\n")
    with pytest.raises(oss_errors.ServerError) as err:
        bucket(endpoint, "x-bucket", oss2.Auth("nobody", "secret")).create_bucket()
    assert (err.value.status, err.value.code) == (403, "InvalidAccessKeyId")
    assert names(endpoint) == []


def test_faults_apply_to_oss_actions(endpoint, control):
    control.post("/faults", {"action": "ListBuckets", "error_rate": 1.0, "code": "ServiceUnavailable",
                             "remaining": 1})
    with pytest.raises(oss_errors.ServerError) as err:
        names(endpoint)
    assert (err.value.status, err.value.code) == (503, "ServiceUnavailable")
    assert names(endpoint) == []


def test_buckets_are_in_the_snapshot(sim, endpoint, control, tmp_path):
    bucket(endpoint, "kept").create_bucket(oss2.BUCKET_ACL_PRIVATE, BucketCreateConfig("Archive"))
    path = tmp_path / "snap.json"
    control.post("/snapshot", {"path": str(path)})
    from cloudsim.store import Store

    store = Store(regions=["cn-hangzhou", "cn-shanghai"])
    assert store.load(str(path))
    assert store.tables["bucket"]["kept"]["StorageClass"] == "Archive"
