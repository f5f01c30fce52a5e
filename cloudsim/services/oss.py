"""OSS buckets: the XML REST API the OSS SDK (``oss2``) speaks, path-style (``/<bucket>/<key>``).

An IP or ``localhost`` endpoint makes the SDK address buckets by path, so cloudsim serves OSS on
the same port as the OpenAPI products. The region of a request is taken from a ``Host`` of the
form ``oss-<region>[-<cluster>][-internal].<domain>``; on a bare IP endpoint it is the first region of
the simulator. A region's buckets are located in its OSS cluster: ``oss-<region>`` unless the
simulator was given another name (an Apsara Stack names them ``oss-<region>-a`` and the like).
Signature version 1 (``Authorization: OSS <AccessKeyId>:<signature>``, HMAC-SHA1), the
SDK's default, is verified. Objects are kept as names and sizes only, enough for ``BucketNotEmpty``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from email.utils import parsedate_to_datetime
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from ..errors import CloudError
from ..store import Store, iso_now

OWNER_ID = "1318000000000000"
OWNER_NAME = "cloudsim"
ACLS = ("private", "public-read", "public-read-write")
STORAGE_CLASSES = ("Standard", "IA", "Archive", "ColdArchive", "DeepColdArchive")
REDUNDANCY = ("LRS", "ZRS")
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
MAX_SKEW_SECONDS = 15 * 60
# Query parameters that are part of the signed resource (as the OSS SDK signs them).
SUBRESOURCES = frozenset((
    "acl", "uploadId", "uploads", "partNumber", "group", "link", "delete", "website", "location", "objectInfo",
    "objectMeta", "response-content-type", "response-content-language", "response-expires",
    "response-cache-control", "response-content-disposition", "response-content-encoding", "cors", "lifecycle",
    "restore", "qos", "referer", "stat", "bucketInfo", "append", "position", "security-token", "live", "comp",
    "status", "vod", "startTime", "endTime", "x-oss-process", "symlink", "callback", "callback-var", "tagging",
    "encryption", "versions", "versioning", "versionId", "policy", "requestPayment", "x-oss-traffic-limit",
    "qosInfo", "asyncFetch", "x-oss-request-payer", "sequential", "inventory", "inventoryId",
    "continuation-token", "worm", "wormId", "wormExtend", "replication", "replicationLocation",
    "replicationProgress", "transferAcceleration", "cname", "metaQuery", "resourceGroup", "style", "styleName",
    "x-oss-async-process", "regionList", "logging",
))


class OssError(CloudError):
    """An OSS error, answered as an XML ``<Error>`` document."""

    def __init__(self, code: str, message: str, status: int = 400, **extra: str):
        super().__init__(code, message, status)
        self.extra = extra


def error_xml(error: CloudError, request_id: str, host: str) -> bytes:
    extra = getattr(error, "extra", {}) or {}
    fields = {"Code": error.code, "Message": error.message, "RequestId": request_id, "HostId": host, **extra}
    return _doc("Error", "".join(_el(k, v) for k, v in fields.items()))


def _el(tag: str, value: Any) -> str:
    return f"<{tag}>{escape(str(value))}</{tag}>"


def _doc(root: str, inner: str) -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<{root}>{inner}</{root}>'.encode()


def is_oss_request(path: str, query: dict[str, str], headers: dict[str, list[str]]) -> bool:
    """OSS requests are signed ``OSS ...``, address a bucket (any path but ``/``), or are unsigned and name
    no OpenAPI action (an anonymous ListBuckets)."""
    auth = (headers.get("authorization") or [""])[0]
    if auth.startswith("OSS") or path != "/" or "OSSAccessKeyId" in query:
        return True
    content_type = (headers.get("content-type") or [""])[0]
    return (not auth and "Action" not in query and "Signature" not in query and "x-acs-action" not in headers
            and not content_type.startswith("application/x-www-form-urlencoded"))


def split_path(path: str) -> tuple[str, str]:
    """(bucket, key) of a path-style request path."""
    from urllib.parse import unquote

    parts = path.lstrip("/").split("/", 1)
    return unquote(parts[0]), unquote(parts[1]) if len(parts) > 1 else ""


def action_name(method: str, bucket: str, key: str, query: dict[str, str]) -> str:
    if not bucket:
        return "ListBuckets" if method == "GET" else "Unsupported"
    if key:
        return {"PUT": "PutObject", "DELETE": "DeleteObject"}.get(method, "Unsupported")
    if "bucketInfo" in query and method == "GET":
        return "GetBucketInfo"
    if "location" in query and method == "GET":
        return "GetBucketLocation"
    if "acl" in query:
        return {"GET": "GetBucketAcl", "PUT": "PutBucketAcl"}.get(method, "Unsupported")
    if "lifecycle" in query:
        return {"GET": "GetBucketLifecycle", "PUT": "PutBucketLifecycle", "DELETE": "DeleteBucketLifecycle"}.get(
            method, "Unsupported")
    if query:
        return "Unsupported"
    return {"PUT": "PutBucket", "DELETE": "DeleteBucket", "GET": "ListObjects"}.get(method, "Unsupported")


# -- signature ----------------------------------------------------------------------------------------


def _header(headers: dict[str, list[str]], name: str) -> str:
    return (headers.get(name) or [""])[0]


def string_to_sign(method: str, bucket: str, key: str, query: dict[str, str], headers: dict[str, list[str]]) -> str:
    canon = sorted((k, v[0]) for k, v in headers.items() if k.startswith("x-oss-"))
    canon_text = "".join(f"{k}:{v}\n" for k, v in canon)
    sub = sorted((k, v) for k, v in query.items() if k in SUBRESOURCES)
    sub_text = ("?" + "&".join(f"{k}={v}" if v else k for k, v in sub)) if sub else ""
    resource = f"/{bucket}/{key}{sub_text}" if bucket else f"/{sub_text}"
    date = _header(headers, "x-oss-date") or _header(headers, "date")
    return "\n".join([method, _header(headers, "content-md5"), _header(headers, "content-type"), date,
                      canon_text + resource])


def verify(method: str, bucket: str, key: str, query: dict[str, str], headers: dict[str, list[str]],
           credentials: dict[str, str], now: float | None = None) -> str:
    """Check a version 1 signature; return the AccessKey id."""
    auth = _header(headers, "authorization")
    if not auth:
        raise OssError("AccessDenied", "AccessDenied: Anonymous access is forbidden for this operation.", 403)
    if not auth.startswith("OSS ") or ":" not in auth:
        raise OssError("InvalidArgument", "Authorization header is invalid (cloudsim verifies signature version 1).",
                       400, ArgumentName="Authorization", ArgumentValue=auth[:40])
    access_key, _, provided = auth[4:].strip().rpartition(":")
    secret = credentials.get(access_key)
    if secret is None:
        raise OssError("InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist in our records.",
                       403, OSSAccessKeyId=access_key)
    date = _header(headers, "x-oss-date") or _header(headers, "date")
    try:
        when = parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError):
        raise OssError("AccessDenied", "Invalid date format in the request: the Date header is missing.",
                       403) from None
    if abs((time.time() if now is None else now) - when) > MAX_SKEW_SECONDS:
        raise OssError("RequestTimeTooSkewed",
                       "The difference between the request time and the current time is too large.", 403,
                       RequestTime=date, ServerTime=iso_now())
    text = string_to_sign(method, bucket, key, query, headers)
    expected = base64.b64encode(hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()).decode()
    if not hmac.compare_digest(expected, provided):
        raise OssError("SignatureDoesNotMatch",
                       "The request signature we calculated does not match the signature you provided. "
                       "Check your key and signing method.", 403, StringToSign=text, SignatureProvided=provided,
                       OSSAccessKeyId=access_key)
    return access_key


# -- buckets -------------------------------------------------------------------------------------------


def location_of(store: Store, region_id: str) -> str:
    """The OSS cluster (bucket location) of a region."""
    return store.oss_clusters.get(region_id) or f"oss-{region_id}"


def request_region(store: Store, headers: dict[str, list[str]]) -> tuple[str, bool]:
    """(region, whether the Host named it): the longest region whose cluster or ``oss-<region>`` starts the Host."""
    label = _header(headers, "host").lower().split(".", 1)[0].removesuffix("-internal")
    named = [r for r in store.regions
             if label in (f"oss-{r}", location_of(store, r)) or label.startswith(f"oss-{r}-")]
    if named:
        return max(named, key=len), True
    return store.regions[0], False


def new_bucket(store: Store, name: str, region_id: str, *, acl: str = "private", storage_class: str = "Standard",
               redundancy: str = "LRS", now: float | None = None) -> dict[str, Any]:
    if not BUCKET_RE.match(name):
        raise OssError("InvalidBucketName", "The specified bucket is not valid.", 400, BucketName=name)
    if name in store.tables["bucket"]:
        raise OssError("BucketAlreadyExists", "The requested bucket name is not available. The bucket namespace "
                       "is shared by all users of the system. Please select a different name and try again.",
                       409, BucketName=name)
    now = time.time() if now is None else now
    record = {"Name": name, "RegionId": region_id, "Location": location_of(store, region_id),
              "StorageClass": storage_class,
              "Acl": acl, "DataRedundancyType": redundancy, "Status": "Available",
              "CreationDate": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now)), "_objects": {},
              "_created": now}
    return store.add("bucket", record, "Name")


def bulk_buckets(store: Store, *, count: int, region_id: str, name_prefix: str, storage_class: str,
                 acl: str) -> list[str]:
    if storage_class not in STORAGE_CLASSES or acl not in ACLS:
        raise ValueError("unknown storage_class or acl")
    names, n = [], 0
    now = time.time()
    while len(names) < count:
        n += 1
        name = f"{name_prefix}-{n}"
        if name in store.tables["bucket"]:
            continue
        names.append(new_bucket(store, name, region_id, acl=acl, storage_class=storage_class, now=now)["Name"])
    return names


def _bucket(store: Store, name: str, region_id: str, explicit: bool) -> dict[str, Any]:
    record = store.tables["bucket"].get(name)
    if record is None:
        raise OssError("NoSuchBucket", "The specified bucket does not exist.", 404, BucketName=name)
    if explicit and record["RegionId"] != region_id:
        raise OssError("AccessDenied", "The bucket you are attempting to access must be addressed using the "
                       "specified endpoint. Please send all future requests to this endpoint.", 403,
                       Bucket=name, Endpoint=f"{record['Location']}.aliyuncs.com")
    return record


def _endpoints(record: dict[str, Any]) -> str:
    return (_el("ExtranetEndpoint", f"{record['Location']}.aliyuncs.com")
            + _el("IntranetEndpoint", f"{record['Location']}-internal.aliyuncs.com"))


def _owner() -> str:
    return f"<Owner>{_el('ID', OWNER_ID)}{_el('DisplayName', OWNER_NAME)}</Owner>"


def _int(query: dict[str, str], name: str, default: int, hi: int) -> int:
    raw = query.get(name) or ""
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= hi:
        raise OssError("InvalidArgument", f"Argument {name} is not valid.", 400, ArgumentName=name,
                       ArgumentValue=raw)
    return int(raw)


def list_buckets(store: Store, query: dict[str, str]) -> bytes:
    prefix, marker = query.get("prefix", ""), query.get("marker", "")
    max_keys = _int(query, "max-keys", 100, 1000)
    names = sorted(n for n in store.tables["bucket"] if n.startswith(prefix) and n > marker)
    page, truncated = names[:max_keys], len(names) > max_keys
    rows = []
    for name in page:
        r = store.tables["bucket"][name]
        rows.append("<Bucket>" + _el("CreationDate", r["CreationDate"]) + _endpoints(r) + _el("Location", r["Location"])
                    + _el("Name", name) + _el("Region", r["RegionId"]) + _el("StorageClass", r["StorageClass"])
                    + "</Bucket>")
    head = (_el("Prefix", prefix) if prefix else "") + (_el("Marker", marker) if marker else "")
    tail = _el("IsTruncated", "true" if truncated else "false")
    if truncated:
        tail += _el("NextMarker", page[-1])
    return _doc("ListAllMyBucketsResult", _owner() + head + _el("MaxKeys", max_keys) + tail
                + "<Buckets>" + "".join(rows) + "</Buckets>")


def bucket_info(record: dict[str, Any]) -> bytes:
    inner = (_el("AccessMonitor", "Disabled") + _el("CreationDate", record["CreationDate"])
             + _el("CrossRegionReplication", "Disabled") + _el("DataRedundancyType", record["DataRedundancyType"])
             + _endpoints(record) + _el("Location", record["Location"]) + _el("Name", record["Name"])
             + _el("StorageClass", record["StorageClass"]) + _el("TransferAcceleration", "Disabled") + _owner()
             + f"<AccessControlList>{_el('Grant', record['Acl'])}</AccessControlList>"
             + "<ServerSideEncryptionRule><SSEAlgorithm>None</SSEAlgorithm></ServerSideEncryptionRule>")
    return _doc("BucketInfo", f"<Bucket>{inner}</Bucket>")


def _create_config(body: bytes) -> tuple[str, str]:
    if not body.strip():
        return "Standard", "LRS"
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise OssError("MalformedXML", "The XML you provided was not well-formed or did not validate against "
                       "our published schema.", 400) from None
    storage = (root.findtext("StorageClass") or "Standard").strip()
    redundancy = (root.findtext("DataRedundancyType") or "LRS").strip()
    if storage not in STORAGE_CLASSES:
        raise OssError("InvalidArgument", f"Unsupported storage class {storage}.", 400,
                       ArgumentName="StorageClass", ArgumentValue=storage)
    if redundancy not in REDUNDANCY:
        raise OssError("InvalidArgument", f"Unsupported data redundancy type {redundancy}.", 400,
                       ArgumentName="DataRedundancyType", ArgumentValue=redundancy)
    return storage, redundancy


def _lifecycle_rules(body: bytes) -> list[dict[str, Any]]:
    """Expiration rules of a PutBucketLifecycle body: ID, Prefix, Status and Expiration/Days each."""
    def malformed() -> OssError:
        return OssError("MalformedXML", "The XML you provided was not well-formed or did not validate against "
                        "our published schema.", 400)

    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise malformed() from None
    rules = []
    for rule in root.findall("Rule"):
        days = (rule.findtext("Expiration/Days") or "").strip()
        status = (rule.findtext("Status") or "").strip()
        if not days.isdigit() or int(days) < 1 or status not in ("Enabled", "Disabled"):
            raise malformed()
        rules.append({"id": (rule.findtext("ID") or "").strip(), "prefix": (rule.findtext("Prefix") or "").strip(),
                      "status": status, "days": int(days)})
    if not rules or len(rules) > 1000:
        raise malformed()
    return rules


def _acl(headers: dict[str, list[str]], default: str | None = "private") -> str:
    acl = _header(headers, "x-oss-acl") or default
    if acl not in ACLS:
        raise OssError("InvalidArgument", "no such bucket access control exists", 400, ArgumentName="x-oss-acl",
                       ArgumentValue=str(acl))
    return acl


def handle(store: Store, action: str, method: str, bucket: str, key: str, query: dict[str, str],
           headers: dict[str, list[str]], body: bytes) -> tuple[int, bytes, dict[str, str]]:
    """Carry out one authenticated OSS request (the store lock held): (status, XML body, headers)."""
    region_id, explicit = request_region(store, headers)
    if action == "ListBuckets":
        return 200, list_buckets(store, query), {}
    if action == "PutBucket":
        acl = _acl(headers)
        storage, redundancy = _create_config(body)
        new_bucket(store, bucket, region_id, acl=acl, storage_class=storage, redundancy=redundancy)
        return 200, b"", {"Location": f"/{bucket}"}
    record = _bucket(store, bucket, region_id, explicit)
    if action == "DeleteBucket":
        if record["_objects"]:
            raise OssError("BucketNotEmpty", "The bucket you tried to delete is not empty.", 409, BucketName=bucket)
        store.remove("bucket", record)
        return 204, b"", {}
    if action == "GetBucketInfo":
        return 200, bucket_info(record), {}
    if action == "GetBucketLocation":
        return 200, _doc("LocationConstraint", escape(record["Location"])), {}
    if action == "GetBucketAcl":
        return 200, _doc("AccessControlPolicy", _owner() + f"<AccessControlList>{_el('Grant', record['Acl'])}"
                         "</AccessControlList>"), {}
    if action == "PutBucketAcl":
        record["Acl"] = _acl(headers, None)
        store.dirty = True
        return 200, b"", {}
    if action == "PutBucketLifecycle":
        record["_lifecycle"] = _lifecycle_rules(body)
        store.dirty = True
        return 200, b"", {}
    if action == "GetBucketLifecycle":
        rules = record.get("_lifecycle") or []
        if not rules:
            raise OssError("NoSuchLifecycle", "No Row found in Lifecycle Table.", 404, BucketName=bucket)
        inner = "".join(
            "<Rule>" + _el("ID", r["id"]) + _el("Prefix", r["prefix"]) + _el("Status", r["status"])
            + f"<Expiration>{_el('Days', r['days'])}</Expiration></Rule>" for r in rules)
        return 200, _doc("LifecycleConfiguration", inner), {}
    if action == "DeleteBucketLifecycle":
        record["_lifecycle"] = []
        store.dirty = True
        return 204, b"", {}
    if action == "PutObject":
        etag = '"' + hashlib.md5(body).hexdigest().upper() + '"'  # noqa: S324 - the ETag OSS computes
        record["_objects"][key] = {"size": len(body), "etag": etag, "modified": iso_now()}
        store.dirty = True
        return 200, b"", {"ETag": etag}
    if action == "DeleteObject":
        record["_objects"].pop(key, None)
        store.dirty = True
        return 204, b"", {}
    raise OssError("NotImplemented", "cloudsim does not implement this OSS operation.", 501, Method=method)
