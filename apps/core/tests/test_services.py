"""The life of an Operation: progress only moves forward, a finished operation never changes, a
step recorded twice is recorded once, and bad input starts nothing."""

from __future__ import annotations

import pytest

from apps.core import services
from apps.core.errors import Conflict, InvalidInput
from apps.core.models import Operation
from tests import factories
from unimanager.celery import app as celery_app

OPERATIONS = "/api/v1/core/operations/"
DIAGNOSTICS = "/api/v1/core/operations/diagnostics/"


@pytest.fixture
def op(world) -> Operation:
    return services.operation_create(organization=world.org_a, kind="test", actor=world.alice)


def reload(op: Operation) -> Operation:
    return Operation.objects.get(pk=op.pk)


def test_a_new_operation_is_pending_with_its_actor(op, world):
    assert op.status == Operation.Status.PENDING
    assert op.progress == 0 and op.step == 0
    assert op.actor == world.alice
    assert op.id.startswith("op-")


def test_advancing_a_step_runs_the_operation(op):
    services.operation_advance(operation_id=op.id, step=1, progress=20, message="Step 1")
    op = reload(op)
    assert (op.status, op.step, op.progress, op.message) == ("running", 1, 20, "Step 1")
    assert op.started_at is not None


def test_progress_only_moves_forward(op):
    services.operation_advance(operation_id=op.id, step=1, progress=60, message="fast")
    services.operation_advance(operation_id=op.id, step=2, progress=30, message="slower estimate")
    op = reload(op)
    assert op.step == 2
    assert op.progress == 60


def test_progress_stays_within_0_and_100(op):
    services.operation_advance(operation_id=op.id, step=1, progress=250, message="overshoot")
    assert reload(op).progress == 100


def test_advancing_the_same_step_twice_is_a_no_op(op, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as announced:
        first = services.operation_advance(operation_id=op.id, step=1, progress=10, message="first")
        again = services.operation_advance(operation_id=op.id, step=1, progress=50, message="again")
        earlier = services.operation_advance(operation_id=op.id, step=0, progress=90, message="late")
    assert first is not None
    assert again is None and earlier is None
    assert len(announced) == 1  # only the first is announced
    op = reload(op)
    assert (op.step, op.progress, op.message) == (1, 10, "first")


def test_succeeding_finishes_at_100_percent(op):
    services.operation_succeed(operation_id=op.id, message="All good", result={"n": 3})
    op = reload(op)
    assert (op.status, op.progress, op.result) == ("succeeded", 100, {"n": 3})
    assert op.is_final and op.finished_at is not None


@pytest.mark.parametrize("finish", ["succeed", "fail", "cancel"])
def test_a_finished_operation_never_changes(op, world, finish, django_capture_on_commit_callbacks):
    if finish == "succeed":
        services.operation_succeed(operation_id=op.id)
    elif finish == "fail":
        services.operation_fail(operation_id=op.id, error="boom")
    else:
        services.operation_cancel(operation_id=op.id, actor=world.alice)
    before = reload(op)
    with django_capture_on_commit_callbacks() as announced:
        assert services.operation_advance(operation_id=op.id, step=5, progress=50, message="late") is None
        assert services.operation_succeed(operation_id=op.id, message="late") is None
        assert services.operation_fail(operation_id=op.id, error="late") is None
        with pytest.raises(Conflict):
            services.operation_cancel(operation_id=op.id, actor=world.alice)
    after = reload(op)
    assert announced == []
    fields = ("status", "progress", "step", "message", "error", "result", "finished_at", "updated_at")
    assert [getattr(after, f) for f in fields] == [getattr(before, f) for f in fields]


def test_cancelling_a_finished_operation_is_a_conflict(op, world):
    services.operation_succeed(operation_id=op.id)
    with pytest.raises(Conflict) as refused:
        services.operation_cancel(operation_id=op.id, actor=world.alice)
    assert refused.value.code == "operation_finished"
    assert refused.value.status == 409


def test_cancel_of_a_finished_operation_through_the_api_is_409_operation_finished(op, alice_api):
    services.operation_succeed(operation_id=op.id)
    response = alice_api.post(f"{OPERATIONS}{op.id}/cancel/")
    assert response.status_code == 409
    assert response.json()["code"] == "operation_finished"
    assert reload(op).status == "succeeded"


def test_a_cancelled_diagnostic_takes_no_further_step(world):
    op = services.diagnostic_start(organization=world.org_a, actor=world.alice, steps=3, interval=0)
    services.diagnostic_step(operation_id=op.id, step=1)
    services.operation_cancel(operation_id=op.id, actor=world.alice)
    assert services.diagnostic_step(operation_id=op.id, step=2) == (False, 0.0)
    op = reload(op)
    assert (op.status, op.step) == ("cancelled", 1)


def test_the_diagnostic_walks_its_steps_to_success(world):
    op = services.diagnostic_start(organization=world.org_a, actor=world.alice, steps=4, interval=0.25)
    seen = []
    step, more = 1, True
    while more:
        more, delay = services.diagnostic_step(operation_id=op.id, step=step)
        seen.append(reload(op).progress)
        assert delay == (0.25 if more else 0.0)
        step += 1
    assert seen == [25, 50, 75, 100]
    op = reload(op)
    assert (op.status, op.step, op.result) == ("succeeded", 4, {"steps": 4})


def test_a_step_delivered_twice_does_not_move_the_diagnostic_back(world):
    op = services.diagnostic_start(organization=world.org_a, actor=world.alice, steps=4, interval=0)
    services.diagnostic_step(operation_id=op.id, step=1)
    services.diagnostic_step(operation_id=op.id, step=2)
    services.diagnostic_step(operation_id=op.id, step=1)  # a late redelivery
    op = reload(op)
    assert (op.step, op.progress) == (2, 50)


@pytest.mark.parametrize(
    "params",
    [{"steps": 0}, {"steps": 51}, {"steps": True}, {"steps": 2.5}, {"interval": -1}, {"interval": 11},
     {"interval": float("nan")}],
)
def test_the_diagnostic_service_refuses_bad_parameters(world, params):
    with pytest.raises(InvalidInput):
        services.diagnostic_start(organization=world.org_a, actor=world.alice, **params)
    assert not Operation.objects.exists()


def test_starting_a_diagnostic_answers_202_with_the_operation(world, alice_api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as on_commit:
        response = alice_api.post(DIAGNOSTICS, {"steps": 3, "interval": 0}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    op = Operation.objects.get()
    assert body["id"] == op.id
    assert body["status"] == "pending"
    assert body["kind"] == "diagnostic"
    assert body["organization"] == str(world.org_a.id)
    assert body["actor"] == "alice"
    assert op.params == {"steps": 3, "interval": 0.0}
    assert len(on_commit) == 2  # the "queued" announcement and the first step's task


def test_a_diagnostic_started_through_the_api_runs_to_success(world, alice_api,
                                                              django_capture_on_commit_callbacks):
    celery_app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = alice_api.post(DIAGNOSTICS, {"steps": 3, "interval": 0}, format="json")
    finally:
        celery_app.conf.task_always_eager = False
    assert response.status_code == 202
    detail = alice_api.get(f"{OPERATIONS}{response.json()['id']}/").json()
    assert (detail["status"], detail["progress"], detail["step"]) == ("succeeded", 100, 3)


def test_a_diagnostic_can_be_started_in_a_department_of_ones_organization(world, alice_api):
    response = alice_api.post(DIAGNOSTICS, {"steps": 1, "organization": str(world.dept_a.id)}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["organization"] == str(world.dept_a.id)


@pytest.mark.parametrize(
    "body",
    [
        {"steps": 0},
        {"steps": "x"},
        {"steps": 51},
        {"steps": None},
        {"interval": -1},
        {"interval": "nan"},
        {"interval": "soon"},
        {"organization": "not-a-uuid"},
        {"organization": "00000000-0000-4000-8000-000000000000"},
        [],
    ],
)
def test_bad_diagnostic_input_is_400_and_creates_no_operation(world, alice_api, body):
    response = alice_api.post(DIAGNOSTICS, body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert not Operation.objects.exists()


def test_a_diagnostic_in_an_organization_one_is_not_in_is_400_and_creates_nothing(world, alice_api):
    response = alice_api.post(DIAGNOSTICS, {"steps": 2, "organization": str(world.org_b.id)}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == {"organization": ["not found"]}
    assert not Operation.objects.exists()


def test_a_person_in_no_organization_cannot_start_a_diagnostic(world):
    from tests.fixtures import api_as

    response = api_as(factories.user("loner")).post(DIAGNOSTICS, {"steps": 2}, format="json")
    assert response.status_code == 400
    assert not Operation.objects.exists()


def test_superuser_may_start_a_diagnostic_in_any_organization(world, root_api):
    response = root_api.post(DIAGNOSTICS, {"steps": 2, "organization": str(world.org_b.id)}, format="json")
    assert response.status_code == 202
    assert Operation.objects.get().organization == world.org_b
