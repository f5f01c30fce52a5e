"""How the ``apsara`` adapter reaches an Apsara Stack or Alibaba Cloud: endpoints, headers, TLS, credentials.

A platform's connection settings (its ``options``, filled from the platform's fields by
``adapter_for``) say:

- ``endpoints``: one endpoint per product (``ecs``, ``vpc``, ``slb``, ``rds``, ``redis``, ``cms``,
  ``sts``, ``oss``), each a host or URL in which ``{region}`` is replaced by the region (and, for
  OSS, ``{cluster}`` by the region's OSS cluster); a product without one uses the gateway or the
  platform's endpoint (also a template).
- ``gateway``: one ASAPI/POP gateway domain. Every OpenAPI product without its own endpoint is then
  called at ``/asapi/v3`` on it, with the product named in ``x-acs-asapi-product`` and
  ``x-ascm-product-name``.
- ``organization_id`` and ``resource_set_id``: sent as ``x-acs-organizationid`` and
  ``x-acs-resourcegroupid`` (with ``x-acs-regionid``) on every call, OSS included, through the SDK
  ``Config``'s global headers, so they are signed like every other ``x-acs-*`` header.
- ``ca_bundle`` (PEM) to trust a private CA, or ``verify_tls`` false to skip the certificate check.
- ``oss_clusters``: the OSS cluster(s) of each region (a bucket's location), e.g.
  ``{"cn-hangzhou": ["oss-cn-hangzhou-a"]}``.

Credentials are an AccessKey pair, an AccessKey pair with a security token (STS), or an AccessKey
pair and a RAM role to assume. An assumed role's token is refreshed before it expires and shared by
the adapters of the same platform in the process.
"""

from __future__ import annotations

import calendar
import hashlib
import os
import re
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from alibabacloud_credentials.models import CredentialModel
from alibabacloud_tea_openapi.client import Client as OpenApiClient
from alibabacloud_tea_openapi.utils_models import GlobalParameters, OpenApiRequest, Params
from darabonba.runtime import RuntimeOptions
from oss2.credentials import Credentials as OssCredentials

from apps.clouds.adapters.base import CloudCallError

ASAPI_PATH = "/asapi/v3"
# Product code of each OpenAPI product, as an ASAPI gateway names it.
PRODUCT_CODES = {"ecs": "Ecs", "vpc": "Vpc", "slb": "Slb", "rds": "Rds", "redis": "R-kvstore", "cms": "Cms",
                 "sts": "Sts"}
ENDPOINT_PRODUCTS = (*PRODUCT_CODES, "oss")  # the core products; ``endpoint_products()`` adds the companions'


def endpoint_products() -> tuple[str, ...]:
    """Every product a platform may name an endpoint for, the adapter's companion products included."""
    from apps.clouds.adapters import adapter_types

    adapter_types()  # loads the adapters, whose companions add their products to PRODUCT_CODES
    return (*PRODUCT_CODES, "oss")
PLACEHOLDER_RE = re.compile(r"\{(\w+)\}")
ROLE_ARN_RE = re.compile(r"^acs:ram::\d{1,32}:role/[A-Za-z0-9.@_-]{1,64}$")
STS_VERSION = "2015-04-01"
# Refresh an assumed role's token when this share of its lifetime is left (at most five minutes).
REFRESH_SHARE, REFRESH_MAX_SECONDS = 0.2, 300.0


@dataclass(frozen=True)
class Target:
    """Where one product's calls go: host (and port), protocol, path, and the headers to add."""

    host: str
    protocol: str
    path: str
    headers: dict[str, str]


def split_endpoint(value: str, protocol: str) -> tuple[str, str, str]:
    """(host[:port], protocol, path) of a host or URL."""
    if "://" in value:
        parts = urlsplit(value)
        return parts.netloc, parts.scheme.lower(), parts.path.rstrip("/")
    host, _, path = value.partition("/")
    return host, protocol, ("/" + path).rstrip("/") if path else ""


def fill(template: str, **values: str) -> str:
    """``template`` with its ``{name}`` placeholders replaced; an unknown one is a configuration error."""
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise CloudCallError(f"The endpoint {template!r} has an unknown placeholder {{{name}}}.",
                                 code="InvalidEndpointTemplate")
        return values[name]
    return PLACEHOLDER_RE.sub(replace, template)


def ca_file(pem: str) -> str:
    """A file holding the CA bundle (the SDKs take a path), written once per bundle."""
    digest = hashlib.sha256(pem.encode()).hexdigest()[:24]
    folder = os.path.join(tempfile.gettempdir(), "unimanager-ca")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    path = os.path.join(folder, f"{digest}.pem")
    if not os.path.exists(path):
        partial = f"{path}.{os.getpid()}.{threading.get_ident()}"
        with open(partial, "w", encoding="ascii") as fh:
            fh.write(pem)
        os.replace(partial, path)
    return path


@dataclass(frozen=True)
class Connection:
    """The connection settings of one platform, read from the adapter's endpoint, protocol and options."""

    endpoint: str
    protocol: str
    endpoints: dict[str, str] = field(default_factory=dict)
    gateway: str = ""
    organization_id: str = ""
    resource_set_id: str = ""
    ca_bundle: str = ""
    verify_tls: bool = True
    oss_clusters: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_options(cls, endpoint: str, protocol: str, options: dict[str, Any]) -> Connection:
        clusters = {}
        for region, value in (options.get("oss_clusters") or {}).items():
            names = [value] if isinstance(value, str) else list(value or [])
            clusters[str(region)] = tuple(str(n) for n in names if n)
        return cls(endpoint=endpoint or "", protocol=protocol or "https",
                   endpoints={str(k): str(v) for k, v in (options.get("endpoints") or {}).items() if v},
                   gateway=str(options.get("gateway") or ""),
                   organization_id=str(options.get("organization_id") or ""),
                   resource_set_id=str(options.get("resource_set_id") or ""),
                   ca_bundle=str(options.get("ca_bundle") or ""),
                   verify_tls=options.get("verify_tls", True) is not False, oss_clusters=clusters)

    @property
    def ca_path(self) -> str | None:
        return ca_file(self.ca_bundle) if self.ca_bundle and self.verify_tls else None

    def apsara_headers(self, region: str) -> dict[str, str]:
        """The Apsara Stack headers of a call in ``region`` (none for an Alibaba Cloud platform)."""
        headers = {}
        if self.organization_id:
            headers["x-acs-organizationid"] = self.organization_id
        if self.resource_set_id:
            headers["x-acs-resourcegroupid"] = self.resource_set_id
        if headers or self.gateway:
            headers["x-acs-regionid"] = region
        return headers

    def target(self, product: str, region: str) -> Target:
        """Where ``product``'s calls in ``region`` go."""
        headers = self.apsara_headers(region)
        own = self.endpoints.get(product)
        if own:
            host, protocol, path = split_endpoint(fill(own, region=region), self.protocol)
            return Target(host, protocol, path, headers)
        if self.gateway:
            host, protocol, path = split_endpoint(fill(self.gateway, region=region), self.protocol)
            code = PRODUCT_CODES[product]
            headers.update({"x-acs-asapi-product": code, "x-ascm-product-name": code, "x-acs-request-version": "v1"})
            return Target(host, protocol, path or ASAPI_PATH, headers)
        if not self.endpoint:
            raise CloudCallError("The platform has no endpoint configured.", code="MissingEndpoint")
        host, protocol, path = split_endpoint(fill(self.endpoint, region=region), self.protocol)
        return Target(host, protocol, path, headers)

    def clusters(self, region: str) -> tuple[str, ...]:
        return self.oss_clusters.get(region) or (f"oss-{region}",)

    def oss_endpoint(self, region: str) -> str:
        """The OSS endpoint URL of ``region`` (OSS is never called through the ASAPI gateway)."""
        template = self.endpoints.get("oss") or self.endpoint
        if not template:
            raise CloudCallError("The platform has no OSS endpoint configured.", code="MissingEndpoint")
        host, protocol, _path = split_endpoint(fill(template, region=region, cluster=self.clusters(region)[0]),
                                               self.protocol)
        return f"{protocol}://{host}"

    def holds_bucket(self, region: str, location: str) -> bool:
        """Whether a bucket located in ``location`` belongs to ``region``: one of its configured clusters or,
        without configuration, ``oss-<region>`` or ``oss-<region>-<zone letter>`` (e.g. ``oss-cn-hangzhou-a``)."""
        if region in self.oss_clusters:
            return location in self.oss_clusters[region]
        return location == f"oss-{region}" or re.fullmatch(rf"oss-{re.escape(region)}-[a-z]\d{{0,2}}",
                                                           location or "") is not None


def with_path(client_class: type, path: str) -> type:
    """A product client that calls ``path`` instead of ``/`` (an ASAPI gateway, or an endpoint with a path)."""
    key = (client_class, path)
    with _pathed_lock:
        if key not in _PATHED:
            def call_api(self: Any, params: Params, request: OpenApiRequest, runtime: RuntimeOptions) -> dict:
                params.pathname = path
                return client_class.call_api(self, params, request, runtime)

            _PATHED[key] = type(f"{client_class.__name__}AtPath", (client_class,), {"call_api": call_api})
        return _PATHED[key]


_PATHED: dict[tuple[type, str], type] = {}
_pathed_lock = threading.Lock()


class AssumedRole:
    """Temporary credentials of a RAM role, assumed through STS and refreshed before they expire.

    Serves both SDK families: ``get_credential`` for the OpenAPI clients, ``get_credentials`` for OSS.
    """

    def __init__(self, *, assume: Any, clock: Any = time.time):
        self._assume = assume  # () -> (access key id, secret, token, expires at epoch seconds)
        self._clock = clock
        self._lock = threading.Lock()
        self._current: tuple[str, str, str, float] | None = None
        self._refresh_at = 0.0
        self.refreshes = 0

    def current(self) -> tuple[str, str, str]:
        with self._lock:
            now = self._clock()
            if self._current is None or now >= self._refresh_at:
                key_id, secret, token, expires_at = self._assume()
                lifetime = max(0.0, expires_at - now)
                self._refresh_at = expires_at - min(REFRESH_MAX_SECONDS, lifetime * REFRESH_SHARE)
                self._current = (key_id, secret, token, expires_at)
                self.refreshes += 1
            key_id, secret, token, _expires = self._current
            return key_id, secret, token

    def get_credential(self) -> CredentialModel:
        key_id, secret, token = self.current()
        return CredentialModel(access_key_id=key_id, access_key_secret=secret, security_token=token, type="sts",
                               provider_name="unimanager_assume_role")

    async def get_credential_async(self) -> CredentialModel:
        return self.get_credential()

    def get_credentials(self) -> OssCredentials:
        key_id, secret, token = self.current()
        return OssCredentials(key_id, secret, token)


_roles: dict[str, AssumedRole] = {}
_roles_lock = threading.Lock()


def assumed_role(connection: Connection, credentials: dict[str, str], region: str, timeout: float) -> AssumedRole:
    """The process's ``AssumedRole`` for these base credentials, role and STS endpoint."""
    role_arn = credentials.get("role_arn", "")
    target = connection.target("sts", region)
    key = hashlib.sha256("\0".join([
        credentials.get("access_key_id", ""), credentials.get("access_key_secret", ""),
        credentials.get("security_token", ""), role_arn, credentials.get("role_session_name", ""),
        target.host, target.path, connection.organization_id, connection.resource_set_id,
        connection.ca_bundle, str(connection.verify_tls)]).encode()).hexdigest()
    with _roles_lock:
        role = _roles.get(key)
        if role is None:
            role = _roles[key] = AssumedRole(assume=_assume_role_call(connection, credentials, region, timeout))
        return role


def _assume_role_call(connection: Connection, credentials: dict[str, str], region: str, timeout: float) -> Any:
    from alibabacloud_tea_openapi.models import Config

    target = connection.target("sts", region)
    client_class = with_path(OpenApiClient, target.path) if target.path else OpenApiClient
    ms = int(timeout * 1000)
    client = client_class(Config(
        access_key_id=credentials.get("access_key_id", ""), access_key_secret=credentials.get("access_key_secret", ""),
        security_token=credentials.get("security_token") or None, endpoint=target.host, protocol=target.protocol,
        region_id=region, read_timeout=ms, connect_timeout=min(ms, 5000), ca=connection.ca_path,
        global_parameters=GlobalParameters(headers=target.headers) if target.headers else None))
    duration = int(credentials.get("duration_seconds") or 3600)
    session = credentials.get("role_session_name") or "unimanager"

    def assume() -> tuple[str, str, str, float]:
        params = Params(action="AssumeRole", version=STS_VERSION, protocol=target.protocol.upper(), pathname="/",
                        method="POST", auth_type="AK", style="RPC", req_body_type="formData", body_type="json")
        request = OpenApiRequest(query={"RoleArn": credentials["role_arn"], "RoleSessionName": session,
                                        "DurationSeconds": str(duration)})
        runtime = RuntimeOptions(autoretry=False, max_attempts=1, read_timeout=ms, connect_timeout=min(ms, 5000),
                                 ignore_ssl=not connection.verify_tls)
        body = client.call_api(params, request, runtime).get("body") or {}
        issued = body.get("Credentials") or {}
        if not all(issued.get(k) for k in ("AccessKeyId", "AccessKeySecret", "SecurityToken", "Expiration")):
            raise CloudCallError("STS answered AssumeRole without credentials.", code="InvalidStsResponse",
                                 action="AssumeRole")
        expires = float(calendar.timegm(time.strptime(issued["Expiration"], "%Y-%m-%dT%H:%M:%SZ")))
        return issued["AccessKeyId"], issued["AccessKeySecret"], issued["SecurityToken"], expires
    return assume
