"""The lifecycle state machine through the API: which action may start from which state, per resource
type; every busy state makes an operation wait; a released resource takes no action; each refusal is a
409 that names the state, the action and the states that would allow it."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.core.models import Operation
from apps.resources.tests.factories import resource
from tests import factories as f

pytestmark = pytest.mark.django_db

# The console's table: action -> states it may start from (what an operator is promised).
RELEASABLE = ["active", "available", "in_use", "inactive", "running", "stopped"]
TRANSITIONS = {
    "ecs.instance": {"start": ["stopped"], "stop": ["running"], "reboot": ["running"], "resize": ["stopped"],
                     "release": ["running", "stopped"]},
    "ecs.disk": {"attach": ["available"], "detach": ["in_use"], "release": ["available"]},
    "eip.eip": {"attach": ["available"], "detach": ["in_use"], "release": ["available"]},
    # every other type
    "rds.instance": {"reboot": ["running"], "release": RELEASABLE},
    "slb.instance": {"resize": ["available", "running"], "release": RELEASABLE},
}
SETTLED = ["running", "stopped", "available", "in_use", "inactive", "active", "expired"]
BUSY = ["pending", "starting", "stopping", "creating", "changing", "deleting", "attaching", "detaching",
        "associating", "unassociating", "transferring", "restarting", "rebooting"]


@pytest.fixture
def operator(world):
    person = f.user("operator", world["hq"])
    f.grant(f.role("*", key="operator_everything"), person, world["hq"])
    client = APIClient()
    client.force_login(person)
    return client


def _row(world, type_: str, status: str, **kw):
    return resource(world["platform"], organization=world["hq"], type=type_, status=status, **kw)


def _params(world, type_: str, action: str, row) -> dict:
    """What each action needs besides a state, so the answer depends on the state alone."""
    if action == "resize" and type_ == "ecs.instance":
        return {"instance_type": "ecs.g6.xlarge"}
    if action == "resize":
        return {"instance_type": "slb.s2.medium"}
    if action == "attach":
        return {"instance": _row(world, "ecs.instance", "running").id}
    return {}


def _act(client, world, type_: str, status: str, action: str, **kw):
    row = _row(world, type_, status, **kw)
    if action == "detach":
        row.spec = {"instance_id": "i-attached"}
        row.save(update_fields=["spec"])
    body = {"params": _params(world, type_, action, row), "comment": ""}
    return row, client.post(f"/api/v1/provisioning/instances/{row.id}/{action}/", body, format="json")


@pytest.mark.parametrize("type_", list(TRANSITIONS))
def test_each_action_starts_only_from_the_states_that_allow_it(world, operator, type_):
    for action, allowed in TRANSITIONS[type_].items():
        for status in SETTLED:
            row, response = _act(operator, world, type_, status, action)
            if status in allowed:
                assert response.status_code == 202, (type_, action, status, response.content)
                assert Operation.objects.filter(pk=response.json()["id"]).exists()
                continue
            assert response.status_code == 409, (type_, action, status, response.content)
            body = response.json()
            if type_ == "ecs.instance" and action == "resize":
                assert body == {
                    "code": "resource_must_be_stopped",
                    "message": f"{row.name} is {status}: the cloud resizes an instance only when it is stopped. "
                               f"Stop it first.",
                    "detail": {"status": status, "action": action, "allowed": allowed}}
            else:
                assert body == {
                    "code": "invalid_transition",
                    "message": f"Cannot {action} a resource that is {status}; it must be {' or '.join(allowed)}.",
                    "detail": {"status": status, "action": action, "allowed": allowed}}


def test_a_type_without_its_own_rules_follows_the_common_ones(world, operator):
    # a load balancer has no entry of its own: it resizes while active (available or running), not stopped
    _, accepted = _act(operator, world, "slb.instance", "available", "resize")
    _, refused = _act(operator, world, "slb.instance", "stopped", "resize")
    assert accepted.status_code == 202, accepted.content
    assert refused.status_code == 409 and refused.json()["code"] == "invalid_transition"


@pytest.mark.parametrize("status", BUSY)
def test_every_busy_state_makes_any_action_wait(world, operator, status):
    for type_, action in (("ecs.instance", "stop"), ("ecs.instance", "release"), ("ecs.disk", "release"),
                          ("rds.instance", "reboot")):
        _, response = _act(operator, world, type_, status, action)
        assert response.status_code == 409, (type_, action, response.content)
        assert response.json() == {"code": "resource_busy",
                                   "message": f"The resource is {status}; wait until the cloud has finished.",
                                   "detail": {"status": status}}


def test_states_are_compared_without_regard_to_case(world, operator):
    _, started = _act(operator, world, "ecs.instance", "Stopped", "start")
    assert started.status_code == 202, started.content
    _, refused = _act(operator, world, "ecs.instance", "Running", "start")
    assert refused.status_code == 409
    assert refused.json()["detail"] == {"status": "running", "action": "start", "allowed": ["stopped"]}
    _, busy = _act(operator, world, "ecs.instance", "Stopping", "stop")
    assert busy.json() == {"code": "resource_busy", "message": "The resource is stopping; wait until the cloud "
                                                               "has finished.", "detail": {"status": "stopping"}}


def test_a_released_resource_takes_no_action_whatever_its_last_state(world, operator):
    for status in ("running", "stopping", ""):
        _, response = _act(operator, world, "ecs.instance", status, "stop", deleted=True)
        assert response.status_code == 409, response.content
        assert response.json() == {"code": "resource_released", "message": "The resource has been released.",
                                   "detail": {"status": "deleted"}}


def test_a_resource_in_no_known_state_is_refused_saying_so(world, operator):
    _, response = _act(operator, world, "ecs.instance", "", "stop")
    assert response.status_code == 409
    assert response.json() == {"code": "invalid_transition",
                               "message": "Cannot stop a resource that is in an unknown state; it must be running.",
                               "detail": {"status": "", "action": "stop", "allowed": ["running"]}}


def test_a_running_instance_without_a_name_is_named_by_its_cloud_id_when_resize_is_refused(world, operator):
    row, response = _act(operator, world, "ecs.instance", "running", "resize", name="")
    assert response.status_code == 409
    assert response.json()["message"] == (f"{row.external_id} is running: the cloud resizes an instance only when "
                                          f"it is stopped. Stop it first.")
