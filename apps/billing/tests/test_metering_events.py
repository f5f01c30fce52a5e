"""Metering hears the inventory: a resource's change event and a finished sync reconcile intervals."""

from __future__ import annotations

import pytest

from apps.billing.models import UsageInterval
from apps.billing.tests.factories import at, instance
from apps.core.events import emit

pytestmark = pytest.mark.django_db


def test_a_resource_event_opens_and_a_change_event_splits_its_interval(people, platform,
                                                                       django_capture_on_commit_callbacks):
    hq = people["hq"]
    vm = instance(platform, hq, since=at("2026-01-05 08:00"))
    with django_capture_on_commit_callbacks(execute=True):
        emit(hq, vm.topic, {"event": "resource_changed", "id": vm.pk, "status": vm.status})
    assert list(UsageInterval.objects.filter(resource=vm).values_list("state", "end_s")) == [("running", None)]
    vm.status, vm.last_changed_at = "stopped", at("2026-01-05 09:10")
    vm.save()
    with django_capture_on_commit_callbacks(execute=True):
        emit(hq, f"sync:{platform.pk}", {"event": "sync_finished", "sync": "sync-x"})
    rows = list(UsageInterval.objects.filter(resource=vm).order_by("start_s").values_list("state", "start_s", "end_s"))
    stop = int(at("2026-01-05 09:10").timestamp())
    assert rows == [("running", int(at("2026-01-05 08:00").timestamp()), stop), ("stopped", stop, None)]
