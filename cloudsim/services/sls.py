"""Log Service (``Sls``, version 2020-12-30): projects and logstores, in the service's own wire protocol.

Log Service is not an RPC or ACS3 product. As the official SDK (``alibabacloud_sls20201230`` with its
gateway ``alibabacloud_gateway_sls``) sends it:

- the project is the first label of the ``Host`` name (``<project>.<endpoint>``); a call about no
  project (``ListProject``, ``CreateProject``) goes to the endpoint itself. cloudsim takes the project
  from the ``Host`` header, so a client that cannot resolve ``<project>.<address>`` may send the request
  to cloudsim's address with the project's host name in the request line (an HTTP proxy request) or
  only in the ``Host`` header, as the Log Service SDKs do for an endpoint given as an IP address;
- the signature is ``Authorization: LOG <AccessKey id>:<base64 HMAC-SHA256>`` over the method, the
  ``content-md5``, ``content-type`` and ``date`` headers, every ``x-log-*`` and ``x-acs-*`` header
  (sorted, ``name:value``) and the path with its sorted query (``/logstores?offset=0&size=100``);
  ``date`` may be at most 15 minutes off; a security token is sent in ``x-acs-security-token``;
- the action is the method and path (``GET /logstores/{logstore}``); JSON bodies carry the parameters
  of the writes; answers are the bare JSON object with ``x-log-requestid``; errors are
  ``{"errorCode", "errorMessage"}`` with the HTTP status: ``Unauthorized`` (401, unknown key),
  ``SignatureNotMatch`` (401), ``RequestTimeTooSkewed`` (400), ``ProjectNotExist`` and
  ``LogStoreNotExist`` (404), ``ProjectAlreadyExist`` and ``LogStoreAlreadyExist`` (400),
  ``ParameterInvalid`` (400). Apsara Stack accounts name their organization and resource set in
  ``x-acs-*`` headers as for every product (strict mode).

``ListProject`` and ``ListLogStores`` page by ``offset``/``size`` (at most 500) and answer ``count``
and ``total``; ``ListLogStores`` answers the names, ``GetLogStore`` one logstore. A project lives in
the region named by ``x-acs-regionid`` (else the first region); ``ListProject`` answers the projects
of that region when the header names one, else every region's (each names its ``region``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import re
import time
from email.utils import parsedate_to_datetime
from typing import Any

from ..accounts import REGION_HEADER, TOKEN_HEADER
from ..errors import CloudError
from ..rest import Protocol, register_protocol
from ..signing import MAX_CLOCK_SKEW_SECONDS
from ..store import REMOVE_HOOKS, Store, register_kind
from . import action, product

V = "2020-12-30"
product(V, "Sls")
register_kind("sls_project")
register_kind("sls_logstore")
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
STORE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$")
# (method, path pattern, whether a project is named in the host) -> action
_ROUTES: list[tuple[str, re.Pattern[str], bool, str]] = [
    ("GET", re.compile(r"^/$"), False, "ListProject"),
    ("POST", re.compile(r"^/$"), False, "CreateProject"),
    ("GET", re.compile(r"^/$"), True, "GetProject"),
    ("DELETE", re.compile(r"^/$"), True, "DeleteProject"),
    ("GET", re.compile(r"^/logstores$"), True, "ListLogStores"),
    ("POST", re.compile(r"^/logstores$"), True, "CreateLogStore"),
    ("GET", re.compile(r"^/logstores/(?P<logstore>[^/]+)$"), True, "GetLogStore"),
    ("DELETE", re.compile(r"^/logstores/(?P<logstore>[^/]+)$"), True, "DeleteLogStore"),
]


def _error(code: str, message: str, status: int = 400) -> CloudError:
    return CloudError(code, message, status)


def project_of(host: str, regions: list[str]) -> str | None:
    """The project a ``Host`` header names: the first label of ``<project>.<endpoint>``. No project for
    an address, a one-label name (``cloudsim``, ``localhost``) or a regional endpoint (``cn-hangzhou...``)."""
    name = host.strip().lower()
    if name.startswith("["):
        return None
    if re.search(r":\d+$", name):
        name = name.rsplit(":", 1)[0]
    try:
        ipaddress.ip_address(name)
        return None
    except ValueError:
        pass
    if "." not in name:
        return None
    first = name.split(".", 1)[0]
    return None if first in regions else first


def _verify(sim: Any, method: str, path: str, query: dict[str, str], headers: dict[str, list[str]],
            body: bytes) -> str:
    """Check the ``LOG`` signature; return the AccessKey id."""
    authorization = (headers.get("authorization") or [""])[0]
    if not authorization.startswith("LOG ") or ":" not in authorization:
        raise _error("Unauthorized", "The request is not signed with the LOG signature.", 401)
    access_key_id, _, signature = authorization[4:].strip().rpartition(":")
    secret = sim.accounts.secret_for(access_key_id)
    if secret is None:
        raise _error("Unauthorized", f"AccessKeyId not found: {access_key_id}", 401)

    def one(name: str) -> str:
        return (headers.get(name) or [""])[0]

    md5 = one("content-md5")
    if body and md5 != hashlib.md5(body).hexdigest().upper():  # noqa: S324 - the protocol's content hash
        raise _error("SignatureNotMatch", "The content-md5 does not match the body.", 401)
    signed = "".join(f"{name}:{values[0]}\n" for name, values in sorted(headers.items())
                     if name.startswith(("x-log-", "x-acs-")))
    resource = path + ("?" + "&".join(f"{k}={query[k]}" for k in sorted(query)) if query else "")
    string_to_sign = f"{method}\n{md5}\n{one('content-type')}\n{one('date')}\n{signed}{resource}"
    expected = base64.b64encode(hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(expected, signature):
        raise _error("SignatureNotMatch", f"signature {signature} not match", 401)
    try:
        sent = parsedate_to_datetime(one("date")).timestamp()
    except (TypeError, ValueError):
        raise _error("ParameterInvalid", "The date header is missing or not an HTTP date.") from None
    if abs(time.time() - sent) > MAX_CLOCK_SKEW_SECONDS:
        raise _error("RequestTimeTooSkewed", "The difference between the request time and the server time is "
                     "too large.")
    return access_key_id


def authenticate(sim: Any, method: str, path: str, query: dict[str, str], headers: dict[str, list[str]],
                 body: bytes) -> tuple[str, str, Any, dict[str, str]]:
    access_key_id = _verify(sim, method, path, query, headers, body)
    account = sim.accounts.account_for(access_key_id, (headers.get(TOKEN_HEADER) or [""])[0])
    region = (headers.get(REGION_HEADER) or [""])[0]
    if sim.strict:
        sim.accounts.check_apsara(account, headers)
    if region:
        sim.store.check_region(region)
    project = project_of((headers.get("host") or [""])[0], sim.store.regions)
    for want, pattern, needs_project, route_action in _ROUTES:
        match = pattern.match(path)
        if match and want == method and needs_project == (project is not None):
            params = {k: str(v) for k, v in match.groupdict().items()}
            name = route_action
            break
    else:
        raise _error("ParameterInvalid", f"No Log Service action is {method} {path}"
                     f"{' in a project' if project else ''}.", 404)
    if body:
        try:
            data = json.loads(body)
        except ValueError:
            raise _error("PostBodyInvalid", "The body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise _error("PostBodyInvalid", "The body must be a JSON object.")
        params.update({k: json.dumps(v) if isinstance(v, dict | list) else str(v).lower() if isinstance(v, bool)
                       else str(v) for k, v in data.items() if v is not None})
    params["_project"] = project or ""
    params["_region"] = region
    return V, name, account, params


def answer(result: dict[str, Any], request_id: str) -> tuple[int, Any, dict[str, str]]:
    return 200, (result if result else b""), {"x-log-requestid": request_id}


def error(exc: CloudError, request_id: str) -> tuple[int, Any, dict[str, str]]:
    return exc.status, {"errorCode": exc.code, "errorMessage": exc.message}, {"x-log-requestid": request_id}


def _claims(headers: dict[str, list[str]]) -> bool:
    authorization = (headers.get("authorization") or [""])[0]
    return "x-log-apiversion" in headers or authorization.startswith("LOG ")


register_protocol(Protocol("sls", _claims, authenticate, answer, error))


# -- actions ---------------------------------------------------------------------------------------

def _project(store: Store, p) -> dict[str, Any]:
    name = p.str("_project") or ""
    record = store.tables["sls_project"].get(name)
    if record is None:
        raise _error("ProjectNotExist", f"Project {name} does not exist", 404)
    return record


def _render_project(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_") and k not in ("RegionId", "Status")}


def _paged(rows: list, p) -> tuple[list, int]:
    offset = p.int("offset", 0, lo=0, hi=10_000_000) or 0
    size = p.int("size", 100, lo=1, hi=500) or 100
    return rows[offset:offset + size], len(rows)


@action(V, "ListProject")
def list_project(store: Store, p) -> dict[str, Any]:
    region = p.str("_region")
    name, group = p.str("projectName"), p.str("resourceGroupId")
    rows = [r for r in store.rows("sls_project", region) if (not name or name in r["projectName"])
            and (not group or r["resourceGroupId"] == group)]
    chunk, total = _paged(rows, p)
    return {"count": len(chunk), "total": total, "projects": [_render_project(r) for r in chunk]}


@action(V, "GetProject")
def get_project(store: Store, p) -> dict[str, Any]:
    return _render_project(_project(store, p))


@action(V, "CreateProject")
def create_project(store: Store, p) -> dict[str, Any]:
    name = p.str("projectName", required=True) or ""
    description = p.str("description", required=True) or ""
    if not NAME.match(name):
        raise _error("ParameterInvalid", "The project name must be 3-63 lower-case letters, digits and hyphens, "
                     "starting and ending with a letter or digit.")
    if name in store.tables["sls_project"]:
        raise _error("ProjectAlreadyExist", f"Project {name} already exist")
    region = p.str("_region") or store.regions[0]
    now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    store.add("sls_project", {
        "projectName": name, "description": description, "region": region, "RegionId": region, "status": "Normal",
        "owner": "", "createTime": now, "lastModifyTime": now,
        "resourceGroupId": p.str("resourceGroupId", "rg-default"),
        "dataRedundancyType": p.str("dataRedundancyType", "LRS"), "recycleBinEnabled": p.bool("recycleBinEnabled"),
        "internalEndpoint": f"{region}-intranet.log.cloudsim.internal",
        "internetEndpoint": f"{region}.log.cloudsim.internal",
    }, "projectName")
    return {}


@action(V, "DeleteProject")
def delete_project(store: Store, p) -> dict[str, Any]:
    store.remove("sls_project", _project(store, p))
    return {}


def _remove_logstores(store: Store, project: dict[str, Any]) -> None:
    for record in list(store.tables["sls_logstore"].values()):
        if record["_project"] == project["projectName"]:
            store.remove("sls_logstore", record)


REMOVE_HOOKS["sls_project"] = _remove_logstores


def _logstore(store: Store, p) -> dict[str, Any]:
    project = _project(store, p)
    name = p.str("logstore") or ""
    record = store.tables["sls_logstore"].get(f"{project['projectName']}/{name}")
    if record is None:
        raise _error("LogStoreNotExist", f"logstore {name} does not exist", 404)
    return record


@action(V, "ListLogStores")
def list_log_stores(store: Store, p) -> dict[str, Any]:
    project = _project(store, p)
    name, mode = p.str("logstoreName"), p.str("mode")
    rows = [r for r in store.rows("sls_logstore") if r["_project"] == project["projectName"]
            and (not name or name in r["logstoreName"]) and (not mode or r["mode"] == mode)]
    chunk, total = _paged(rows, p)
    return {"count": len(chunk), "total": total, "logstores": [r["logstoreName"] for r in chunk]}


@action(V, "GetLogStore")
def get_log_store(store: Store, p) -> dict[str, Any]:
    return _render_project(_logstore(store, p))


@action(V, "CreateLogStore")
def create_log_store(store: Store, p) -> dict[str, Any]:
    project = _project(store, p)
    name = p.str("logstoreName", required=True) or ""
    ttl = p.int("ttl", required=True, lo=1, hi=3650)
    shards = p.int("shardCount", required=True, lo=1, hi=256)
    if not STORE_NAME.match(name):
        raise _error("ParameterInvalid", "The logstore name must be 3-63 lower-case letters, digits, hyphens and "
                     "underscores, starting and ending with a letter or digit.")
    key = f"{project['projectName']}/{name}"
    if key in store.tables["sls_logstore"]:
        raise _error("LogStoreAlreadyExist", f"logstore {name} already exists")
    now = int(time.time())
    store.add("sls_logstore", {
        "logstoreName": name, "ttl": ttl, "shardCount": shards, "hot_ttl": p.int("hot_ttl", ttl),
        "mode": p.str("mode", "standard", choices={"standard", "query"}),
        "telemetryType": p.str("telemetryType", "None"), "autoSplit": p.bool("autoSplit", True),
        "maxSplitShard": p.int("maxSplitShard", 64), "appendMeta": p.bool("appendMeta"),
        "enable_tracking": p.bool("enable_tracking"), "createTime": now, "lastModifyTime": now,
        "productType": "", "resourceGroupId": project["resourceGroupId"], "_key": key,
        "_project": project["projectName"], "RegionId": project["region"],
    }, "_key")
    return {}


@action(V, "DeleteLogStore")
def delete_log_store(store: Store, p) -> dict[str, Any]:
    store.remove("sls_logstore", _logstore(store, p))
    return {}
