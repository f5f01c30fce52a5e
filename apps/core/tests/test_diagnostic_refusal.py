"""Starting a diagnostic needs ``core:operation:write`` where it runs: a person who may only follow
operations there (a viewer) is refused with 403 naming the permission (core's one ``require``), and
nothing is created."""

from __future__ import annotations

from apps.core.models import Operation
from tests import factories as f
from tests.fixtures import api_as

DIAGNOSTICS = "/api/v1/core/operations/diagnostics/"


def test_a_viewer_may_follow_operations_but_not_start_a_diagnostic(world):
    watcher = f.user("watcher")
    f.grant(f.predefined("viewer"), watcher, world.org_b)
    client = api_as(watcher)
    assert client.get("/api/v1/core/operations/").status_code == 200
    response = client.post(DIAGNOSTICS, {"steps": 2, "organization": str(world.org_b.id)}, format="json")
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "forbidden"
    assert response.json()["detail"] == {"permission": "core:operation:write"}
    assert not Operation.objects.exists()
