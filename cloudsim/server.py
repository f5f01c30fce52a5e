"""The HTTP front of cloudsim: OpenAPI requests (signed), OSS requests, and the control endpoint (``/_cloudsim/``).

OpenAPI requests arrive at ``/`` (a product's own endpoint) or at ``/asapi/v3`` (an Apsara Stack
ASAPI gateway, which names the product in ``x-acs-asapi-product``). In strict mode (the default)
cloudsim refuses what a real Apsara Stack refuses: ``x-acs-*`` headers that are not signed, calls of
an Apsara Stack AccessKey that do not name its organization and resource set, expired or foreign
security tokens, and the request parameters each product requires.
"""

from __future__ import annotations

import gc
import ipaddress
import json
import logging
import re
import socket
import ssl
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import rest, signing
from .accounts import REGION_HEADER, TOKEN_HEADER, Account, Accounts
from .errors import CloudError, missing
from .faults import Faults
from .params import Params
from .services import ACTIONS, VERSIONS, load_all, oss, oss_replication
from .store import CONTROL_ROUTES, READ_PREFIXES, RESOURCE_TYPES, Store

log = logging.getLogger("cloudsim")

DEFAULT_ACCESS_KEY_ID = "cloudsim-access-key"
DEFAULT_ACCESS_KEY_SECRET = "cloudsim-access-secret"
# The AccessKey of an Apsara Stack account: organization 10, resource sets 101 and 102.
APSARA_ACCESS_KEY_ID = "cloudsim-apsara-key"
APSARA_ACCESS_KEY_SECRET = "cloudsim-apsara-secret"
APSARA_ORGANIZATION_ID = "10"
APSARA_RESOURCE_SET_ID = "101"
# The simulated Apsara Stack's organizations and the resource sets of each.
ORGANIZATIONS: dict[str, tuple[str, ...]] = {"10": ("101", "102"), "20": ("201",)}
ASAPI_PATH = "/asapi/v3"
ASAPI_PRODUCT_HEADERS = ("x-acs-asapi-product", "x-ascm-product-name")
STS_VERSION = "2015-04-01"
CONTROL_PREFIX = "/_cloudsim"
MAX_BODY_BYTES = 10 * 1024 * 1024
JSON_TYPE = "application/json;charset=utf-8"
# Request parameters that name a place or an owner, not a resource (left out of the call log's ids).
_NOT_RESOURCE = re.compile(r"Region|Zone|Owner|ResourceGroup|ClientToken|KMSKey|KmsKey|^RequestId$|^OrderId$|"
                           r"^TaskId$|Account")
_ID_PARAM = re.compile(r"(Id|Ids)(\.\d+)?$")
# Parameters naming a resource a write action only reads (a clone's source, a snapshot's disk): the call
# log does not count such a call as a write on them.
READ_ONLY_PARAMS: dict[str, tuple[str, ...]] = {
    "CloneDBInstance": ("DBInstanceId", "BackupId"), "CreateBackup": ("DBInstanceId",), "CreateSnapshot": ("DiskId",),
    "CreateSnapshotGroup": ("InstanceId", "DiskId"), "CopySnapshot": ("SnapshotId",), "CreateDisk": ("SnapshotId",),
    "CreateImage": ("InstanceId", "SnapshotId"), "CopyImage": ("ImageId",), "StartPairDrill": ("PairId",),
    "ClearPairDrill": ("PairId",), "ExecuteBackupPlan": ("PlanId",), "CreateBackupPlan": ("InstanceId", "Bucket"),
    "CreateRestoreJob": ("SnapshotId",), "RunInstances": ("ImageId", "SecurityGroupId", "VSwitchId"),
    "CreateInstance": ("ImageId", "SecurityGroupId", "VSwitchId"),
}
_ID_VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{2,127}$")


def resource_ids(params: dict[str, str], result: dict[str, Any] | None) -> list[str]:
    """The resource ids a call names: parameters called ``...Id``/``...Ids`` (single, ``.N``, a JSON list
    or a comma-separated list) and the ids its answer hands out (``...Id`` keys and RunInstances' set)."""
    out: list[str] = []
    for key, value in params.items():
        base = key.split(".")[0] if key.split(".")[-1].isdigit() else key
        if not value or not _ID_PARAM.search(base) or _NOT_RESOURCE.search(base):
            continue
        values: list[str] = []
        if value.startswith("["):
            try:
                values = [str(v) for v in json.loads(value) if isinstance(v, str | int)]
            except ValueError:
                values = []
        else:
            values = [v.strip() for v in value.split(",")]
        out += [v for v in values if _ID_VALUE.match(v)]
    for key, value in (result or {}).items():
        if key.endswith("Id") and not _NOT_RESOURCE.search(key) and isinstance(value, str | int) and value != "":
            out.append(str(value))
    sets = ((result or {}).get("InstanceIdSets") or {}).get("InstanceIdSet") or []
    out += [str(i) for i in sets]
    return out


class CloudSim:
    """One simulated region: state, credentials, faults and the HTTP server in front of them."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 9100, regions: list[str] | None = None,
                 provision_seconds: float = 2.0, credentials: dict[str, str] | None = None,
                 accounts: list[Account] | None = None, snapshot_path: str | None = None, seed: int = 1,
                 allow_remote_control: bool = False, capacity: dict[str, int] | None = None, strict: bool = True,
                 tls: tuple[str, str] | None = None, oss_clusters: dict[str, str] | None = None):
        """``credentials`` are AccessKeys of Alibaba Cloud accounts (id -> secret); ``accounts`` adds
        AccessKeys of Apsara Stack accounts (default: ``APSARA_ACCESS_KEY_ID`` in organization 10).
        ``tls`` (certificate file, key file) serves HTTPS; ``oss_clusters`` names the OSS cluster
        (bucket location) of a region, e.g. ``{"cn-hangzhou": "oss-cn-hangzhou-a"}``."""
        load_all()
        self.store = Store(regions=regions or ["cn-hangzhou", "cn-shanghai"], provision_seconds=provision_seconds,
                           seed=seed, snapshot_path=snapshot_path, capacity=capacity)
        self.store.oss_clusters = dict(oss_clusters or {})
        if snapshot_path:
            self.store.load()
        keys = [Account(k, v) for k, v in (credentials or {DEFAULT_ACCESS_KEY_ID: DEFAULT_ACCESS_KEY_SECRET}).items()]
        if accounts is None:
            accounts = [Account(APSARA_ACCESS_KEY_ID, APSARA_ACCESS_KEY_SECRET, APSARA_ORGANIZATION_ID)]
        self.accounts = Accounts(keys + list(accounts), ORGANIZATIONS)
        self.strict = strict
        self.asapi_calls = 0
        self.faults = Faults(seed)
        self.nonces = signing.NonceCache()
        self.allow_remote_control = allow_remote_control
        self.client_tokens: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.errors: dict[str, int] = {}
        self.stopping = threading.Event()
        handler = type("BoundHandler", (Handler,), {"sim": self})
        self.httpd = _Server((host, port), handler)
        self.scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            # The handshake runs in the connection's thread (Handler.setup), never in the accept loop.
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True,
                                                    do_handshake_on_connect=False)
            self.scheme = "https"
        self._thread: threading.Thread | None = None

    @property
    def credentials(self) -> dict[str, str]:
        """Every AccessKey id cloudsim accepts with its secret, temporary ones included."""
        return self.accounts.secrets()

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def endpoint(self) -> str:
        return f"{self.httpd.server_address[0]}:{self.port}"

    def serve_forever(self) -> None:
        self.store.start_autosave()
        try:
            self.httpd.serve_forever(poll_interval=0.2)
        finally:
            self.close()

    def start(self) -> CloudSim:
        """Serve in a background thread (for tests and embedding)."""
        self.store.start_autosave()
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="cloudsim", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.close()

    def close(self) -> None:
        self.stopping.set()
        self.httpd.server_close()
        self.store.stop_autosave()

    # -- OpenAPI -----------------------------------------------------------------------------------

    def authenticate(self, method: str, path: str, query: dict[str, str], form: dict[str, str],
                     headers: dict[str, list[str]], body: bytes) -> tuple[str, str, Account]:
        """Verify the signature, the security token and the Apsara headers; return (version, action, account)."""
        if "authorization" in headers:
            access_key = signing.verify_acs3(method=method, path=path, query=query, headers=headers, body=body,
                                             secret_for=self.accounts.secret_for, nonces=self.nonces,
                                             strict=self.strict)
            token = (headers.get(TOKEN_HEADER) or [""])[0]
            version = (headers.get("x-acs-version") or [""])[0]
            action = (headers.get("x-acs-action") or [""])[0]
        elif "Signature" in query:
            params = {**query, **form}
            access_key = signing.verify_v1(method=method, params=params, secret_for=self.accounts.secret_for,
                                           nonces=self.nonces)
            token = params.get("SecurityToken", "")
            version, action = params.get("Version", ""), params.get("Action", "")
        else:
            raise CloudError("IncompleteSignature", "The request signature does not conform to Aliyun standards.")
        account = self.accounts.account_for(access_key, token)
        if not action:
            raise CloudError("MissingParameter", 'The input parameter "Action" that is mandatory is not supplied.')
        if version not in VERSIONS:
            raise CloudError("InvalidVersion", f"Specified parameter Version is not valid: {version!r}.")
        if path == ASAPI_PATH:
            self.asapi_calls += 1
            named = next(((headers.get(h) or [""])[0] for h in ASAPI_PRODUCT_HEADERS if headers.get(h)), "")
            if not named:
                raise missing(ASAPI_PRODUCT_HEADERS[0])
            if named.lower() != VERSIONS[version].lower():
                raise CloudError("InvalidProduct.NotMatch", f"The product {named} named in the ASAPI headers does "
                                 f"not serve API version {version}.", 400)
        if self.strict:
            self.accounts.check_apsara(account, headers)
            region = (headers.get(REGION_HEADER) or [""])[0]
            if region:
                self.store.check_region(region)
        return version, action, account

    def assume_role(self, params: Params, account: Account) -> dict[str, Any]:
        """STS AssumeRole: temporary credentials acting for the caller's account."""
        temp = self.accounts.assume_role(
            account, params.str("RoleArn", required=True) or "", params.str("RoleSessionName", required=True) or "",
            params.int("DurationSeconds", 3600) or 3600)
        expiration = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(temp.expires_at))
        session = params.str("RoleSessionName")
        role_id = int.from_bytes(temp.role_arn.encode()[-7:], "big") % 10**17
        return {"Credentials": {"AccessKeyId": temp.access_key_id, "AccessKeySecret": temp.secret,
                                "SecurityToken": temp.token, "Expiration": expiration},
                "AssumedRoleUser": {"Arn": f"{temp.role_arn.replace(':role/', ':assumed-role/')}/{session}",
                                    "AssumedRoleId": f"3{role_id}:{session}"}}

    def execute(self, version: str, action: str, params: Params, account: Account | None = None) -> dict[str, Any]:
        if version == STS_VERSION and action == "AssumeRole" and account is not None:
            return self.assume_role(params, account)
        handler = ACTIONS.get((version, action))
        if handler is None:
            raise CloudError("InvalidAction.NotFound", "Specified api is not found, please check your url and method.",
                             404)
        token = params.str("ClientToken")
        key = (version, action, token) if token else None
        with self.store.lock:
            self.store.touched, self.store.touched_read = [], []
            if key is not None and key in self.client_tokens:
                return dict(self.client_tokens[key])
            result = handler(self.store, params)
            if key is not None:
                if len(self.client_tokens) > 100_000:
                    self.client_tokens.clear()
                self.client_tokens[key] = dict(result)
            return result

    def count_error(self, code: str) -> None:
        with self.store.lock:
            self.errors[code] = self.errors.get(code, 0) + 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 256


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cloudsim"
    sys_version = ""
    sim: CloudSim

    def setup(self) -> None:
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.settimeout(30)
            self.connection.do_handshake()
        # Headers and body go out in two writes; without this, Nagle's algorithm meets the client's
        # delayed ACK and every answer waits about 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        log.debug("%s - %s", self.client_address[0], format % args)

    def do_GET(self) -> None:  # noqa: N802 - name fixed by the base class
        self._dispatch()

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch()

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch()

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch()

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch()

    # -- plumbing ----------------------------------------------------------------------------------

    def _send(self, status: int, payload: Any, *, content_type: str = JSON_TYPE,
              extra_headers: dict[str, str] | None = None) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra_headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _drop(self) -> None:
        """Close the connection without answering."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _read_body(self) -> bytes | None:
        length_header = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True
            return None
        try:
            length = int(length_header or 0)
        except ValueError:
            self.close_connection = True
            return None
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            return None
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        request_id = str(uuid.uuid4()).upper()
        try:
            body = self._read_body()
            url = urlsplit(self.path)
            if body is None:
                self._send(413, {"RequestId": request_id, "Code": "InvalidParameter",
                                 "Message": "The request body is missing its length or is too large."})
                return
            if url.path.startswith(CONTROL_PREFIX):
                self._control(url.path[len(CONTROL_PREFIX):], url.query, body)
                return
            query = dict(parse_qsl(url.query, keep_blank_values=True))
            headers: dict[str, list[str]] = {}
            for name, value in self.headers.items():
                headers.setdefault(name.lower(), []).append(value)
            if url.path != ASAPI_PATH and not rest.is_openapi(headers) and oss.is_oss_request(url.path, query, headers):
                self._oss(url.path, query, headers, body, request_id)
                return
            self._api(url.path, url.query, body, request_id)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception:  # noqa: BLE001 - the server must answer, never die, on anything a client sends
            log.error("unexpected error: %s", traceback.format_exc())
            try:
                self._send(500, {"RequestId": request_id, "Code": "InternalError",
                                 "Message": "The request processing has failed due to some unknown error."})
            except OSError:
                self.close_connection = True

    def _error(self, request_id: str, error: CloudError, protocol: rest.Protocol | None = None) -> None:
        self.sim.count_error(error.code)
        if protocol is not None:  # a product with its own error shape (cloudsim/rest.py)
            status, payload, extra = protocol.error(error, request_id)
            self._send(status, payload, extra_headers=extra)
            return
        self._send(error.status, {
            "RequestId": request_id, "HostId": self.headers.get("Host", "cloudsim"), "Code": error.code,
            "Message": error.message, "Recommend": f"cloudsim: error {error.code}, see cloudsim/README.md",
        }, extra_headers={"x-acs-request-id": request_id})

    def _api(self, path: str, query_string: str, body: bytes, request_id: str) -> None:
        sim = self.sim
        protocol: rest.Protocol | None = None
        try:
            query = dict(parse_qsl(query_string, keep_blank_values=True))
            form: dict[str, str] = {}
            content_type = self.headers.get("Content-Type", "")
            if body and content_type.startswith("application/x-www-form-urlencoded"):
                form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            headers: dict[str, list[str]] = {}
            for name, value in self.headers.items():
                headers.setdefault(name.lower(), []).append(value)
            protocol = rest.protocol_for(headers)
            if protocol is not None:
                version, action, account, extra = protocol.authenticate(sim, self.command, path, query, headers, body)
            else:
                version, action, account = sim.authenticate(self.command, path, query, form, headers, body)
                extra = rest.path_params(version, action, self.command, path)  # a ROA action's path parts
        except UnicodeDecodeError:
            self._error(request_id, CloudError("InvalidParameter", "The request is not valid UTF-8."), protocol)
            return
        except CloudError as exc:
            self._error(request_id, exc, protocol)
            return
        params = Params({**query, **form, **extra})
        # A DryRun check is counted, and matched by fault rules, as "<Action>:DryRun": a rule for the
        # action itself concerns the calls that act.
        dry_run = (params.str("DryRun") or "").lower() == "true"
        counted = f"{action}:DryRun" if dry_run else action
        kind = "dry_run" if dry_run else "read" if action.startswith(READ_PREFIXES) else "write"
        product = VERSIONS.get(version, "")
        with sim.store.lock:
            sim.store.calls[counted] += 1
        decision = sim.faults.decide(counted)
        if decision.latency_ms:
            sim.stopping.wait(decision.latency_ms / 1000)
        if decision.hold_ms:
            sim.store.log_call(action=action, product=product, ids=resource_ids(params.values, None), kind=kind,
                               outcome="held")
            sim.stopping.wait(decision.hold_ms / 1000)
            self._drop()
            return
        if decision.error is not None:
            sim.store.log_call(action=action, product=product, ids=resource_ids(params.values, None), kind=kind,
                               outcome=f"error:{decision.error.code}")
            self._error(request_id, decision.error, protocol)
            return
        try:
            with sim.store.lock:
                result = sim.execute(version, action, params, account)
                touched, touched_read = list(sim.store.touched), list(sim.store.touched_read)
        except CloudError as exc:
            sim.store.log_call(action=action, product=product, ids=resource_ids(params.values, None), kind=kind,
                               outcome=f"error:{exc.code}")
            self._error(request_id, exc, protocol)
            return
        read_only = resource_ids({k: v for k, v in params.values.items()
                                  if k.split(".")[0] in READ_ONLY_PARAMS.get(action, ())}, None) + touched_read
        sim.store.log_call(action=action, product=product, ids=resource_ids(params.values, result) + touched,
                           kind=kind, outcome="lost" if decision.lose_response else "ok", read_ids=read_only)
        if decision.lose_response:
            self._drop()
            return
        if protocol is not None:
            status, payload, extra_headers = protocol.answer(result, request_id)
            self._send(status, payload, extra_headers=extra_headers)
            return
        self._send(200, {"RequestId": request_id, **result}, extra_headers={"x-acs-request-id": request_id})

    def _oss_error(self, request_id: str, error: CloudError) -> None:
        self.sim.count_error(error.code)
        body = oss.error_xml(error, request_id, self.headers.get("Host", "cloudsim"))
        self._send(error.status, body, content_type="application/xml",
                   extra_headers={"x-oss-request-id": request_id})

    def _oss(self, path: str, query: dict[str, str], headers: dict[str, list[str]], body: bytes,
             request_id: str) -> None:
        """An OSS request (XML REST, path-style; see services/oss.py)."""
        sim = self.sim
        request_id = request_id.replace("-", "")[:24]
        bucket, key = oss.split_path(path)
        action = oss_replication.action_name(self.command, bucket, key, query) or \
            oss.action_name(self.command, bucket, key, query)
        kind = "read" if self.command in ("GET", "HEAD") else "write"
        ids = [bucket] if bucket else []
        try:
            access_key = oss.verify(self.command, bucket, key, query, headers, sim.credentials)
            account = sim.accounts.account_for(access_key, (headers.get("x-oss-security-token") or [""])[0])
            if sim.strict:
                sim.accounts.check_apsara(account, headers, oss.OssError)
        except CloudError as exc:
            self._oss_error(request_id, exc)
            return
        with sim.store.lock:
            sim.store.calls[action] += 1
        decision = sim.faults.decide(action)
        if decision.latency_ms:
            sim.stopping.wait(decision.latency_ms / 1000)
        if decision.hold_ms:
            sim.store.log_call(action=action, product="Oss", ids=ids, kind=kind, outcome="held")
            sim.stopping.wait(decision.hold_ms / 1000)
            self._drop()
            return
        if decision.error is not None:
            sim.store.log_call(action=action, product="Oss", ids=ids, kind=kind,
                               outcome=f"error:{decision.error.code}")
            self._oss_error(request_id, decision.error)
            return
        try:
            with sim.store.lock:
                handle = oss_replication.handle if action in oss_replication.ACTIONS else oss.handle
                status, payload, extra = handle(sim.store, action, self.command, bucket, key, query, headers,
                                                body)
        except CloudError as exc:
            sim.store.log_call(action=action, product="Oss", ids=ids, kind=kind, outcome=f"error:{exc.code}")
            self._oss_error(request_id, exc)
            return
        sim.store.log_call(action=action, product="Oss", ids=ids, kind=kind,
                           outcome="lost" if decision.lose_response else "ok")
        if decision.lose_response:
            self._drop()
            return
        self._send(status, payload, content_type="application/xml",
                   extra_headers={"x-oss-request-id": request_id, **extra})

    # -- control endpoint --------------------------------------------------------------------------

    def _control(self, path: str, query_string: str, body: bytes) -> None:
        sim = self.sim
        if not sim.allow_remote_control and not _is_loopback(self.client_address[0]):
            self._send(403, {"code": "forbidden", "message": "The control endpoint answers loopback clients only."})
            return
        query = dict(parse_qsl(query_string, keep_blank_values=True))
        try:
            data = json.loads(body or b"{}")
            if not isinstance(data, dict):
                raise ValueError("the body must be a JSON object")
            status, payload = control(sim, self.command, path.rstrip("/") or "/", query, data)
        except (ValueError, TypeError, KeyError) as exc:
            status, payload = 400, {"code": "invalid", "message": str(exc)}
        except CloudError as exc:
            status, payload = exc.status, {"code": exc.code, "message": exc.message}
        self._send(status, payload)


def control(sim: CloudSim, method: str, path: str, query: dict[str, str], data: dict[str, Any]) -> tuple[int, Any]:
    """The control API (see README.md): faults, bulk creation, reset, statistics, configuration."""
    from .services import bulk

    store = sim.store
    if path == "/health":
        return 200, {"status": "ok", "regions": store.regions}
    if path == "/stats" and method == "GET":
        stats = store.statistics()
        stats["errors"] = dict(sim.errors)
        stats["faults"] = sim.faults.list()
        stats["sts"] = sim.accounts.statistics()
        stats["strict"] = sim.strict
        stats["asapi_calls"] = sim.asapi_calls
        return 200, stats
    if path == "/faults":
        if method == "GET":
            return 200, {"faults": sim.faults.list()}
        if method == "POST":
            rules = data.get("rules", [data])
            return 201, {"faults": [sim.faults.add(dict(r)).__dict__ for r in rules]}
        if method == "DELETE":
            return 200, {"cleared": sim.faults.clear(query.get("action") or data.get("action"))}
    if path == "/bulk" and method == "POST":
        started = time.perf_counter()
        kind = data.get("type", "ecs_instance")
        count = int(data.get("count", 1))
        if not 1 <= count <= 1_000_000:
            raise ValueError("count must be between 1 and 1,000,000")
        with store.lock:
            ids = bulk.create(store, kind, count, data)
        # The records live as long as the region: the collector's full passes need not walk them (one pass
        # over the 640,000 objects of 100,000 instances took a second).
        gc.freeze()
        return 201, {"type": kind, "created": len(ids), "seconds": round(time.perf_counter() - started, 3),
                     "ids": ids if data.get("return_ids") else ids[:10]}
    if path == "/reset" and method == "POST":
        with store.lock:
            store.reset()
            sim.client_tokens.clear()
            sim.errors.clear()
        sim.faults.clear()
        return 200, {"reset": True}
    if path == "/config":
        if method == "POST":
            with store.lock:
                if "provision_seconds" in data:
                    value = float(data["provision_seconds"])
                    if value < 0:
                        raise ValueError("provision_seconds must not be negative")
                    store.provision_seconds = value
                for key, value in (data.get("capacity") or {}).items():
                    if key not in store.capacity:
                        raise ValueError(f"unknown capacity {key}")
                    store.capacity[key] = int(value)
                if "sts_token_seconds" in data:
                    seconds = data["sts_token_seconds"]
                    if seconds is not None and float(seconds) <= 0:
                        raise ValueError("sts_token_seconds must be positive, or null for the requested duration")
                    sim.accounts.token_seconds = None if seconds is None else float(seconds)
        return 200, {"provision_seconds": store.provision_seconds, "capacity": store.capacity,
                     "regions": store.regions, "sts_token_seconds": sim.accounts.token_seconds}
    if path == "/resources" and method == "GET":
        kind = query.get("type", "ecs_instance")
        if kind not in RESOURCE_TYPES:
            raise ValueError(f"type must be one of {', '.join(RESOURCE_TYPES)}")
        with store.lock:
            rows = [{"id": r["_id"], "status": r.get("Status", ""), "region_id": r.get("RegionId", ""),
                     "zone_id": r.get("ZoneId", ""), "tags": r.get("_tags", {}),
                     **{k: v for k, v in r.items() if not k.startswith("_")}}
                    for r in store.rows(kind, query.get("region_id"))]
        return 200, {"type": kind, "count": len(rows), "resources": rows}
    if path == "/calls":
        if method == "GET":
            since = int(query.get("since") or 0)
            calls = store.calls_for(resource_id=query.get("resource_id"), kind=query.get("kind"),
                                    action=query.get("action"), since=since,
                                    applied_only=query.get("applied") in ("1", "true"),
                                    resource_ids=set(filter(None, query["resource_ids"].split(",")))
                                    if query.get("resource_ids") else None,
                                    written_ids=set(filter(None, query["written_ids"].split(",")))
                                    if query.get("written_ids") else None)
            return 200, {"count": len(calls), "last_seq": store.call_seq, "calls": calls}
        if method == "DELETE":
            with store.lock:
                store.call_log.clear()
            return 200, {"cleared": True, "last_seq": store.call_seq}
    route = CONTROL_ROUTES.get(path)
    if route is not None:
        with store.lock:
            return route(store, method, query, data)
    if path == "/snapshot" and method == "POST":
        target = data.get("path") or store.snapshot_path
        if not target:
            raise ValueError("no snapshot path: give one or start with --snapshot")
        return 200, {"saved": store.save(target)}
    return 404, {"code": "not_found", "message": f"no control route {method} {CONTROL_PREFIX}{path}"}
