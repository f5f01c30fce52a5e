"""Wall screens are pushed their widgets' values: computed once per (query, parameters, organization)
when the data behind them changes, sent to the screens of that organization only, equal to what the
screen would have read, and never another organization's values."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction
from django.test import Client

from apps.core.events import emit
from apps.dashboards import live, selectors
from apps.dashboards.tests.factories import dashboard, document
from apps.security import services as security
from tests import factories as f
from unimanager.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = (b"origin", b"http://localhost")


def by_type(wid: str, x: int = 0) -> dict:
    return {"id": wid, "type": "bar", "title": "By type", "gridPos": {"x": x, "y": 0, "w": 6, "h": 6},
            "query": {"name": "resources.by", "params": {"group_by": "type"}}, "options": {}}


@pytest.fixture
def world():
    a, b = f.org("A"), f.org("B")
    a1 = f.org("A1", parent=a)
    pa, pb = f.platform(a, name="pa"), f.platform(b, name="pb")
    f.resource(pa, organization=a, type="ecs.instance")
    f.resource(pa, organization=a1, type="ecs.disk")
    f.resource(pb, organization=b, type="vpc.vpc")
    # Two widgets of board A read the same query with the same parameters: computed once.
    running = {**document()["widgets"][0], "gridPos": {"x": 12, "y": 0, "w": 6, "h": 4}}
    board_a = dashboard(a, "wall-a", widgets=[by_type("types"), by_type("again", 6), running])
    board_b = dashboard(b, "wall-b", widgets=[by_type("types")])
    return {"a": a, "a1": a1, "b": b, "board_a": board_a, "board_b": board_b}


def screen_client(org, dashboards: list[str]) -> Client:
    _token, raw = security.display_token_create(actor=None, organization=org, name="NOC", dashboards=dashboards)
    client = Client(REMOTE_ADDR="127.0.0.1")
    assert client.post("/screens/signin/", {"token": raw}).status_code == 302
    return client


async def socket_of(client: Client, topic: str) -> WebsocketCommunicator:
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    socket = WebsocketCommunicator(application, "/ws/", headers=[(b"cookie", cookie), ORIGIN])
    accepted, _ = await socket.connect()
    assert accepted
    await socket.send_json_to({"type": "subscribe", "topic": topic})
    assert await socket.receive_json_from(timeout=3) == {"type": "subscribed", "topic": topic}
    return socket


def change_resources(org) -> None:
    with transaction.atomic():
        emit(org, "resource:res-test", {"event": "resource_changed", "id": "res-test"})


def categories(values: dict, wid: str) -> dict[str, int]:
    return {c["name"]: c["value"] for c in values[wid]["result"]["categories"]}


def test_screens_of_one_organization_get_the_values_pushed_computed_once_and_equal_to_their_read(world, monkeypatch):
    calls: list[str] = []
    original = selectors.one_widget_data

    def counted(*, widget, scope):
        calls.append(widget["id"])
        return original(widget=widget, scope=scope)

    monkeypatch.setattr(selectors, "one_widget_data", counted)
    first, second = screen_client(world["a"], ["wall-a"]), screen_client(world["a"], ["wall-a"])

    async def scenario():
        screens = [await socket_of(first, "screen:wall-a"), await socket_of(second, "screen:wall-a")]
        await database_sync_to_async(change_resources)(world["a1"])  # a team below A: A's screens see it
        events = [await s.receive_json_from(timeout=5) for s in screens]
        for s in screens:
            assert await s.receive_nothing(timeout=0.3)
            await s.disconnect()
        return events

    events = async_to_sync(scenario)()
    assert events[0]["data"] == events[1]["data"]
    data = events[0]["data"]
    assert data["event"] == "values" and data["version"] == 1
    # Only the widgets reading resources, each value computed once for both screens and both widgets.
    assert set(data["widgets"]) == {"types", "again"}
    assert calls == ["types"]
    assert categories(data["widgets"], "types") == {"ecs.instance": 1, "ecs.disk": 1}
    assert data["widgets"]["again"] == data["widgets"]["types"]
    assert data["changed_at"] <= events[0]["ts"]
    # What the screen would have read through its data address.
    read = first.get("/screens/d/wall-a/data/?widgets=types").json()["widgets"]["types"]
    assert read["result"] == data["widgets"]["types"]["result"]


def test_a_screen_never_receives_another_organizations_values(world):
    screen_a = screen_client(world["a"], ["wall-a"])
    screen_b = screen_client(world["b"], ["wall-b"])
    # B's token names A's dashboard: its socket may follow the topic, but in B's own group, which
    # only ever carries B's values (and the screen pages refuse A's dashboard to it).
    intruder = screen_client(world["b"], ["wall-a"])

    async def scenario():
        a = await socket_of(screen_a, "screen:wall-a")
        b = await socket_of(screen_b, "screen:wall-b")
        c = await socket_of(intruder, "screen:wall-a")
        await database_sync_to_async(change_resources)(world["b"])
        got_b = await b.receive_json_from(timeout=5)
        assert await a.receive_nothing(timeout=0.5)
        assert await c.receive_nothing(timeout=0.1)
        await database_sync_to_async(change_resources)(world["a"])
        got_a = await a.receive_json_from(timeout=5)
        assert await b.receive_nothing(timeout=0.5)
        assert await c.receive_nothing(timeout=0.1)
        for s in (a, b, c):
            await s.disconnect()
        return got_a, got_b

    got_a, got_b = async_to_sync(scenario)()
    assert categories(got_b["data"]["widgets"], "types") == {"vpc.vpc": 1}
    assert categories(got_a["data"]["widgets"], "types") == {"ecs.instance": 1, "ecs.disk": 1}


def test_no_values_are_computed_for_a_dashboard_no_active_display_token_shows(world, monkeypatch):
    calls: list[object] = []
    monkeypatch.setattr(live, "screen_values", lambda **kw: calls.append(kw["organization_id"]) or {})
    monkeypatch.setattr(live, "coalescer", live.Coalescer(0.0, live.announce))  # every change announced at once
    token, _raw = security.display_token_create(actor=None, organization=world["b"], name="old", dashboards=["wall-b"])
    security.display_token_revoke(actor=None, token=token)
    change_resources(world["b"])
    assert calls == []
    security.display_token_create(actor=None, organization=world["b"], name="NOC", dashboards=["wall-b"])
    change_resources(world["b"])
    assert calls == [world["b"].pk]


def test_values_held_for_a_window_are_computed_off_the_timer_and_still_pushed(world, monkeypatch):
    # A window long enough that the second change surely falls in it, however slow the machine.
    monkeypatch.setattr(live, "coalescer", live.Coalescer(3.0, live.announce))
    screen = screen_client(world["a"], ["wall-a"])

    async def scenario():
        s = await socket_of(screen, "screen:wall-a")
        await database_sync_to_async(change_resources)(world["a"])
        await database_sync_to_async(change_resources)(world["a"])  # within the window: held
        first = await s.receive_json_from(timeout=5)
        second = await s.receive_json_from(timeout=5)
        await s.disconnect()
        return first, second

    first, second = async_to_sync(scenario)()
    assert (first["data"]["held"], second["data"]["held"]) == (False, True)
    assert second["data"]["event"] == "values" and set(second["data"]["widgets"]) == {"types", "again"}
    assert second["data"]["changed_at"] > first["data"]["changed_at"]


def test_a_screen_hears_its_dashboards_edits_on_the_screen_topic(world):
    from apps.dashboards import services

    screen = screen_client(world["a"], ["wall-a"])

    def edit() -> None:
        services.dashboard_save(actor=None, dashboard=world["board_a"], document=document("wall-a", title="Edited"))

    async def scenario():
        s = await socket_of(screen, "screen:wall-a")
        await database_sync_to_async(edit)()
        saved = await s.receive_json_from(timeout=3)
        await s.disconnect()
        return saved

    saved = async_to_sync(scenario)()
    assert saved["topic"] == "screen:wall-a"
    assert saved["data"]["event"] == "saved" and saved["data"]["version"] == 2


def test_a_token_screen_page_follows_the_screen_topic_and_a_persons_screen_the_dashboard_topic(world):
    screen = screen_client(world["a"], ["wall-a"])
    boards = screen.get("/screens/d/wall-a/").context["screen"]["boards"]
    assert boards[0]["values_topic"] == "screen:wall-a"
    person = f.user("carol", world["a"])
    f.grant(f.role("dashboards:dashboard:read"), person, world["a"])
    client = Client()
    client.force_login(person)
    boards = client.get("/screens/d/wall-a/").context["screen"]["boards"]
    assert "values_topic" not in boards[0] and boards[0]["topic"] == "dashboard:wall-a"


def test_a_person_may_not_follow_a_screen_topic(world):
    person = f.user("dave", world["a"])
    f.grant(f.role("dashboards:dashboard:read", "resources:resource:read"), person, world["a"])
    client = Client()
    client.force_login(person)

    async def scenario():
        cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
        socket = WebsocketCommunicator(application, "/ws/", headers=[(b"cookie", cookie), ORIGIN])
        assert (await socket.connect())[0]
        await socket.send_json_to({"type": "subscribe", "topic": "screen:wall-a"})
        answer = await socket.receive_json_from(timeout=3)
        await socket.disconnect()
        return answer

    assert async_to_sync(scenario)() == {"type": "error", "topic": "screen:wall-a", "code": "forbidden"}


def test_revoking_a_display_token_closes_its_screens_and_only_its_own(world):
    token, raw = security.display_token_create(actor=None, organization=world["a"], name="lobby", dashboards=["wall-a"])
    revoked = Client(REMOTE_ADDR="127.0.0.1")
    assert revoked.post("/screens/signin/", {"token": raw}).status_code == 302
    kept = screen_client(world["a"], ["wall-a"])

    def revoke() -> None:
        security.display_token_revoke(actor=None, token=token)

    async def scenario():
        gone, stays = await socket_of(revoked, "screen:wall-a"), await socket_of(kept, "screen:wall-a")
        await database_sync_to_async(revoke)()
        farewell = await gone.receive_json_from(timeout=3)
        closed = await gone.receive_output(timeout=3)
        assert await stays.receive_nothing(timeout=0.5)
        await database_sync_to_async(change_resources)(world["a"])
        pushed = await stays.receive_json_from(timeout=5)
        await stays.disconnect()
        return farewell, closed, pushed

    farewell, closed, pushed = async_to_sync(scenario)()
    assert farewell == {"type": "signed_out", "signin": "/screens/signin/"}
    assert closed == {"type": "websocket.close", "code": 4401}
    assert pushed["data"]["event"] == "values"
