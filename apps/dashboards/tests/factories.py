"""Builders of dashboards for tests."""

from __future__ import annotations

import itertools
from typing import Any

from apps.dashboards.models import Dashboard, DashboardVersion

_seq = itertools.count(1)


def document(uid: str | None = None, **kw: Any) -> dict[str, Any]:
    doc = {"uid": uid or f"test-{next(_seq)}", "title": "Test board", "refresh": 60, "stale_after": 120,
           "variables": [], "widgets": [
               {"id": "running", "type": "stat", "title": "Running", "gridPos": {"x": 0, "y": 0, "w": 6, "h": 4},
                "query": {"name": "core.operations_running", "params": {}}, "options": {}},
               {"id": "types", "type": "bar", "title": "By type", "gridPos": {"x": 6, "y": 0, "w": 12, "h": 6},
                "query": {"name": "resources.by", "params": {"group_by": "type"}}, "options": {}}]}
    doc.update(kw)
    return doc


def dashboard(organization: Any, uid: str | None = None, **kw: Any) -> Dashboard:
    from apps.dashboards.document import clean_document

    doc = clean_document(document(uid, **kw))
    row = Dashboard.objects.create(uid=doc["uid"], organization=organization, title=doc["title"], document=doc)
    DashboardVersion.objects.create(dashboard=row, version=1, title=row.title, document=doc)
    return row


def isolation_objects(org: Any) -> list[Any]:
    from apps.dashboards.models import DataSource

    source = DataSource.objects.create(organization=org, name="costs", kind=DataSource.Kind.TABLE,
                                       table={"columns": ["team"], "rows": [["a"]], "numeric": []})
    return [dashboard(org), source]
