"""Action registry: each cloud product registers its RPC actions by API version."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import CloudError

VERSIONS = {
    "2014-05-26": "Ecs",
    "2016-04-28": "Vpc",
    "2014-05-15": "Slb",
    "2014-08-15": "Rds",
    "2015-01-01": "R-kvstore",
    "2019-01-01": "Cms",
    "2015-04-01": "Sts",  # AssumeRole, answered by the server (it issues credentials)
}



def product(version: str, code: str) -> None:
    """Declare the API version a product module serves and the product code it is named by."""
    VERSIONS[version] = code


Handler = Callable[..., dict[str, Any]]
ACTIONS: dict[tuple[str, str], Handler] = {}


def action(version: str, name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        ACTIONS[(version, name)] = fn
        return fn
    return register


def page(rows: list, p, *, default_size: int = 10, max_size: int = 100) -> tuple[list, int, int]:
    """PageNumber/PageSize paging: (rows of the page, page number, page size)."""
    number = p.int("PageNumber", 1, lo=1, hi=10_000_000)
    size = p.int("PageSize", default_size, lo=1, hi=max_size)
    start = (number - 1) * size
    return rows[start:start + size], number, size


def dry_run_passed() -> CloudError:
    """The answer to a ``DryRun=true`` request that would succeed: nothing is created."""
    return CloudError("DryRunOperation", "Request validation has been passed with DryRun flag set.", 400)


def tag_list(tags: dict[str, str], key: str = "TagKey", value: str = "TagValue") -> dict[str, list[dict[str, str]]]:
    """``{"Tag": [...]}`` as the product names its fields: ECS and SLB TagKey/TagValue, VPC and Redis Key/Value."""
    return {"Tag": [{key: k, value: v} for k, v in tags.items()]}


def match_tags(record: dict, wanted: dict[str, str]) -> bool:
    tags = record.get("_tags") or {}
    return all(k in tags and (v == "" or tags[k] == v) for k, v in wanted.items())


def load_all() -> None:
    """Import every product module of this package so that its actions (and versions, kinds) register."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
