"""Rules of submitting a provisioning request that a requester and the quota and price hooks see: who may
ask through a grant on the project or on the cloud platform only, what is stored with the request (its
price estimate, no quota reservation when the quota backend holds none, no reason when none is given),
and a vCPU bound of automatic approval, which a type without vCPUs (a disk) never exceeds."""

from __future__ import annotations

from typing import Any

import pytest

from apps.core.errors import InvalidInput
from apps.provisioning import hooks
from apps.provisioning import requests as rules
from apps.provisioning.models import ChangeRecord, ProvisioningRequest
from apps.provisioning.tests.conftest import TENANT_PERMISSIONS, spec
from apps.provisioning.tests.test_requests_rules import create, timeline
from tests import factories as f

pytestmark = pytest.mark.django_db


# -- who may ask: a grant on the project, or on the cloud platform, is enough -------------------------------

def test_a_create_permission_granted_on_the_project_only_lets_its_holder_ask_there(world):
    member = f.user("project-member", world["hq"])
    f.grant(f.role(*TENANT_PERMISSIONS, key="project_tenant"), member, world["project"])
    request = create(world, actor=member)
    assert (request.requester, request.project) == (member, world["project"])
    other = f.project(world["hq"], world["tenant"], name="other")
    with pytest.raises(InvalidInput) as refused:
        create(world, actor=member, project=other)
    assert (refused.value.message, refused.value.detail) == ("Choose a project you may provision in.",
                                                             {"project": ["not found"]})
    assert ProvisioningRequest.objects.filter(requester=member).count() == 1


def test_a_create_permission_granted_on_the_cloud_platform_only_lets_its_holder_ask_on_it(world):
    member = f.user("platform-member", world["hq"])
    f.grant(f.role(*TENANT_PERMISSIONS, key="platform_tenant"), member, None, scope_type="cloud_platform",
            scope_key=world["platform"].pk)
    request = create(world, actor=member)
    assert (request.requester, request.platform) == (member, world["platform"])


# -- what is stored with the request -------------------------------------------------------------------------

def test_the_price_estimate_of_what_was_asked_is_stored_with_the_request(world):
    asked: list[dict[str, Any]] = []

    def estimate(**kw: Any) -> dict[str, Any]:
        asked.append(kw)
        return {"currency": "CNY", "hourly": "0.7500", "count": kw["count"]}

    previous = hooks.install_price_estimator(estimate)
    try:
        request = create(world, count=2)
    finally:
        hooks.install_price_estimator(previous)
    request.refresh_from_db()
    assert request.price_estimate == {"currency": "CNY", "hourly": "0.7500", "count": 2}
    (kw,) = asked
    assert (kw["platform"], kw["region"], kw["resource_type"], kw["count"]) == \
        (world["platform"], "cn-hangzhou", "ecs.instance", 2)
    assert (kw["spec"]["instance_type"], kw["spec"]["vcpu"], kw["spec"]["memory_mib"]) == ("ecs.g6.large", 2, 8192)


class HoldsNothing:
    """A quota backend that keeps no reservation (as when no quota app decides): it hands back ``""``."""

    def __init__(self) -> None:
        self.settled: list[tuple[str, str, dict[str, int]]] = []

    def reserve(self, **kw: Any) -> str:
        return ""

    def commit(self, reservation_id: str, *, part: dict[str, int]) -> None:
        self.settled.append(("commit", reservation_id, part))

    def release(self, reservation_id: str, *, part: dict[str, int]) -> None:
        self.settled.append(("release", reservation_id, part))


def test_a_backend_that_holds_no_reservation_is_handed_back_none_when_the_request_ends(world):
    backend = HoldsNothing()
    previous = hooks.install_quota_backend(backend)
    try:
        request = create(world, count=2)
        request.refresh_from_db()
        assert request.quota_reservation == ""
        rules.request_cancel(actor=world["tenant"], request=request)
    finally:
        hooks.install_quota_backend(previous)
    assert backend.settled == [("release", "", {"count": 2})]


def test_a_request_asked_for_without_a_reason_has_none(world):
    request = rules.request_create(actor=world["tenant"], project=world["project"], platform=world["platform"],
                                   region="cn-hangzhou", spec=spec(world), count=1)
    request.refresh_from_db()
    assert request.reason == ""
    assert timeline(request)[0][:2] == ("submitted", "Requested 1 × ecs.g6.large in cn-hangzhou-a")


# -- automatic approval: a disk has no vCPUs -----------------------------------------------------------------

def test_disks_are_approved_automatically_under_a_vcpu_bound_whatever_their_count(world):
    rules.ApprovalPolicy.objects.create(organization=world["hq"], name="no vCPUs", levels=[{"mode": "any"}],
                                        auto_approve_max_vcpu=2)
    f.grant(f.role("ecs:disk:create", key="disk_role"), world["tenant"], world["hq"])
    disk = {"zone": "cn-hangzhou-a", "category": "cloud_essd", "size_gib": 40, "name": "scratch"}
    request = create(world, resource_type="ecs.disk", spec=disk, count=3)
    request.refresh_from_db()
    assert request.status == ProvisioningRequest.Status.PROVISIONING
    assert [kind for kind, _, _ in timeline(request)] == ["submitted", "approved", "provisioning"]
    assert timeline(request)[1][1] == "Approved automatically by policy no vCPUs"
    assert sorted(ChangeRecord.objects.filter(request=request).values_list("operation__target_name", flat=True)) \
        == ["scratch-1", "scratch-2", "scratch-3"]
    # An instance of 2 vCPUs under the same bound: one is approved, two wait.
    assert create(world, count=1).status == ProvisioningRequest.Status.PROVISIONING
    assert create(world, count=2).status == ProvisioningRequest.Status.PENDING
