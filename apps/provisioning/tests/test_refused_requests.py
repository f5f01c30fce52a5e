"""A refused request changes nothing: validation errors (400), permission refusals (403), conflicts
with the current state (409) and rule refusals (422), on the write endpoints of several apps, leave
every row of every model as it was. Requests are not wrapped in a transaction (``ATOMIC_REQUESTS``
is off), so this holds only because each service checks before it writes or writes in its own
transaction; the walk compares the whole database before and after each refused request.

Only the audit log grows: refusals are audited by design (``access.denied`` and the catch-all entry)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.utils import timezone
from rest_framework.test import APIClient

from apps.provisioning import lifecycle
from apps.provisioning.tests.conftest import spec
from apps.resources.tests.factories import resource

pytestmark = pytest.mark.django_db

# The audit log records refusals on purpose; everything else must be untouched.
AUDIT_LOG = {"security.auditentry", "security.auditchainhead"}


def database_state() -> dict[str, list[tuple]]:
    """Every row of every model (auto-created many-to-many tables included), in primary-key order."""
    state = {}
    for model in django_apps.get_models(include_auto_created=True):
        label = model._meta.label_lower
        if label in AUDIT_LOG:
            continue
        state[label] = list(model._base_manager.order_by("pk").values_list())
    return state


def changed_tables(before: dict[str, list[tuple]], after: dict[str, list[tuple]]) -> dict[str, str]:
    return {label: f"{len(before[label])} rows -> {len(after[label])} rows" if len(before[label]) !=
            len(after[label]) else "rows changed in place"
            for label in before if before[label] != after[label]}


def api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def estate(world):
    """A pending request of the tenant, a denied one, a stopped instance, a running one with an operation in
    progress, the tenant's two AccessKey pairs (the most allowed) and a used Idempotency-Key."""
    from apps.provisioning.models import ProvisioningRequest
    from apps.security import services as security
    from tests import factories as f

    tenant = world["tenant"]
    admin = f.user("refusal-admin", world["hq"], is_superuser=True)
    body = {"project": str(world["project"].pk), "platform": world["platform"].pk, "region": "cn-hangzhou",
            "spec": spec(world), "count": 1}
    pending = api(tenant).post("/api/v1/provisioning/requests/", body, format="json")
    assert pending.status_code == 202 and pending.json()["status"] == "pending", pending.content
    denied = api(tenant).post("/api/v1/provisioning/requests/", body, format="json").json()
    assert api(world["approver"]).post(f"/api/v1/provisioning/requests/{denied['id']}/deny/",
                                       {"comment": "no"}, format="json").status_code == 202
    assert ProvisioningRequest.objects.get(pk=denied["id"]).status == "denied"
    stopped = resource(world["platform"], organization=world["hq"], project=world["project"], status="stopped",
                       spec={"instance_type": "ecs.g6.large"})
    busy = resource(world["platform"], organization=world["hq"], project=world["project"], status="running",
                    spec={"instance_type": "ecs.g6.large"})
    lifecycle.operation_start(actor=tenant, resource=busy, action="stop")
    security.access_key_create(actor=tenant)
    security.access_key_create(actor=tenant)
    started = api(tenant).post(f"/api/v1/provisioning/instances/{stopped.id}/start/", {"comment": "first"},
                               format="json", HTTP_IDEMPOTENCY_KEY="used-key")
    assert started.status_code == 202, started.content
    # The started operation would make every later command on ``stopped`` a conflict: finish it unrun.
    from apps.core.models import Operation
    from apps.provisioning.models import ChangeRecord

    ChangeRecord.objects.filter(operation_id=started.json()["id"]).update(phase=ChangeRecord.Phase.DONE)
    Operation.objects.filter(pk=started.json()["id"]).update(status=Operation.Status.SUCCEEDED)
    return {"admin": admin, "pending": pending.json()["id"], "denied": denied["id"], "stopped": stopped,
            "busy": busy}


Case = tuple[str, Callable[[dict, dict], tuple[Any, str, str, dict, dict]], int, str]

CASES: list[Case] = [
    # -- validation errors (400)
    ("a request for zero instances",
     lambda w, e: (w["tenant"], "post", "/api/v1/provisioning/requests/",
                   {"project": str(w["project"].pk), "platform": w["platform"].pk, "region": "cn-hangzhou",
                    "spec": spec(w), "count": 0}, {"HTTP_IDEMPOTENCY_KEY": "zero"}), 400, "invalid"),
    ("a request for an instance type the cloud does not offer",
     lambda w, e: (w["tenant"], "post", "/api/v1/provisioning/requests/",
                   {"project": str(w["project"].pk), "platform": w["platform"].pk, "region": "cn-hangzhou",
                    "spec": spec(w, instance_type="ecs.nope.large"), "count": 2}, {}), 400, "invalid"),
    ("a request naming a vSwitch the cloud does not have",
     lambda w, e: (w["tenant"], "post", "/api/v1/provisioning/requests/",
                   {"project": str(w["project"].pk), "platform": w["platform"].pk, "region": "cn-hangzhou",
                    "spec": spec(w, vswitch_id="vsw-missing"), "count": 1}, {}), 400, "invalid"),
    ("a denial without a comment",
     lambda w, e: (w["approver"], "post", f"/api/v1/provisioning/requests/{e['pending']}/deny/", {}, {}),
     400, "invalid"),
    ("a resize without the new type",
     lambda w, e: (w["tenant"], "post", f"/api/v1/provisioning/instances/{e['stopped'].id}/resize/",
                   {"params": {}}, {"HTTP_IDEMPOTENCY_KEY": "resize-1"}), 400, "invalid"),
    ("a batch naming a resource that does not exist",
     lambda w, e: (w["tenant"], "post", "/api/v1/provisioning/instances/batch/",
                   {"action": "start", "resources": [e["stopped"].id, "res-" + "0" * 28]}, {}), 400, "invalid"),
    ("a schedule in the past",
     lambda w, e: (w["tenant"], "post", "/api/v1/provisioning/schedules/",
                   {"resource": e["stopped"].id, "action": "start",
                    "run_at": (timezone.now() - timedelta(hours=1)).isoformat()}, {}), 400, "invalid"),
    ("an approval policy with malformed levels",
     lambda w, e: (w["approver"], "post", "/api/v1/provisioning/policies/",
                   {"organization": str(w["hq"].pk), "name": "bad", "levels": [{"mode": "most"}]}, {}),
     400, "invalid"),
    ("an organization without a name",
     lambda w, e: (e["admin"], "post", "/api/v1/organizations/organizations/", {}, {}), 400, "invalid"),
    ("a grant without a role",
     lambda w, e: (e["admin"], "post", "/api/v1/rbac/grants/", {"grantee_type": "user",
                                                                "user": str(w["tenant"].pk)}, {}), 400, "invalid"),
    # -- permission refusals (403)
    ("an approval without the approve permission",
     lambda w, e: (w["tenant"], "post", f"/api/v1/provisioning/requests/{e['pending']}/approve/", {}, {}),
     403, "forbidden"),
    ("an organization made by a member without the permission",
     lambda w, e: (w["tenant"], "post", "/api/v1/organizations/organizations/", {"name": "Rogue"}, {}),
     403, "forbidden"),
    ("a role made by a member without the permission",
     lambda w, e: (w["tenant"], "post", "/api/v1/rbac/roles/",
                   {"key": "rogue", "name": "Rogue", "permissions": ["*"], "organization": str(w["hq"].pk)}, {}),
     403, "forbidden"),
    # -- conflicts with the current state (409)
    ("stopping a stopped instance",
     lambda w, e: (w["tenant"], "post", f"/api/v1/provisioning/instances/{e['stopped'].id}/stop/", {},
                   {"HTTP_IDEMPOTENCY_KEY": "stop-stopped"}), 409, "invalid_transition"),
    ("starting an instance whose stop is still running",
     lambda w, e: (w["tenant"], "post", f"/api/v1/provisioning/instances/{e['busy'].id}/reboot/", {}, {}),
     409, "operation_in_progress"),
    ("approving a denied request",
     lambda w, e: (w["approver"], "post", f"/api/v1/provisioning/requests/{e['denied']}/approve/", {}, {}),
     409, "request_decided"),
    ("a third active AccessKey pair",
     lambda w, e: (w["tenant"], "post", "/api/v1/security/access-keys/", {"description": "third"}, {}),
     409, None),
    # -- refused by a rule (422)
    ("an Idempotency-Key reused for another command",
     lambda w, e: (w["tenant"], "post", f"/api/v1/provisioning/instances/{e['stopped'].id}/start/",
                   {"comment": "second"}, {"HTTP_IDEMPOTENCY_KEY": "used-key"}), 422, "idempotency_key_reused"),
]


@pytest.mark.parametrize("name,make,status,code", CASES, ids=[c[0] for c in CASES])
def test_a_refused_request_leaves_no_write_behind(world, estate, name, make, status, code):
    from apps.security.models import AuditEntry

    user, method, url, body, headers = make(world, estate)
    client = api(user)
    audited = AuditEntry.objects.count()
    before = database_state()
    response = getattr(client, method)(url, body, format="json", **headers)
    assert response.status_code == status, f"{name}: {response.status_code} {response.content[:300]!r}"
    answer = response.json()
    assert set(answer) == {"code", "message", "detail"}
    if code is not None:
        assert answer["code"] == code, answer
    assert changed_tables(before, database_state()) == {}, name
    assert AuditEntry.objects.count() > audited, "a refusal leaves its audit entry"


def test_the_walk_sees_a_write_when_there_is_one(world, estate):
    """The comparison is not blind: an accepted command shows up as changed tables."""
    before = database_state()
    response = api(world["tenant"]).post(f"/api/v1/provisioning/instances/{estate['stopped'].id}/start/",
                                         {"comment": "again"}, format="json")
    assert response.status_code == 202, response.content
    changed = changed_tables(before, database_state())
    assert {"core.operation", "provisioning.changerecord"} <= set(changed)
