"""Shared pieces of the inventory product modules (MongoDB, PolarDB, KMS, Auto Scaling, ROS, ...).

Each product module keeps its records in its own store table, with the cloud's field names as public
keys and ``Status`` as the lifecycle state the store moves (rendered under the product's own status
field). Products whose list action takes no region parameter (the region is the endpoint's on the real
cloud) answer every region's records; each record names its region and the client keeps its own.
"""

from __future__ import annotations

import secrets
from typing import Any

from ..errors import CloudError, invalid
from ..store import Store


def rid(prefix: str, length: int = 10) -> str:
    return prefix + secrets.token_hex(length)


def region_param(store: Store, p, name: str = "RegionId") -> str:
    """The region named by ``name`` (required, known)."""
    value = p.str(name)
    if not value:
        raise CloudError("MissingParameter", f'The input parameter "{name}" that is mandatory for processing this '
                         "request is not supplied.")
    if value not in store.regions:
        raise CloudError("InvalidRegionId.NotFound", "The specified RegionId does not exist.", 404)
    return value


def optional_region(store: Store, p, name: str = "RegionId") -> str | None:
    """A region the request may name (checked when named); ``None``: every region."""
    value = p.str(name)
    if value and value not in store.regions:
        raise CloudError("InvalidRegionId.NotFound", "The specified RegionId does not exist.", 404)
    return value or None


def public(record: dict[str, Any], status_field: str | None = None, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """The record without private keys, its ``Status`` under the product's status field."""
    out = {k: v for k, v in record.items() if not k.startswith("_") and k != "Status" and k not in drop}
    if status_field:
        out[status_field] = record["Status"]
    return out


def numbered(rows: list, p, *, number: str = "PageNumber", size: str = "PageSize", default: int = 10,
             max_size: int = 100) -> tuple[list, int, int]:
    """PageNumber/PageSize paging under the product's own parameter names (PageNo, PageNum ...)."""
    n = p.int(number, 1, lo=1, hi=10_000_000)
    s = p.int(size, default, lo=1, hi=max_size)
    return rows[(n - 1) * s:n * s], n, s


def token_paged(rows: list, p, *, default: int = 20, max_size: int = 100) -> tuple[list, str]:
    """NextToken/MaxResults paging: the token is the position after the page (opaque to the client)."""
    size = p.int("MaxResults", default, lo=1, hi=max_size)
    token = p.str("NextToken") or ""
    start = 0
    if token:
        if not token.startswith("t") or not token[1:].isdigit():
            raise CloudError("InvalidNextToken.Malformed", "The specified NextToken is not valid.")
        start = int(token[1:])
    chunk = rows[start:start + size]
    return chunk, (f"t{start + size}" if start + size < len(rows) else "")


def ids_filter(raw: str | None) -> set[str]:
    """A comma-separated or JSON-array id list parameter as a set (empty: no filter)."""
    if not raw:
        return set()
    text = raw.strip()
    if text.startswith("["):
        import json

        try:
            value = json.loads(text)
        except ValueError:
            raise invalid("Ids") from None
        return {str(v) for v in value}
    return {v.strip() for v in text.split(",") if v.strip()}


def kv_tags(tags: dict[str, str], key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in tags.items()]
