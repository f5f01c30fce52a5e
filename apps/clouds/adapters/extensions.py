"""Services an adapter gains from companion modules: more collected types, more products.

The Apsara and AWS adapters keep their core services in their own module. Each companion module
(``apsara_inventory``, ``apsara_dr``, ``aws_inventory``, ``aws_dr``) registers at import time:

- ``register_product(adapter, code, client, asapi_code)``: an OpenAPI product the adapter may call
  (Apsara: the SDK client class and the product code an ASAPI gateway knows it by);
- ``register_service(adapter, code, display_name)``: a service shown in the catalog as collected;
- ``register_listing(adapter, Listing(...))``: one collected resource type, with how to list a page
  of it and read one by id, and the operations the type supports.

The adapter class merges these into its ``capabilities`` when it is defined, and ``list_resources``
and ``get_resource`` hand a registered type to its listing. One service failing (an endpoint the
platform lacks, a permission) fails only its own types: collection runs type by type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apps.clouds.adapters.base import Capabilities, CloudResource, ResourcePage


@dataclass(frozen=True)
class Listing:
    """How an adapter collects one resource type.

    ``list(adapter, region, page_token)`` returns one page; ``get(adapter, region, external_id)``
    returns the resource or ``None`` when the cloud no longer has it (``None`` here: found by listing).
    """

    type: str
    service: str
    list: Callable[[Any, str, str | None], ResourcePage]
    get: Callable[[Any, str, str], CloudResource | None] | None = None
    operations: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()


@dataclass
class _Registry:
    products: dict[str, tuple[Any, str]] = field(default_factory=dict)  # code -> (client class, ASAPI code)
    services: dict[str, str] = field(default_factory=dict)  # code -> display name
    listings: dict[str, Listing] = field(default_factory=dict)  # type -> listing


_REGISTRIES: dict[str, _Registry] = {}


def registry(adapter: str) -> _Registry:
    return _REGISTRIES.setdefault(adapter, _Registry())


def register_product(adapter: str, code: str, client: Any, asapi_code: str = "") -> None:
    registry(adapter).products[code] = (client, asapi_code)


def register_service(adapter: str, code: str, display_name: str) -> None:
    registry(adapter).services[code] = display_name


def register_listing(adapter: str, listing: Listing) -> None:
    registry(adapter).listings[listing.type] = listing


def merged(adapter: str, base: Capabilities) -> Capabilities:
    """``base`` with every registered service, type, operation and metric of ``adapter`` added."""
    reg = registry(adapter)
    services = list(base.services)
    for code in [*reg.services, *(item.service for item in reg.listings.values())]:
        if code not in services:
            services.append(code)
    types = list(base.resource_types) + [t for t in reg.listings if t not in base.resource_types]
    operations = dict(base.operations)
    metrics = dict(base.metrics)
    for t, item in reg.listings.items():
        if item.operations:
            operations[t] = tuple(dict.fromkeys((*operations.get(t, ()), *item.operations)))
        if item.metrics:
            metrics[t] = item.metrics
    names = {**reg.services, **base.display_names}
    return Capabilities(services=tuple(services), resource_types=tuple(types), operations=operations,
                        metrics=metrics, display_names=names)


def listing(adapter: str, resource_type: str) -> Listing | None:
    return registry(adapter).listings.get(resource_type)


def get(adapter: Any, item: Listing, region: str, external_id: str) -> CloudResource | None:
    """One resource of a registered type: its own ``get``, or found by walking the listing's pages."""
    if item.get is not None:
        return item.get(adapter, region, external_id)
    token: str | None = None
    while True:
        page = item.list(adapter, region, token)
        for resource in page.items:
            if resource.external_id == external_id:
                return resource
        token = page.next_token
        if not token:
            return None
