"""Quotas as provisioning sees them: a request that does not fit is refused (422, the numbers named,
nothing recorded, the refusal announced); one that fits holds its quota until the cloud confirms
(committed) or the request is denied (released)."""

from __future__ import annotations

import pytest
from django.test import TestCase

from apps.provisioning.models import ChangeRecord, ProvisioningRequest
from apps.provisioning.tests.conftest import drive, spec
from apps.quotas import services
from apps.quotas.models import QuotaLimit, Reservation
from apps.security.models import AuditEntry
from tests.fixtures import api_as

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/provisioning/requests/"


def _post(world, count):
    return api_as(world["tenant"]).post(URL, {"project": str(world["project"].pk), "platform": world["platform"].pk,
                                              "region": "cn-hangzhou", "spec": spec(world), "count": count},
                                        format="json")


def test_a_request_over_quota_is_refused_with_the_numbers_and_leaves_nothing(world):
    services.limit_set(actor=None, organization=world["hq"], dimension="ecs.instance", limit=2)
    r = _post(world, 3)
    assert r.status_code == 422, r.json()
    body = r.json()
    assert body["code"] == "quota_exceeded"
    assert {k: body["detail"][k] for k in ("dimension", "limit", "usage", "requested", "shortfall")} == \
        {"dimension": "ecs.instance", "limit": 2, "usage": 0, "requested": 3, "shortfall": 1}
    assert body["detail"]["organization"]["name"] == "HQ"
    assert not ProvisioningRequest.objects.exists() and not Reservation.objects.exists()
    assert QuotaLimit.objects.get().used == 0
    assert AuditEntry.objects.filter(action="quota.refused").exists()


def test_a_denied_request_releases_its_quota(world):
    services.limit_set(actor=None, organization=world["hq"], dimension="ecs.vcpu", limit=8)
    r = _post(world, 2)
    assert r.status_code == 202, r.json()
    lim = QuotaLimit.objects.get()
    assert lim.reserved == 4  # ecs.g6.large: 2 vCPU each
    assert _post(world, 3).status_code == 422
    api_as(world["approver"]).post(f"{URL}{r.json()['id']}/deny/", {"comment": "not now"}, format="json")
    lim.refresh_from_db()
    assert lim.used == 0
    assert _post(world, 3).status_code == 202


def test_created_instances_commit_their_quota(world):
    from apps.provisioning import requests

    services.limit_set(actor=None, organization=world["hq"], project=world["project"], dimension="ecs.instance",
                       limit=1)
    with TestCase.captureOnCommitCallbacks(execute=False):
        req = requests.request_create(actor=world["tenant"], project=world["project"], platform=world["platform"],
                                      region="cn-hangzhou", spec=spec(world), count=1)
        requests.request_decide(actor=world["approver"], request=req, verdict="approve")
    change = ChangeRecord.objects.get(request=req)
    drive(change.id)
    lim = QuotaLimit.objects.get()
    assert (lim.committed, lim.reserved) == (1, 0)
    assert Reservation.objects.get().status == "settled"


def _running(world):
    from apps.provisioning import requests

    with TestCase.captureOnCommitCallbacks(execute=False):
        req = requests.request_create(actor=world["tenant"], project=world["project"], platform=world["platform"],
                                      region="cn-hangzhou", spec=spec(world), count=1)
        requests.request_decide(actor=world["approver"], request=req, verdict="approve")
    change = ChangeRecord.objects.get(request=req)
    drive(change.id)
    change.refresh_from_db()
    return change.resource


def _operate(world, row, action, **params):
    r = api_as(world["tenant"]).post(f"/api/v1/provisioning/instances/{row.id}/{action}/",
                                     {"params": params} if params else {}, format="json")
    if r.status_code == 202:
        drive(ChangeRecord.objects.get(operation_id=r.json()["id"]).id)
    return r


def test_a_resize_reserves_only_its_growth_and_a_release_frees_the_usage(world):
    row = _running(world)  # ecs.g6.large: 2 vCPU, 8 GiB
    vcpu = services.limit_set(actor=None, organization=world["hq"], dimension="ecs.vcpu", limit=3)
    instances = services.limit_set(actor=None, organization=world["hq"], dimension="ecs.instance", limit=5)
    assert (vcpu.committed, instances.committed) == (2, 1)  # counted from the inventory
    assert _operate(world, row, "stop").status_code == 202
    assert not AuditEntry.objects.filter(action="quota.refused").exists()
    refused = _operate(world, row, "resize", instance_type="ecs.g6.xlarge")  # 4 vCPU: +2 does not fit in 3
    assert refused.status_code == 422 and refused.json()["detail"]["shortfall"] == 1, refused.json()
    # the refusal is announced like a request's, after the refused operation's transaction rolled back
    assert AuditEntry.objects.filter(action="quota.refused").count() == 1
    services.limit_set(actor=None, organization=world["hq"], dimension="ecs.vcpu", limit=4)
    assert _operate(world, row, "resize", instance_type="ecs.g6.xlarge").status_code == 202
    vcpu.refresh_from_db()
    instances.refresh_from_db()
    assert (vcpu.committed, vcpu.reserved, instances.used) == (4, 0, 1)
    assert _operate(world, row, "release").status_code == 202
    vcpu.refresh_from_db()
    instances.refresh_from_db()
    assert (vcpu.used, instances.used) == (0, 0)
    assert services.usage_reconcile(apply=False) == []


def test_a_pending_requests_reservation_outlives_its_expiry_so_usage_never_exceeds_the_limit(world):
    from datetime import timedelta

    from django.utils import timezone

    lim = services.limit_set(actor=None, organization=world["hq"], dimension="ecs.instance", limit=1)
    waiting = _post(world, 1)
    assert waiting.status_code == 202 and waiting.json()["status"] == "pending", waiting.json()
    held = Reservation.objects.get()
    # The sweeper runs long after the reservation's expiry while the request still waits for approval.
    later = held.expires_at + timedelta(seconds=1)
    assert services.reservations_expire(now=later) == 0
    held.refresh_from_db()
    lim.refresh_from_db()
    assert (held.status, held.reserved_units, lim.used) == ("active", 1, 1)
    assert held.expires_at > timezone.now()
    # The held quota is not handed to anyone else...
    refused = _post(world, 1)
    assert refused.status_code == 422 and refused.json()["detail"]["shortfall"] == 1, refused.json()
    # ...so when the approved request's instance is made, usage reaches the limit and no more.
    with TestCase.captureOnCommitCallbacks(execute=False):
        r = api_as(world["approver"]).post(f"{URL}{waiting.json()['id']}/approve/", {}, format="json")
    assert r.status_code == 202, r.json()
    drive(ChangeRecord.objects.get(request_id=waiting.json()["id"]).id)
    lim.refresh_from_db()
    assert (lim.committed, lim.reserved) == (1, 0)
    assert Reservation.objects.get().status == "settled"


def test_a_finished_requests_leftover_reservation_still_expires(world):
    services.limit_set(actor=None, organization=world["hq"], dimension="ecs.instance", limit=2)
    waiting = _post(world, 1)
    ProvisioningRequest.objects.filter(pk=waiting.json()["id"]).update(status=ProvisioningRequest.Status.FAILED)
    held = Reservation.objects.get()
    assert services.reservations_expire(now=held.expires_at) == 1
    assert QuotaLimit.objects.get().used == 0
