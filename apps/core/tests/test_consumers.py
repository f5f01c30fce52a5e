"""The websocket at ``/ws/`` through the real ASGI application (origin check, session auth):
subscriptions are authorized like the API, events arrive in order, missed ones are replayed, and
no message a client sends can crash the consumer."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from apps.core import events, services
from tests import factories
from unimanager.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://localhost:8000")
NONEXISTENT = "operation:op-0123456789abcdef0123"


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async_to_sync(scenario)()


def session_headers(user) -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    return [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()), ORIGIN]


async def connected(user) -> WebsocketCommunicator:
    headers = await database_sync_to_async(session_headers)(user)
    socket = WebsocketCommunicator(application, "/ws/", headers=headers)
    accepted, _ = await socket.connect()
    assert accepted
    return socket


async def subscribe(socket: WebsocketCommunicator, topic: str, **extra) -> dict:
    await socket.send_json_to({"type": "subscribe", "topic": topic, **extra})
    return await socket.receive_json_from(timeout=2)


def test_unauthenticated_connection_is_closed_with_4401():
    async def scenario():
        socket = WebsocketCommunicator(application, "/ws/", headers=[ORIGIN])
        accepted, _ = await socket.connect()
        assert accepted  # accepted first, so a browser can read the close code
        closed = await socket.receive_output(timeout=2)
        assert closed["type"] == "websocket.close"
        assert closed["code"] == 4401

    run(scenario)


def test_a_connection_from_a_foreign_origin_is_refused(world):
    async def scenario():
        headers = await database_sync_to_async(session_headers)(world.alice)
        headers = [h for h in headers if h[0] != b"origin"] + [(b"origin", b"https://evil.example")]
        socket = WebsocketCommunicator(application, "/ws/", headers=headers)
        accepted, _ = await socket.connect()
        assert not accepted

    run(scenario)


def test_subscribing_to_an_own_operation_is_confirmed(world):
    op = factories.operation(world.org_a)

    async def scenario():
        socket = await connected(world.alice)
        assert await subscribe(socket, op.topic) == {"type": "subscribed", "topic": op.topic}
        await socket.disconnect()

    run(scenario)


def test_an_operation_of_another_organization_is_refused_like_a_missing_one(world):
    foreign = factories.operation(world.org_b)

    async def scenario():
        socket = await connected(world.alice)
        refused = await subscribe(socket, foreign.topic)
        missing = await subscribe(socket, NONEXISTENT)
        assert refused == {"type": "error", "topic": foreign.topic, "code": "forbidden"}
        assert {**missing, "topic": foreign.topic} == refused
        await socket.disconnect()

    run(scenario)


def test_an_unknown_topic_kind_is_refused_like_a_forbidden_one(world):
    async def scenario():
        socket = await connected(world.alice)
        assert await subscribe(socket, "nuclear:launch") == {
            "type": "error", "topic": "nuclear:launch", "code": "forbidden"}
        await socket.disconnect()

    run(scenario)


def test_membership_covers_department_operations_and_superuser_covers_all(world):
    department = factories.operation(world.dept_a)
    foreign = factories.operation(world.org_b)

    async def scenario():
        alice = await connected(world.alice)
        assert (await subscribe(alice, department.topic))["type"] == "subscribed"
        root = await connected(world.root)
        assert (await subscribe(root, foreign.topic))["type"] == "subscribed"
        await alice.disconnect()
        await root.disconnect()

    run(scenario)


def test_an_emitted_operation_event_arrives(world):
    op = factories.operation(world.org_a)

    async def scenario():
        socket = await connected(world.alice)
        await subscribe(socket, op.topic)
        await database_sync_to_async(services.operation_advance)(
            operation_id=op.id, step=1, progress=25, message="Step 1")
        event = await socket.receive_json_from(timeout=2)
        assert set(event) == {"type", "topic", "seq", "ts", "data"}
        assert (event["type"], event["topic"], event["seq"]) == ("event", op.topic, 1)
        assert isinstance(event["ts"], float)
        assert (event["data"]["id"], event["data"]["status"], event["data"]["progress"]) == (op.id, "running", 25)
        await database_sync_to_async(services.operation_succeed)(operation_id=op.id)
        assert (await socket.receive_json_from(timeout=2))["seq"] == 2
        await socket.disconnect()

    run(scenario)


def test_another_tenants_events_never_arrive(world):
    own = factories.operation(world.org_a)
    foreign = factories.operation(world.org_b)

    async def scenario():
        socket = await connected(world.alice)
        await subscribe(socket, own.topic)
        await subscribe(socket, foreign.topic)  # refused
        await database_sync_to_async(services.operation_advance)(
            operation_id=foreign.id, step=1, progress=50, message="secret")
        assert await socket.receive_nothing(timeout=0.3)
        await socket.disconnect()

    run(scenario)


def test_subscribing_with_after_replays_what_was_missed(world):
    op = factories.operation(world.org_a)
    for step in (1, 2, 3):
        services.operation_advance(operation_id=op.id, step=step, progress=step * 10, message=f"Step {step}")

    async def scenario():
        socket = await connected(world.alice)
        assert await subscribe(socket, op.topic, after=1) == {"type": "subscribed", "topic": op.topic}
        replayed = [await socket.receive_json_from(timeout=2) for _ in range(2)]
        assert [(e["seq"], e["data"]["step"]) for e in replayed] == [(2, 2), (3, 3)]
        await database_sync_to_async(services.operation_advance)(
            operation_id=op.id, step=4, progress=40, message="Step 4")
        assert (await socket.receive_json_from(timeout=2))["seq"] == 4
        assert await socket.receive_nothing(timeout=0.2)
        await socket.disconnect()

    run(scenario)


def test_subscribing_after_events_the_buffer_no_longer_holds_asks_for_a_reset(world, settings):
    settings.REALTIME_REPLAY_EVENTS = 2
    op = factories.operation(world.org_a)
    for step in (1, 2, 3, 4):
        services.operation_advance(operation_id=op.id, step=step, progress=step * 10, message="")

    async def scenario():
        socket = await connected(world.alice)
        assert (await subscribe(socket, op.topic, after=0))["type"] == "subscribed"
        assert await socket.receive_json_from(timeout=2) == {"type": "reset", "topic": op.topic}
        await socket.disconnect()

    run(scenario)


def test_unsubscribing_stops_the_events(world):
    op = factories.operation(world.org_a)

    async def scenario():
        socket = await connected(world.alice)
        await subscribe(socket, op.topic)
        await socket.send_json_to({"type": "unsubscribe", "topic": op.topic})
        assert await socket.receive_json_from(timeout=2) == {"type": "unsubscribed", "topic": op.topic}
        await database_sync_to_async(events.emit)(world.org_a, op.topic, {"late": True})
        assert await socket.receive_nothing(timeout=0.3)
        await socket.disconnect()

    run(scenario)


def test_a_membership_revoked_after_connecting_refuses_new_subscriptions(world):
    first, second = factories.operation(world.org_a), factories.operation(world.org_a)

    async def scenario():
        socket = await connected(world.alice)
        # The first subscription loads alice's organizations; the socket stays open for hours.
        assert (await subscribe(socket, first.topic))["type"] == "subscribed"
        await database_sync_to_async(lambda: factories.leave(world.alice))()
        assert (await subscribe(socket, second.topic))["code"] == "forbidden"
        await socket.disconnect()

    run(scenario)


@pytest.mark.parametrize(
    "frame",
    [
        {"text_data": "not json"},
        {"text_data": "[1, 2]"},
        {"text_data": "42"},
        {"text_data": "null"},
        {"text_data": "[" * 100_000},
        {"text_data": json.dumps({"type": "dance"})},
        {"text_data": json.dumps({"no": "type"})},
        {"text_data": json.dumps({"type": "subscribe", "topic": 5})},
        {"text_data": json.dumps({"type": "subscribe", "topic": ["operation:op-1"]})},
        {"text_data": json.dumps({"type": "unsubscribe", "topic": {"a": 1}})},
        {"bytes_data": b"\x00\x01binary"},
    ],
)
def test_a_malformed_message_gets_an_error_and_the_socket_stays_usable(world, frame):
    async def scenario():
        socket = await connected(world.alice)
        await socket.send_to(**frame)
        answer = await socket.receive_json_from(timeout=2)
        assert answer["type"] == "error"
        assert answer["code"] == "invalid"
        await socket.send_json_to({"type": "ping"})
        assert await socket.receive_json_from(timeout=2) == {"type": "pong"}
        await socket.disconnect()

    run(scenario)


def test_a_bad_after_value_is_ignored_not_fatal(world):
    op = factories.operation(world.org_a)

    async def scenario():
        socket = await connected(world.alice)
        for after in ("7", -1, True, 1.5, None):
            assert (await subscribe(socket, op.topic, after=after))["type"] == "subscribed"
        assert await socket.receive_nothing(timeout=0.2)
        await socket.disconnect()

    run(scenario)


def test_the_followers_of_a_topic_in_one_process_share_one_layer_channel_and_each_gets_every_event(world):
    from channels.layers import get_channel_layer

    from apps.core import realtime
    from apps.core.consumers import fanout

    op = factories.operation(world.org_a)
    group = realtime.group_name(world.org_a.pk, op.topic)
    layer = get_channel_layer()

    async def scenario():
        sockets = [await connected(world.alice) for _ in range(3)]
        for socket in sockets:
            assert (await subscribe(socket, op.topic))["type"] == "subscribed"
        assert len(layer.groups[group]) == 1
        await database_sync_to_async(services.operation_advance)(
            operation_id=op.id, step=1, progress=10, message="Step 1")
        for socket in sockets:
            assert (await socket.receive_json_from(timeout=2))["seq"] == 1
        await sockets[0].send_json_to({"type": "unsubscribe", "topic": op.topic})
        assert (await sockets[0].receive_json_from(timeout=2))["type"] == "unsubscribed"
        await database_sync_to_async(services.operation_advance)(
            operation_id=op.id, step=2, progress=20, message="Step 2")
        for socket in sockets[1:]:
            assert (await socket.receive_json_from(timeout=2))["seq"] == 2
        assert await sockets[0].receive_nothing(timeout=0.3)
        for socket in sockets:
            await socket.disconnect()
        assert group not in layer.groups
        assert not [key for key in fanout.hubs if key[1] == group]

    run(scenario)


def test_an_event_sent_from_the_followers_process_is_handed_to_them_at_once_and_once(world, monkeypatch):
    """``fanout.send`` hands the event to this loop's hub before the layer; the layer's copy, marked
    with the hub's channel, reaches the other processes (here: a channel of the group that is not this
    hub) and is skipped by this hub when it comes back. Another process's event is still handed."""
    from channels.layers import get_channel_layer

    from apps.core import realtime
    from apps.core.consumers import VIA, RealtimeConsumer, fanout

    op = factories.operation(world.org_a)
    group = realtime.group_name(world.org_a.pk, op.topic)
    layer = get_channel_layer()
    handed: list[int] = []
    original = RealtimeConsumer.realtime_event

    async def counted(self, message):
        handed.append(message["seq"])
        await original(self, message)

    monkeypatch.setattr(RealtimeConsumer, "realtime_event", counted)

    def event(seq: int) -> dict:
        text = json.dumps({"type": "event", "topic": op.topic, "seq": seq, "data": {"n": seq}})
        return {"type": "realtime.event", "topic": op.topic, "seq": seq, "text": text}

    async def scenario():
        sockets = [await connected(world.alice) for _ in range(2)]
        for socket in sockets:
            assert (await subscribe(socket, op.topic))["type"] == "subscribed"
        elsewhere = await layer.new_channel("other-process.")
        await layer.group_add(group, elsewhere)
        hub = next(h for key, h in fanout.hubs.items() if key[1] == group)

        await fanout.send(layer, group, event(1))
        for socket in sockets:
            assert (await socket.receive_json_from(timeout=2))["data"] == {"n": 1}
        copy = await layer.receive(elsewhere)
        assert copy[VIA] == hub.channel and copy["seq"] == 1 and copy["text"] == event(1)["text"]
        for socket in sockets:
            assert await socket.receive_nothing(timeout=0.3)
        assert handed == [1, 1]  # the copy that came back to the hub was skipped, not handed again

        await layer.group_send(group, {**event(2), VIA: elsewhere})  # sent by another process's hub
        for socket in sockets:
            assert (await socket.receive_json_from(timeout=2))["data"] == {"n": 2}
        assert handed == [1, 1, 2, 2]
        await layer.group_discard(group, elsewhere)
        for socket in sockets:
            await socket.disconnect()

    run(scenario)


def test_several_events_reach_this_process_followers_before_the_layer_copies_are_made(world, monkeypatch):
    """``fanout.send_all``: the followers here of every group with a hub have their frames before the layer is
    asked for any copy (the layer's work on the loop would come between them and their sockets); each group's
    messages keep their order, here and through the layer, and a group without a hub goes through the layer."""
    from channels.layers import get_channel_layer

    from apps.core import realtime
    from apps.core.consumers import VIA, RealtimeConsumer, fanout

    op = factories.operation(world.org_a)
    followed = realtime.group_name(world.org_a.pk, op.topic)
    unfollowed = realtime.group_name(world.org_a.pk, "operation:op-not-followed")
    layer = get_channel_layer()
    handed: list[int] = []
    at_layer: list[tuple[str, int, int]] = []  # (group, seq, followers handed so far)
    original, group_send = RealtimeConsumer.realtime_event, layer.group_send

    async def counted(self, message):
        handed.append(message["seq"])
        await original(self, message)

    async def sending(group, message):
        at_layer.append((group, message["seq"], len(handed)))
        await group_send(group, message)

    monkeypatch.setattr(RealtimeConsumer, "realtime_event", counted)
    monkeypatch.setattr(layer, "group_send", sending)

    def event(seq: int, topic: str = op.topic) -> dict:
        text = json.dumps({"type": "event", "topic": topic, "seq": seq, "data": {"n": seq}})
        return {"type": "realtime.event", "topic": topic, "seq": seq, "text": text}

    async def scenario():
        sockets = [await connected(world.alice) for _ in range(2)]
        for socket in sockets:
            assert (await subscribe(socket, op.topic))["type"] == "subscribed"
        elsewhere, other = await layer.new_channel("other-process."), await layer.new_channel("other-process.")
        await layer.group_add(followed, elsewhere)
        await layer.group_add(unfollowed, other)
        hub = next(h for key, h in fanout.hubs.items() if key[1] == followed)

        await fanout.send_all(layer, [(unfollowed, event(7, "operation:op-not-followed")), (followed, event(1)),
                                      (followed, event(2))])
        assert handed == [1, 1, 2, 2]
        assert sorted(at_layer) == [(followed, 1, 4), (followed, 2, 4), (unfollowed, 7, 4)]
        assert [seq for group, seq, _n in at_layer if group == followed] == [1, 2]
        for socket in sockets:
            assert [(await socket.receive_json_from(timeout=2))["seq"] for _ in range(2)] == [1, 2]
        copies = [await layer.receive(elsewhere) for _ in range(2)]
        assert [(c["seq"], c[VIA]) for c in copies] == [(1, hub.channel), (2, hub.channel)]
        assert VIA not in await layer.receive(other)
        for socket in sockets:
            assert await socket.receive_nothing(timeout=0.3)  # the copies that came back were skipped
        assert handed == [1, 1, 2, 2]
        await layer.group_discard(followed, elsewhere)
        await layer.group_discard(unfollowed, other)
        for socket in sockets:
            await socket.disconnect()

    run(scenario)


def test_a_long_hand_over_here_does_not_hold_the_other_processes_copy_back(world, monkeypatch):
    """Handing an event to many followers lets the loop run every ``YIELD_EVERY``: the layer's copy for the
    other processes leaves beside the rest of the hand-over, not after its last follower."""
    from channels.layers import get_channel_layer

    from apps.core import consumers, realtime
    from apps.core.consumers import RealtimeConsumer, fanout

    monkeypatch.setattr(consumers, "YIELD_EVERY", 1)
    op = factories.operation(world.org_a)
    group = realtime.group_name(world.org_a.pk, op.topic)
    layer = get_channel_layer()
    handed: list[int] = []
    at_layer: list[int] = []
    original, group_send = RealtimeConsumer.realtime_event, layer.group_send

    async def counted(self, message):
        handed.append(message["seq"])
        await original(self, message)

    async def sending(group, message):
        at_layer.append(len(handed))
        await group_send(group, message)

    monkeypatch.setattr(RealtimeConsumer, "realtime_event", counted)
    monkeypatch.setattr(layer, "group_send", sending)
    text = json.dumps({"type": "event", "topic": op.topic, "seq": 1, "data": {}})

    async def scenario():
        sockets = [await connected(world.alice) for _ in range(6)]
        for socket in sockets:
            assert (await subscribe(socket, op.topic))["type"] == "subscribed"
        at_layer.clear()  # only this event's copy
        await fanout.send_all(layer, [(group, {"type": "realtime.event", "topic": op.topic, "seq": 1, "text": text})])
        assert handed == [1] * 6
        (followers_then,) = at_layer
        assert 1 <= followers_then < 6
        for socket in sockets:
            assert (await socket.receive_json_from(timeout=2))["seq"] == 1
            await socket.disconnect()

    run(scenario)


def test_events_reach_followers_without_channels_per_message_database_clean_up(world, monkeypatch):
    import channels.consumer

    calls = []

    async def counted():
        calls.append(1)

    monkeypatch.setattr(channels.consumer, "aclose_old_connections", counted)
    op = factories.operation(world.org_a)

    async def scenario():
        socket = await connected(world.alice)
        await subscribe(socket, op.topic)
        before = len(calls)
        for step in (1, 2, 3):
            await database_sync_to_async(services.operation_advance)(
                operation_id=op.id, step=step, progress=step * 10, message=f"Step {step}")
            assert (await socket.receive_json_from(timeout=2))["seq"] == step
        assert len(calls) == before
        await socket.disconnect()

    run(scenario)


def test_a_live_event_arriving_during_the_replay_waits_for_it_and_nothing_is_dropped(world, monkeypatch):
    import time

    from apps.core import realtime

    op = factories.operation(world.org_a)
    for step in (1, 2):
        services.operation_advance(operation_id=op.id, step=step, progress=step * 10, message=f"Step {step}")
    read = realtime.replay_after

    def replay_then_a_live_event(group, after):
        missed = read(group, after)
        # The operation moves on while the replay is on its way to the socket.
        services.operation_advance(operation_id=op.id, step=3, progress=30, message="Step 3")
        time.sleep(0.3)  # the live event reaches the consumer before the replay is sent
        return missed

    monkeypatch.setattr(realtime, "replay_after", replay_then_a_live_event)

    async def scenario():
        socket = await connected(world.alice)
        assert await subscribe(socket, op.topic, after=0) == {"type": "subscribed", "topic": op.topic}
        got = [await socket.receive_json_from(timeout=2) for _ in range(3)]
        assert [(e["seq"], e["data"]["step"]) for e in got] == [(1, 1), (2, 2), (3, 3)]
        assert await socket.receive_nothing(timeout=0.2)
        await socket.disconnect()

    run(scenario)
