"""Display tokens: a wall screen signed in with one sees only its dashboards and no API at all."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.test import APIClient

from apps.core.errors import Forbidden, InvalidInput
from apps.security import services
from apps.security.tests.factories import person
from tests import factories as f
from tests.test_tenant_isolation import GROUP_RE, api_routes, url_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    return f.org("Screens")


@pytest.fixture
def token(org):
    return services.display_token_create(actor=None, organization=org, name="NOC wall", dashboards=["noc", "cap"])


def screen(raw: str, ip: str = "10.1.1.1") -> Client:
    client = Client(REMOTE_ADDR=ip)
    assert client.post("/screens/signin/", {"token": raw}).status_code == 302
    return client


def test_an_organization_administrator_creates_a_token_and_a_viewer_cannot(org):
    admin = person(org, username="orgadmin")
    f.grant(f.predefined("organization_administrator"), admin, org)
    client = APIClient()
    client.force_login(admin)
    made = client.post("/api/v1/security/display-tokens/", {"organization": str(org.pk), "name": "Lobby",
                                                             "dashboards": ["noc"]}, format="json")
    assert made.status_code == 201 and made.json()["token"].startswith("umdt_")
    viewer = person(org, username="viewer1")
    f.grant(f.predefined("viewer"), viewer, org)
    with pytest.raises(Forbidden):
        services.display_token_create(actor=viewer, organization=org, name="x", dashboards=["noc"])
    with pytest.raises(InvalidInput):
        services.display_token_create(actor=admin, organization=org, name="x", dashboards=[])


def test_a_token_screen_sees_its_dashboards_only(token):
    _token, raw = token
    client = screen(raw)
    home = client.get("/screens/")
    assert home.status_code == 200 and b"noc" in home.content
    assert client.get("/screens/d/noc/").status_code == 200
    assert client.get("/screens/d/other/").status_code == 404
    assert client.get("/console/").status_code == 302


def test_a_token_screen_cannot_read_any_api(token):
    _token, raw = token
    client = screen(raw)
    checked = 0
    for route, _pattern in api_routes():
        if "schema" in route:
            continue
        response = client.get(url_of(route, "noc") if GROUP_RE.search(route) else url_of(route))
        assert response.status_code in (401, 403, 404, 405), f"{route}: {response.status_code}"
        checked += 1
    assert checked > 20


def test_a_revoked_token_stops_at_once(token):
    made, raw = token
    client = screen(raw)
    services.display_token_revoke(actor=None, token=made)
    assert client.get("/screens/")["Location"] == "/screens/signin/"
    assert Client().post("/screens/signin/", {"token": raw}).status_code == 400


def test_a_token_bound_to_a_network_refuses_other_addresses(org):
    _made, raw = services.display_token_create(actor=None, organization=org, name="Bound", dashboards=["noc"],
                                               allowed_networks=["10.9.0.0/16"])
    assert Client(REMOTE_ADDR="10.1.1.1").post("/screens/signin/", {"token": raw}).status_code == 400
    screen(raw, ip="10.9.3.4")


@pytest.mark.django_db(transaction=True)
def test_the_websocket_of_a_token_screen_follows_only_its_dashboards(token):
    from unimanager.asgi import application

    _made, raw = token
    client = screen(raw)
    cookie = f"sessionid={client.cookies['sessionid'].value}"

    async def run():
        ws = WebsocketCommunicator(application, "/ws/", headers=[(b"cookie", cookie.encode()),
                                                                  (b"origin", b"http://localhost")])
        connected, _ = await ws.connect()
        assert connected
        await ws.send_json_to({"type": "subscribe", "topic": "dashboard:noc"})
        assert (await ws.receive_json_from())["type"] == "subscribed"
        for topic in ("dashboard:other", "operation:op-1234", "activity:platform"):
            await ws.send_json_to({"type": "subscribe", "topic": topic})
            assert (await ws.receive_json_from())["code"] == "forbidden"
        await ws.disconnect()

    async_to_sync(run)()


def test_every_dashboard_id_the_api_accepts_opens_on_the_screen(org):
    admin = person(org, username="orgadmin")
    f.grant(f.predefined("organization_administrator"), admin, org)
    api = APIClient()
    api.force_login(admin)
    ids = ["ops.main", "a", "Z-9_x.y", "v1.2.3", "x" * 64]
    created = api.post("/api/v1/security/display-tokens/", {"organization": str(org.pk), "name": "NOC",
                                                            "dashboards": ids}, format="json")
    assert created.status_code == 201, created.content
    wall = screen(created.json()["token"])
    home = wall.get("/screens/")
    assert home.status_code == 200
    for dashboard in ids:
        assert wall.get(f"/screens/d/{dashboard}/").status_code == 200, dashboard


@pytest.mark.parametrize("dashboard", [".", "..", ".hidden", "-", "a/b", "a b", "ab\n", "x" * 65, ""])
def test_dashboard_ids_that_cannot_be_a_screen_address_are_refused(org, dashboard):
    with pytest.raises(InvalidInput):
        services.display_token_create(actor=None, organization=org, name="NOC", dashboards=[dashboard])


@given(st.from_regex(services.DASHBOARD_ID_RE, fullmatch=True))
def test_any_valid_dashboard_id_round_trips_through_the_screen_address(dashboard):
    from django.urls import resolve, reverse

    url = reverse("wallscreens:dashboard", args=[dashboard])
    assert resolve(url).kwargs == {"dashboard_id": dashboard}


def test_a_token_stored_with_an_id_no_longer_accepted_still_opens_its_screen(org, token):
    from apps.security.models import DisplayToken

    created, raw = token
    DisplayToken.objects.filter(pk=created.pk).update(dashboards=["noc", ".old"])
    home = screen(raw).get("/screens/")
    assert home.status_code == 200 and b".old" not in home.content
