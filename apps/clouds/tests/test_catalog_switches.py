"""The catalog page per platform: which services are collected and which can be requested, and the
switch per platform and service (only for those who may change the platform; another organization's
platform is not found; a refused switch changes nothing)."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.clouds import services
from apps.clouds.models import PlatformService
from apps.clouds.selectors import platform_collected_types, platform_service_states
from apps.clouds.tests.factories import platform as make_platform
from apps.core.errors import Forbidden, InvalidInput
from tests import factories as f
from tests.fixtures import fast_passwords, rbac_scoping  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    hq, other = f.org("HQ"), f.org("Other")
    admin, viewer, outsider = f.user("admin", hq), f.user("viewer", hq), f.user("outsider", other)
    f.grant(f.role("clouds:platform:*"), admin, hq)
    f.grant(f.role("clouds:platform:read"), viewer, hq)
    f.grant(f.role("clouds:platform:*"), outsider, other)
    return {"hq": hq, "other": other, "admin": admin, "viewer": viewer, "outsider": outsider}


def _page(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_each_service_lists_its_collected_and_requestable_types(people):
    platform = make_platform(people["hq"], name="Stack")
    states = {s["code"]: s for s in platform_service_states(platform)}
    assert len(states) >= 20
    assert {t["code"] for t in states["mongodb"]["collected"]} == {"mongodb.instance"}
    assert states["mongodb"]["requestable"] == []
    assert {t["code"] for t in states["cr"]["collected"]} == {"cr.instance", "cr.namespace", "cr.repository"}
    assert "rds.instance" in {t["code"] for t in states["rds"]["requestable"]}
    assert "ecs.key_pair" in {t["code"] for t in states["ecs"]["collected"]}
    assert all(s["enabled"] for s in states.values())


def test_the_page_shows_every_platform_the_user_may_read_with_its_services(people):
    mine = make_platform(people["hq"], name="Stack HQ")
    make_platform(people["other"], name="Stack Other")
    answer = _page(people["viewer"]).get("/console/clouds/catalog/")
    assert answer.status_code == 200
    html = answer.content.decode()
    assert "Stack HQ" in html and "Stack Other" not in html
    assert f'data-platform="{mine.pk}"' in html and 'data-service="mongodb"' in html
    assert "ApsaraDB for MongoDB" in html and 'data-role="switch"' not in html  # a reader sees no switch
    assert 'data-role="switch"' in _page(people["admin"]).get("/console/clouds/catalog/").content.decode()


def test_an_administrator_switches_a_service_off_and_on_and_collection_follows(people):
    platform = make_platform(people["hq"], name="Stack")
    client = _page(people["admin"])
    off = client.post("/console/clouds/catalog/", {"platform": platform.pk, "service": "kafka", "enabled": "0"})
    assert off.status_code == 302
    assert PlatformService.objects.get(platform=platform, service_id="kafka").enabled is False
    assert "kafka.instance" not in platform_collected_types(platform)
    assert "mongodb.instance" in platform_collected_types(platform)
    html = client.get("/console/clouds/catalog/").content.decode()
    assert "no longer collected" in html and "catalog-off" in html
    client.post("/console/clouds/catalog/", {"platform": platform.pk, "service": "kafka", "enabled": "1"})
    assert PlatformService.objects.get(platform=platform, service_id="kafka").enabled is True
    assert "kafka.instance" in platform_collected_types(platform)


@pytest.mark.parametrize("who", ["viewer", "outsider"])
def test_a_switch_by_someone_who_may_not_change_the_platform_changes_nothing(people, who):
    platform = make_platform(people["hq"], name="Stack")
    answer = _page(people[who]).post("/console/clouds/catalog/", {"platform": platform.pk, "service": "kafka",
                                                                    "enabled": "0"}, follow=True)
    assert answer.status_code == 200
    assert not PlatformService.objects.filter(platform=platform, enabled=False).exists()
    text = answer.content.decode()
    assert ("not found" in text) if who == "outsider" else ("Stack" in text)
    with pytest.raises(Forbidden):
        services.platform_service_set_enabled(actor=people["viewer"], platform=platform, service="kafka",
                                              enabled=False)


def test_a_service_the_platform_does_not_offer_is_refused_naming_the_field(people):
    platform = make_platform(people["hq"], name="Stack")
    with pytest.raises(InvalidInput) as exc:
        services.platform_service_set_enabled(actor=people["admin"], platform=platform, service="maxcompute",
                                              enabled=False)
    assert exc.value.detail == {"service": ["not offered"]}
    assert not PlatformService.objects.filter(platform=platform).exists()


def test_the_api_switches_a_service_and_refuses_bad_input_and_other_tenants(people):
    from tests.fixtures import api_as

    platform = make_platform(people["hq"], name="Stack")
    url = f"/api/v1/clouds/platforms/{platform.pk}/services/enable/"
    done = api_as(people["admin"]).post(url, {"service": "ots", "enabled": False}, format="json")
    assert done.status_code == 200, done.content
    assert (done.json()["code"], done.json()["enabled"]) == ("ots", False)
    assert "ots.instance" not in platform_collected_types(platform)
    bad = api_as(people["admin"]).post(url, {"service": "ots"}, format="json")
    assert bad.status_code == 400 and "enabled" in bad.json()["detail"]
    unknown = api_as(people["admin"]).post(url, {"service": "nope", "enabled": True}, format="json")
    assert unknown.status_code == 400 and unknown.json()["detail"] == {"service": ["not offered"]}
    assert api_as(people["viewer"]).post(url, {"service": "ots", "enabled": True}, format="json").status_code == 403
    assert api_as(people["outsider"]).post(url, {"service": "ots", "enabled": True}, format="json").status_code == 404
    assert PlatformService.objects.get(platform=platform, service_id="ots").enabled is False
