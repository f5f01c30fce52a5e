"""The one websocket endpoint (``/ws/``): subscriptions to topics, checked like the API."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.shortcuts import resolve_url

from apps.core import realtime

MAX_SUBSCRIPTIONS = 200
# The close code of a socket whose session is not (or no longer) signed in: the browser stops
# reconnecting and sends the person to sign in.
SIGNED_OUT = 4401
# Async callables ``find(scope)`` offering a principal for a socket without a signed-in person (a wall
# screen's display token). A principal with ``resolve_topic(topic)`` authorizes its own subscriptions.
socket_principals: list = []
# Layer messages whose handlers use no database (see ``RealtimeConsumer.dispatch``).
LAYER_ONLY = frozenset({"realtime.event", realtime.SESSION_REVOKED})

logger = logging.getLogger(__name__)
REJOIN_SECONDS = 3600.0
# Followers handed an event before the fan-out lets the event loop run (see ``GroupFanout._hand``).
YIELD_EVERY = 32
# The field of a layer message naming the hub that was handed it in the sending process.
VIA = "via_hub"


class _Hub:
    """One topic group's followers in this process, fed by one channel of the layer."""

    def __init__(self, group: str, loop: asyncio.AbstractEventLoop) -> None:
        self.group = group
        self.loop = loop
        self.members: set[RealtimeConsumer] = set()
        self.channel = ""
        self.layer: Any = None
        self.task: asyncio.Task | None = None
        self.lock = asyncio.Lock()
        self.joined_at = 0.0


class GroupFanout:
    """Topic groups joined once per process, not once per socket.

    A wall-screen dashboard followed by 2,000 screens used to put every event into 2,000 layer
    channels of each server process, wake 2,000 consumer tasks and decode the same message 2,000
    times. Here each process joins a group with one channel of its own and, per event, decodes it
    once and hands the same encoded frame to every local follower in one pass (``realtime_event``,
    which keeps each socket's replay and order checks). Who may follow what is unchanged: a socket
    joins a hub only after its subscription was authorized, for the group of that authorization.

    An event sent from this process (``send``) is handed to the hub here first and then to the layer
    for the other processes, marked with the hub's channel so the hub skips it when it comes back:
    this process's followers do not wait for the layer's way out and back (a Redis publish and its
    delivery to the subscriber connection cost 1-2 ms on the distributed path).
    """

    def __init__(self) -> None:
        self.hubs: dict[tuple[int, str], _Hub] = {}

    def _hub(self, group: str) -> tuple[tuple[int, str], _Hub]:
        loop = asyncio.get_running_loop()
        key = (id(loop), group)
        hub = self.hubs.get(key)
        if hub is None or hub.loop is not loop:  # none yet, or left by a loop that is gone (tests)
            hub = self.hubs[key] = _Hub(group, loop)
        return key, hub

    async def join(self, layer: Any, group: str, consumer: RealtimeConsumer) -> None:
        while True:
            key, hub = self._hub(group)
            async with hub.lock:
                if self.hubs.get(key) is not hub:
                    continue  # the last follower left while we waited: that hub is gone
                hub.members.add(consumer)
                now = asyncio.get_running_loop().time()
                if hub.task is None or hub.task.done():
                    hub.layer = layer
                    hub.channel = await layer.new_channel("fanout.")
                    await layer.group_add(group, hub.channel)
                    hub.joined_at = now
                    hub.task = asyncio.get_running_loop().create_task(self._pump(hub, layer, hub.channel))
                elif now - hub.joined_at > REJOIN_SECONDS:
                    # Layers forget group members after a while (a day, in memory): join again now and then.
                    await layer.group_add(group, hub.channel)
                    hub.joined_at = now
                return

    async def leave(self, group: str, consumer: RealtimeConsumer) -> None:
        key, hub = self._hub(group)
        async with hub.lock:
            hub.members.discard(consumer)
            if hub.members:
                return
            self.hubs.pop(key, None)
            if hub.task is None:
                return
            task, hub.task = hub.task, None
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
            await hub.layer.group_discard(group, hub.channel)

    async def send(self, layer: Any, group: str, message: dict[str, Any]) -> None:
        """``layer.group_send(group, message)``, handing a realtime event to this loop's hub of ``group``
        (if it has one, running) before the layer."""
        await self.send_all(layer, [(group, message)])

    async def send_all(self, layer: Any, messages: list[tuple[str, dict[str, Any]]]) -> None:
        """``layer.group_send`` of each (group, message), the groups side by side and each group's messages in
        their order. The realtime events of groups with a running hub on this loop are handed to its followers
        here while the layer's copies for the other processes wait until the server could write their frames:
        the layer's work on this loop (encoding, its scripts) came first, 0.2-0.4 ms on the distributed path.
        A hand-over to many followers lets the loop run every ``YIELD_EVERY`` (``_hand``): the copies leave
        then, beside the rest of it."""
        loop = asyncio.get_running_loop()
        by_group: dict[str, list[dict[str, Any]]] = {}
        here: list[tuple[_Hub, dict[str, Any]]] = []
        for group, message in messages:
            hub = self.hubs.get((id(loop), group))
            if (message.get("type") == "realtime.event" and hub is not None and hub.task is not None
                    and not hub.task.done() and hub.channel):
                here.append((hub, message))
                message = {**message, VIA: hub.channel}
            by_group.setdefault(group, []).append(message)

        async def in_order(group: str, sent: list[dict[str, Any]]) -> None:
            for message in sent:
                await layer.group_send(group, message)

        async def copies() -> None:
            if here:
                # The server writes a frame when the loop next polls its socket, after the callbacks already
                # due: two turns.
                await asyncio.sleep(0)
                await asyncio.sleep(0)
            if len(by_group) == 1:
                await in_order(*next(iter(by_group.items())))
            else:
                await asyncio.gather(*(in_order(group, sent) for group, sent in by_group.items()))

        publishing = asyncio.ensure_future(copies())
        try:
            for hub, message in here:
                await self._hand(hub, message)
        finally:
            await publishing

    async def _pump(self, hub: _Hub, layer: Any, channel: str) -> None:
        while True:
            try:
                message = await layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # a broken layer connection: the layer reconnects, try again shortly
                logger.exception("realtime fan-out of %s could not receive", hub.group)
                await asyncio.sleep(1)
                continue
            if message.get("type") != "realtime.event" or message.get(VIA) == channel:
                continue  # not an event, or one this hub was handed by ``send`` already
            await self._hand(hub, message)

    @staticmethod
    async def _hand(hub: _Hub, message: dict[str, Any]) -> None:
        for done, consumer in enumerate(list(hub.members), 1):
            try:
                await consumer.realtime_event(message)
            except Exception:  # one broken socket must not cost the others their event
                logger.exception("realtime event for one socket failed")
            if done % YIELD_EVERY == 0:
                # The server writes a socket's frame only when the loop runs again: let it write
                # these while the next ones are handed over, and serve other connections meanwhile.
                await asyncio.sleep(0)


fanout = GroupFanout()


class RealtimeConsumer(AsyncJsonWebsocketConsumer):
    """Client -> server: ``subscribe`` / ``unsubscribe`` a topic (optionally ``after`` a seq).

    Server -> client: ``event`` (topic, seq, ts, data), ``subscribed``, ``reset`` when missed events
    are no longer available, and ``error`` (never revealing whether a refused topic exists). When the
    session the socket was opened with is revoked or ends, a last ``signed_out`` (with the ``signin``
    address) and a close with ``SIGNED_OUT``.
    """

    async def connect(self) -> None:
        self.groups_by_topic: dict[str, str] = {}
        self.last_seq: dict[str, int] = {}
        self.holding: dict[str, list[dict[str, Any]]] = {}  # topic -> live events held during its replay
        self.session_group: str | None = None
        self.credential_group: str | None = None
        self.signed_out = False
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            for find in socket_principals:
                user = await find(self.scope) or user
            self.scope["user"] = user
        await self.accept()
        if user is None or not user.is_authenticated:
            # Closing after the handshake lets the browser read the code (a refused handshake only
            # shows it 1006), so the client stops reconnecting and sends the person to sign in.
            await self.close(code=SIGNED_OUT)
            return
        credential = getattr(user, "token_id", None)
        if credential:
            # Revoking a display token closes the screens opened with it (``realtime.credential_group``).
            self.credential_group = realtime.credential_group(credential)
            await self.channel_layer.group_add(self.credential_group, self.channel_name)
        session = self.scope.get("session")
        key = getattr(session, "session_key", None)
        if key:
            self.session_group = realtime.session_group(key)
            await self.channel_layer.group_add(self.session_group, self.channel_name)
            # A revocation between the handshake's session look-up and joining the group sent its
            # message to nobody: look once more now that any later one will arrive.
            if not await database_sync_to_async(session.exists)(key):
                await self.session_revoked({})

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Deliver layer messages without the per-message database clean-up of channels.

        Channels runs ``close_old_connections`` in its one synchronous thread before every handler.
        An event for N followers of a topic then queues N thread hops behind each other in every
        process, which was most of a wall screen's fan-out time. Events and revocations only touch
        this socket's memory; the database work of a subscription goes through
        ``database_sync_to_async``, which closes stale connections around each call itself.
        """
        if message.get("type") in LAYER_ONLY:
            await getattr(self, message["type"].replace(".", "_"))(message)
            return
        await super().dispatch(message)

    async def disconnect(self, code: int) -> None:
        for group in set(getattr(self, "groups_by_topic", {}).values()):
            await fanout.leave(group, self)
        for group in (getattr(self, "session_group", None), getattr(self, "credential_group", None)):
            if group:
                await self.channel_layer.group_discard(group, self.channel_name)

    async def session_revoked(self, message: dict[str, Any]) -> None:
        """The session of this socket was revoked (signed out everywhere, a new password, ...)."""
        if self.signed_out:
            return
        self.signed_out = True
        signin = getattr(self.scope["user"], "signin_url", None) or resolve_url(settings.LOGIN_URL)
        await self.send_json({"type": "signed_out", "signin": signin})
        await self.close(code=SIGNED_OUT)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if not text_data:
            await self.send_json({"type": "error", "code": "invalid", "message": "Send a JSON object as text."})
            return
        await self.receive_json(await self.decode_json(text_data), **kwargs)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            await self.send_json({"type": "error", "code": "invalid", "message": "Send a JSON object."})
            return
        kind = content.get("type")
        topic = content.get("topic")
        if kind == "subscribe":
            await self._subscribe(topic, content.get("after"))
        elif kind == "unsubscribe":
            await self._unsubscribe(topic)
        elif kind == "ping":
            await self.send_json({"type": "pong"})
        else:
            await self.send_json({"type": "error", "code": "invalid", "message": "Unknown message type."})

    async def decode_json(self, text_data: str) -> Any:
        try:
            return await super().decode_json(text_data)
        except (ValueError, RecursionError):
            return None

    async def _subscribe(self, topic: Any, after: Any) -> None:
        if not isinstance(topic, str):
            await self.send_json({"type": "error", "code": "invalid", "message": "topic must be a string."})
            return
        if len(self.groups_by_topic) >= MAX_SUBSCRIPTIONS and topic not in self.groups_by_topic:
            await self.send_json({"type": "error", "topic": topic, "code": "too_many_subscriptions"})
            return
        org_id = await database_sync_to_async(_resolve_for_current_user)(self.scope["user"], topic)
        if org_id is None:
            await self.send_json({"type": "error", "topic": topic, "code": "forbidden"})
            return
        group = realtime.group_name(org_id, topic)
        replay = isinstance(after, int) and not isinstance(after, bool) and after >= 0
        if replay:
            # Live events that arrive while the replay is read are held and sent after it, in order:
            # sent at once, they would move the position past the replayed ones, which would be dropped.
            self.holding[topic] = []
        try:
            if topic not in self.groups_by_topic:
                await fanout.join(self.channel_layer, group, self)
                self.groups_by_topic[topic] = group
            await self.send_json({"type": "subscribed", "topic": topic})
            missed = await database_sync_to_async(realtime.replay_after)(group, after) if replay else []
        finally:
            held = self.holding.pop(topic, [])
        if missed is None:
            await self.send_json({"type": "reset", "topic": topic})
        else:
            if replay:
                self.last_seq[topic] = max(self.last_seq.get(topic, 0), after)
            held = missed + held
        for message in sorted(held, key=lambda m: m["seq"]):
            await self.realtime_event(message)

    async def _unsubscribe(self, topic: Any) -> None:
        if not isinstance(topic, str):
            await self.send_json({"type": "error", "code": "invalid", "message": "topic must be a string."})
            return
        group = self.groups_by_topic.pop(topic, None)
        if group and group not in self.groups_by_topic.values():
            await fanout.leave(group, self)
        self.last_seq.pop(topic, None)
        await self.send_json({"type": "unsubscribed", "topic": topic})

    async def realtime_event(self, message: dict[str, Any]) -> None:
        topic = message["topic"]
        if topic in self.holding:
            self.holding[topic].append(message)
            return
        if topic not in self.groups_by_topic:
            return
        seq = message["seq"]
        if seq <= self.last_seq.get(topic, 0):
            return  # already delivered by a replay
        self.last_seq[topic] = seq
        await self.send(text_data=message["text"])


def _resolve_for_current_user(user: Any, topic: str) -> str | None:
    """Authorize ``topic`` for the user as stored now, not as loaded when the socket opened.

    A socket lives for hours and per-user permission caches live on the user object, so a
    membership revoked or an account deactivated since then must still refuse new subscriptions.
    """
    if hasattr(user, "resolve_topic"):
        return user.resolve_topic(topic)
    user_model = get_user_model()
    if isinstance(user, user_model):
        user = user_model._default_manager.filter(pk=user.pk).first()
        if user is None:
            return None
    return realtime.resolve_topic(user, topic)
