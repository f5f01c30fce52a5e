"""Builders of cloud platforms for tests, and the objects the tenant isolation test needs."""

from __future__ import annotations

import itertools
from typing import Any

from apps.clouds.models import CloudPlatform
from apps.clouds.secrets import encrypt_json

_seq = itertools.count(1)


def platform(organization: Any, *, type: str = "apsara", endpoint: str = "127.0.0.1:1", name: str | None = None,
             access_key_id: str = "cloudsim-access-key", access_key_secret: str = "cloudsim-access-secret",
             **kw: Any) -> CloudPlatform:
    kw.setdefault("protocol", "http")
    kw.setdefault("default_region", "cn-hangzhou" if type == "apsara" else "us-east-1")
    return CloudPlatform.objects.create(
        organization=organization, type=type, name=name or f"platform-{next(_seq)}", endpoint=endpoint,
        credentials_encrypted=encrypt_json({"access_key_id": access_key_id, "access_key_secret": access_key_secret}),
        access_key_hint="clou…ey", **kw)


def isolation_objects(org: Any) -> list[Any]:
    return [platform(org, name=f"isolation-{next(_seq)}")]
