"""Builders of core objects for tests (people and organizations come from ``tests.factories``)."""

from __future__ import annotations

from typing import Any

from apps.core.models import Operation


def operation(org: Any, *, kind: str = "test", **fields: Any) -> Operation:
    return Operation.objects.create(organization=org, kind=kind, **fields)
