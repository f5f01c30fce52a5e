"""The southbound interface every cloud adapter implements, and the shapes it returns.

An adapter talks to one cloud platform instance through the cloud's official SDK. It declares its
``capabilities`` (services, resource types and the operations each type supports) so the console
shows and offers only what the cloud can do. Every call has a timeout; every failure is raised as
``CloudCallError`` classified ``transient`` (retry with backoff) or permanent (fail with the
cloud's own code and message).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

T = TypeVar("T")

# Unified resource types (``<service>.<kind>``) the inventory knows; see ``apps.clouds.catalog``.
OPERATIONS = ("create", "start", "stop", "reboot", "resize", "delete", "attach", "detach", "modify")


class CloudCallError(Exception):
    """A failed call to a cloud. ``transient`` errors may succeed when retried."""

    def __init__(self, message: str, *, code: str = "", transient: bool = False, status: int | None = None,
                 request_id: str = "", action: str = ""):
        self.message = message
        self.code = code or ("Unavailable" if transient else "Error")
        self.transient = transient
        self.status = status
        self.request_id = request_id
        self.action = action
        super().__init__(f"{self.code}: {message}")

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "transient": self.transient, "status": self.status,
                "request_id": self.request_id, "action": self.action}


class UnsupportedOperation(CloudCallError):
    def __init__(self, message: str):
        super().__init__(message, code="UnsupportedOperation", transient=False)


@dataclass(frozen=True)
class Capabilities:
    services: tuple[str, ...]
    resource_types: tuple[str, ...]
    operations: dict[str, tuple[str, ...]] = field(default_factory=dict)  # type -> supported operations
    metrics: dict[str, tuple[str, ...]] = field(default_factory=dict)  # type -> metric names
    display_names: dict[str, str] = field(default_factory=dict)  # service code -> the cloud's product name

    def supports(self, resource_type: str, operation: str) -> bool:
        return operation in self.operations.get(resource_type, ())

    def as_dict(self) -> dict[str, Any]:
        return {"services": list(self.services), "resource_types": list(self.resource_types),
                "operations": {k: list(v) for k, v in self.operations.items()},
                "metrics": {k: list(v) for k, v in self.metrics.items()}, "display_names": dict(self.display_names)}


@dataclass(frozen=True)
class ZoneInfo:
    zone_id: str
    name: str = ""


@dataclass(frozen=True)
class RegionInfo:
    region_id: str
    name: str = ""
    zones: tuple[ZoneInfo, ...] = ()


@dataclass(frozen=True)
class FlavorInfo:
    """A spec the cloud offers: an instance type, a disk category, a database or cache class."""

    kind: str  # instance_type | disk_category | rds_class | redis_class | slb_spec
    code: str
    name: str = ""
    vcpu: int | None = None
    memory_mib: int | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ImageInfo:
    """An image the region offers to new instances."""

    image_id: str
    name: str = ""
    os_name: str = ""
    os_type: str = ""


@dataclass(frozen=True)
class Relation:
    kind: str  # in_vpc | in_vswitch | in_security_group | attached_to | associated_with
    target_type: str
    target_external_id: str


@dataclass
class CloudResource:
    """One resource as the cloud reports it, normalised to the inventory's fields."""

    type: str
    external_id: str
    region: str
    name: str = ""
    status: str = ""
    zone: str = ""
    spec: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    relations: list[Relation] = field(default_factory=list)
    vcpu: int = 0
    memory_mib: int = 0
    storage_gib: int = 0
    resource_group: str = ""
    vpc_id: str = ""

    @property
    def service(self) -> str:
        return self.type.split(".", 1)[0]


@dataclass
class ResourcePage:
    items: list[CloudResource]
    next_token: str | None  # None: this was the last page


@dataclass(frozen=True)
class MetricPoint:
    timestamp: float
    value: float


STATUS_ALIASES = {
    "normal": "running", "active": "running", "inuse": "in_use", "in-use": "in_use", "in_use": "in_use",
    "inactive": "stopped", "creating": "pending", "dbinstanceclasschanging": "changing",
    "released": "deleted",  # a released cache instance, about to leave the cloud's lists
}


def normal_status(raw: Any) -> str:
    """The cloud's status as one lower-case word the console filters on across clouds."""
    text = str(raw or "").strip()
    key = text.lower()
    return STATUS_ALIASES.get(key, key.replace(" ", "_"))


class CloudAdapter:
    """Base class: subclasses set ``type_name``, ``display_name``, ``capabilities`` and implement the calls."""

    type_name: ClassVar[str] = ""
    display_name: ClassVar[str] = ""
    capabilities: ClassVar[Capabilities]
    # Database and cache engines the cloud creates, with their versions: resource type -> engine -> versions.
    engines: ClassVar[dict[str, dict[str, tuple[str, ...]]]] = {}
    default_timeout: ClassVar[float] = 10.0
    retry_attempts: ClassVar[int] = 3
    retry_backoff: ClassVar[float] = 0.2

    def __init__(self, *, endpoint: str = "", protocol: str = "https", region: str = "",
                 credentials: dict[str, str] | None = None, options: dict[str, Any] | None = None,
                 timeout: float | None = None):
        self.endpoint = endpoint
        self.protocol = protocol
        self.region = region
        self.credentials = credentials or {}
        self.options = options or {}
        self.timeout = float(timeout or self.options.get("timeout") or self.default_timeout)

    # -- the interface -----------------------------------------------------------------------------

    def test_connectivity(self) -> dict[str, Any]:
        """Authenticate and make one cheap call; returns what was learned (e.g. region count)."""
        regions = self.regions()
        return {"regions": len(regions)}

    def probe(self) -> list[dict[str, Any]]:
        """One cheap call per product the adapter uses: ``{"product", "action", "ok"}`` and, for a failed
        one, the cloud's ``code``, ``message`` and whether it was ``transient``. Never raises."""
        try:
            self.regions()
        except CloudCallError as exc:
            return [{"product": "api", "action": "regions", "ok": False, "code": exc.code, "message": exc.message,
                     "transient": exc.transient}]
        return [{"product": "api", "action": "regions", "ok": True}]

    def regions(self) -> list[RegionInfo]:
        raise NotImplementedError

    def flavors(self, region: str) -> list[FlavorInfo]:
        return []

    def list_resources(self, resource_type: str, region: str, page_token: str | None = None) -> ResourcePage:
        raise NotImplementedError

    def get_resource(self, resource_type: str, region: str, external_id: str) -> CloudResource | None:
        raise NotImplementedError

    def get_resources(self, resource_type: str, region: str,
                      external_ids: list[str]) -> dict[str, CloudResource | None]:
        """Several resources of one type in one region: what the cloud reports for each id (``None``: it has
        none). A cloud that describes many ids in one call is asked once per page of ids by its adapter;
        here, once per id."""
        return {external_id: self.get_resource(resource_type, region, external_id) for external_id in external_ids}

    def create(self, resource_type: str, region: str, params: dict[str, Any]) -> str:
        raise UnsupportedOperation(f"{self.display_name} cannot create {resource_type}.")

    def validate_create(self, resource_type: str, region: str, params: dict[str, Any]) -> bool:
        """Have the cloud check a create without creating anything (a dry run), where the cloud offers it.

        True: the cloud accepted the request; False: the cloud offers no such check for this type (nothing
        was asked); a refusal raises ``CloudCallError`` with the cloud's own code and message.
        """
        return False

    def start(self, resource_type: str, region: str, external_id: str) -> None:
        raise UnsupportedOperation(f"{self.display_name} cannot start {resource_type}.")

    def stop(self, resource_type: str, region: str, external_id: str) -> None:
        raise UnsupportedOperation(f"{self.display_name} cannot stop {resource_type}.")

    def reboot(self, resource_type: str, region: str, external_id: str) -> None:
        raise UnsupportedOperation(f"{self.display_name} cannot reboot {resource_type}.")

    def resize(self, resource_type: str, region: str, external_id: str, spec: str) -> None:
        raise UnsupportedOperation(f"{self.display_name} cannot resize {resource_type}.")

    def delete(self, resource_type: str, region: str, external_id: str) -> None:
        raise UnsupportedOperation(f"{self.display_name} cannot delete {resource_type}.")

    def attach(self, resource_type: str, region: str, external_id: str, instance_id: str) -> None:
        """Attach a disk to an instance in the same zone, or associate an EIP with an instance."""
        raise UnsupportedOperation(f"{self.display_name} cannot attach {resource_type}.")

    def detach(self, resource_type: str, region: str, external_id: str, instance_id: str) -> None:
        """Detach a disk from the instance it is attached to, or unassociate an EIP from its instance."""
        raise UnsupportedOperation(f"{self.display_name} cannot detach {resource_type}.")

    def modify(self, resource_type: str, region: str, external_id: str, operation: str,
               args: dict[str, Any]) -> str:
        """A day-2 change that is neither a create nor a state change (a disk's size, a security group
        rule, an EIP's bandwidth, SLB listeners and backends, RDS accounts and databases, a bucket's ACL
        or lifecycle rule): ``operation`` names it, ``args`` were checked by the console. Returns a line
        saying what was asked."""
        raise UnsupportedOperation(f"{self.display_name} cannot {operation} {resource_type}.")

    def details(self, resource_type: str, region: str, external_id: str) -> dict[str, Any]:
        """What a resource page lists beside the inventory's fields (rules, listeners, accounts...), read
        from the cloud; ``{}`` when the type has none."""
        return {}

    def images(self, region: str) -> list[ImageInfo]:
        """The images new instances in ``region`` can start from."""
        return []

    def metrics(self, resource_type: str, region: str, external_id: str, metric: str, *, start: float,
                end: float, period: int = 60) -> list[MetricPoint]:
        raise UnsupportedOperation(f"{self.display_name} has no metrics for {resource_type}.")

    # -- helpers -------------------------------------------------------------------------------------

    def iter_resources(self, resource_type: str, region: str) -> Iterator[CloudResource]:
        token: str | None = None
        while True:
            page = self.list_resources(resource_type, region, token)
            yield from page.items
            if page.next_token is None:
                return
            token = page.next_token

    def classify(self, exc: Exception, action: str) -> CloudCallError:
        """Turn an SDK exception into a classified ``CloudCallError`` (subclasses know their SDK)."""
        return CloudCallError(str(exc) or type(exc).__name__, code=type(exc).__name__, transient=True,
                              action=action)

    def call(self, action: str, fn: Callable[[], T]) -> T:
        """Run one SDK call, retrying transient failures a few times with a growing pause."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn()
            except CloudCallError:
                raise
            except Exception as exc:  # noqa: BLE001 - every SDK failure is classified here
                error = self.classify(exc, action)
                if not error.transient or attempt >= self.retry_attempts:
                    raise error from exc
                time.sleep(self.retry_backoff * (2 ** (attempt - 1)))

    def check_type(self, resource_type: str) -> None:
        if resource_type not in self.capabilities.resource_types:
            raise UnsupportedOperation(f"{self.display_name} does not collect {resource_type}.")
