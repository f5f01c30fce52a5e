"""The cloud's offers (images, VPCs, vSwitches, security groups) of a region are listed once for readers that
come together, and cached."""

from __future__ import annotations

import threading

import pytest
from django.core.cache import cache

from apps.provisioning import offers

pytestmark = pytest.mark.django_db

LISTS = ("DescribeVSwitches", "DescribeSecurityGroups", "DescribeVpcs", "DescribeImages")


def listed(control) -> int:
    calls = control.get("/stats")["calls"]
    return sum(calls.get(action, 0) for action in LISTS)


def test_readers_that_come_together_list_the_region_once(world, control):
    platform = world["platform"]
    before = listed(control)
    start = threading.Barrier(6)
    answers: list[dict] = []

    def read() -> None:
        start.wait()
        answers.append(offers.cloud_offers(platform, "cn-hangzhou"))

    threads = [threading.Thread(target=read) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(answers) == 6 and all(answer == answers[0] for answer in answers)
    assert answers[0]["vswitches"] and answers[0]["security_groups"]
    assert listed(control) - before == len(LISTS)
    offers.cloud_offers(platform, "cn-hangzhou")  # cached
    assert listed(control) - before == len(LISTS)


def test_a_reader_that_waited_for_too_long_lists_them_itself(world, control, monkeypatch):
    platform = world["platform"]
    monkeypatch.setattr(offers, "FILL_WAIT", 0.1)
    key = f"provisioning:offers:{platform.pk}:{platform.updated_at.timestamp()}:cn-hangzhou"
    cache.add(f"{key}:filling", 1, 30)  # a reader that went away without listing them
    before = listed(control)
    assert offers.cloud_offers(platform, "cn-hangzhou")["vswitches"]
    assert listed(control) - before == len(LISTS)
