"""Builders of cloud platforms for tests, and the objects the tenant isolation test needs."""

from __future__ import annotations

import itertools
from typing import Any

from apps.clouds.models import CloudPlatform
from apps.clouds.secrets import encrypt_json
from apps.clouds.simulated import sim_connection

_seq = itertools.count(1)


def platform(organization: Any, *, type: str = "apsara", endpoint: str = "127.0.0.1:1", name: str | None = None,
             access_key_id: str | None = None, access_key_secret: str | None = None,
             **kw: Any) -> CloudPlatform:
    """A platform; an ``apsara`` one connects as cloudsim's Apsara Stack account (its organization and
    resource set) unless other credentials are given."""
    kw.setdefault("protocol", "http")
    kw.setdefault("default_region", "cn-hangzhou" if type == "apsara" else "us-east-1")
    if type == "apsara" and access_key_id is None:
        connection = sim_connection()
        access_key_id = connection["credentials"]["access_key_id"]
        access_key_secret = access_key_secret or connection["credentials"]["access_key_secret"]
        kw.setdefault("apsara_organization_id", connection["organization_id"])
        kw.setdefault("apsara_resource_set_id", connection["resource_set_id"])
    access_key_id = access_key_id or "cloudsim-access-key"
    access_key_secret = access_key_secret or "cloudsim-access-secret"
    return CloudPlatform.objects.create(
        organization=organization, type=type, name=name or f"platform-{next(_seq)}", endpoint=endpoint,
        credentials_encrypted=encrypt_json({"access_key_id": access_key_id, "access_key_secret": access_key_secret}),
        access_key_hint=f"{access_key_id[:4]}…{access_key_id[-2:]}", **kw)


def isolation_objects(org: Any) -> list[Any]:
    return [platform(org, name=f"isolation-{next(_seq)}")]
