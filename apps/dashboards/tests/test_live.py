"""Live dashboards: subscriptions are authorized like the API, a data change reaches the dashboards
whose widgets read that data (and only those widgets), and bursts are coalesced."""

from __future__ import annotations

import threading
import time

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction
from django.test import Client

from apps.core.events import emit
from apps.dashboards import live
from apps.dashboards.tests.factories import dashboard
from apps.security import services as security
from tests import factories as f
from unimanager.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = (b"origin", b"http://localhost")


@pytest.fixture
def world():
    a, b = f.org("A"), f.org("B")
    alice, bob = f.user("alice", a), f.user("bob", b)
    role = f.role("dashboards:dashboard:read", "resources:resource:read", "core:operation:read")
    f.grant(role, alice, a)
    f.grant(role, bob, b)
    return {"a": a, "b": b, "alice": alice, "bob": bob, "board": dashboard(a, "live-a")}


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


async def socket_of(client: Client) -> WebsocketCommunicator:
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    socket = WebsocketCommunicator(application, "/ws/", headers=[(b"cookie", cookie), ORIGIN])
    accepted, _ = await socket.connect()
    assert accepted
    return socket


def change_a_resource(org) -> None:
    with transaction.atomic():
        emit(org, "resource:res-test", {"event": "resource_changed", "id": "res-test", "status": "stopped"})


def test_a_widget_cannot_subscribe_to_another_organizations_dashboard(world):
    bob_client, alice_client = client_of(world["bob"]), client_of(world["alice"])

    async def scenario():
        bob = await socket_of(bob_client)
        await bob.send_json_to({"type": "subscribe", "topic": "dashboard:live-a"})
        assert await bob.receive_json_from(timeout=2) == {"type": "error", "topic": "dashboard:live-a",
                                                          "code": "forbidden"}
        alice = await socket_of(alice_client)
        await alice.send_json_to({"type": "subscribe", "topic": "dashboard:live-a"})
        assert await alice.receive_json_from(timeout=2) == {"type": "subscribed", "topic": "dashboard:live-a"}
        await bob.disconnect()
        await alice.disconnect()

    async_to_sync(scenario)()


def test_a_data_change_names_the_widgets_that_read_it_to_their_dashboards_viewers(world):
    dashboard(world["b"], "live-b")
    alice_client = client_of(world["alice"])

    async def scenario():
        alice = await socket_of(alice_client)
        await alice.send_json_to({"type": "subscribe", "topic": "dashboard:live-a"})
        assert (await alice.receive_json_from(timeout=2))["type"] == "subscribed"
        await database_sync_to_async(change_a_resource)(world["a"])
        event = await alice.receive_json_from(timeout=3)
        assert event["type"] == "event" and event["topic"] == "dashboard:live-a"
        # The bar chart reads resources; the running-operations stat does not. A person's notice
        # names widgets and carries no values: each person reads them with their own permissions.
        assert {k: v for k, v in event["data"].items() if k != "changed_at"} == {"event": "data", "widgets": ["types"],
                                                                                 "held": False}
        assert event["data"]["changed_at"] <= event["ts"]
        await database_sync_to_async(change_a_resource)(world["b"])  # another organization's change
        assert await alice.receive_nothing(timeout=1.0)
        await alice.disconnect()

    async_to_sync(scenario)()


def test_a_wall_screen_hears_its_dashboard_change_and_its_edits(world):
    from apps.dashboards import services
    from apps.dashboards.tests.factories import document

    _token, raw = security.display_token_create(actor=None, organization=world["a"], name="NOC",
                                                dashboards=["live-a"])
    wall = Client(REMOTE_ADDR="127.0.0.1")
    assert wall.post("/screens/signin/", {"token": raw}).status_code == 302

    def edit() -> None:
        services.dashboard_save(actor=None, dashboard=world["board"], document=document("live-a", title="Edited"))

    async def scenario():
        screen = await socket_of(wall)
        await screen.send_json_to({"type": "subscribe", "topic": "dashboard:live-a"})
        assert (await screen.receive_json_from(timeout=2))["type"] == "subscribed"
        await database_sync_to_async(change_a_resource)(world["a"])
        assert (await screen.receive_json_from(timeout=3))["data"]["event"] == "data"
        await database_sync_to_async(edit)()
        saved = await screen.receive_json_from(timeout=3)
        assert saved["data"]["event"] == "saved" and saved["data"]["version"] == 2
        await screen.disconnect()

    async_to_sync(scenario)()


def test_a_burst_of_changes_is_announced_at_once_then_gathered_into_one_more_notice():
    calls: list[tuple[object, set[str]]] = []
    done = threading.Event()

    def flush(org, names, since, held):
        calls.append((org, set(names), since, held))
        if len(calls) == 2:
            done.set()

    coalescer = live.Coalescer(0.3, flush)
    coalescer.note("org-1", {"q.one"}, at=100.0)
    for at, name in ((101.0, "q.two"), (102.0, "q.three"), (103.0, "q.two")):
        coalescer.note("org-1", {name}, at=at)
    assert calls == [("org-1", {"q.one"}, 100.0, False)]
    assert done.wait(timeout=5)
    # The gathered notice says when its first change happened, and that it waited for the window.
    assert calls[1] == ("org-1", {"q.two", "q.three"}, 101.0, True)
    time.sleep(0.35)
    assert len(calls) == 2  # nothing more without news


def test_an_event_no_query_reads_announces_nothing_and_a_change_names_the_reading_widgets(world):
    seen: list[object] = []
    original = live.coalescer
    live.coalescer = live.Coalescer(0.1, lambda key, widgets, since, held: seen.append((key, widgets)))
    try:
        live.data_changed(world["a"].pk, "dashboard:live-a", {"event": "saved"})
        live.data_changed(world["a"].pk, "screen:live-a", {"event": "saved"})
        live.data_changed(world["a"].pk, "nosuchkind:x", {"event": "changed"})
        assert live.worker.drain()
        assert seen == []
        live.data_changed(world["a"].pk, "resource:r1", {"event": "resource_changed"})
        assert live.worker.drain()
        assert seen == [((world["a"].pk, "live-a"), {"types"})]
    finally:
        live.coalescer = original
