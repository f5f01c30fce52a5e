"""Scheduling an operation names its resource by id: a resource that does not exist and another
organization's resource get the same answer, and nothing is scheduled."""

from __future__ import annotations

import pytest
from django_celery_beat.models import PeriodicTask
from rest_framework.test import APIClient

from apps.provisioning.models import ScheduledOperation
from apps.resources.tests.factories import resource

pytestmark = pytest.mark.django_db
SCHEDULES = "/api/v1/provisioning/schedules/"


def api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def schedule(user, resource_id: str):
    return api(user).post(SCHEDULES, {"resource": resource_id, "action": "stop", "cron": "0 20 * * 1-5",
                                      "comment": "nightly"}, format="json")


def test_a_missing_and_another_organizations_resource_get_the_same_answer(world):
    theirs = resource(world["platform"], organization=world["other"], project=world["foreign_project"])
    tasks = PeriodicTask.objects.count()
    missing = schedule(world["tenant"], "res-" + "0" * 28)
    foreign = schedule(world["tenant"], theirs.pk)
    malformed = schedule(world["tenant"], "not-an-id")
    assert missing.status_code == foreign.status_code == malformed.status_code == 400
    assert missing.json() == foreign.json() == malformed.json()
    assert set(missing.json()["detail"]) == {"resource"}
    assert not ScheduledOperation.objects.exists()
    assert PeriodicTask.objects.count() == tasks


def test_a_visible_resource_is_scheduled(world):
    mine = resource(world["platform"], organization=world["hq"], project=world["project"])
    response = schedule(world["tenant"], mine.pk)
    assert response.status_code == 201, response.content
    assert response.json()["resource"] == mine.pk
    assert ScheduledOperation.objects.get().resource_id == mine.pk
