"""The one websocket endpoint (``/ws/``): subscriptions to topics, checked like the API."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.contrib.auth import get_user_model

from apps.core import realtime

MAX_SUBSCRIPTIONS = 200
# Async callables ``find(scope)`` offering a principal for a socket without a signed-in person (a wall
# screen's display token). A principal with ``resolve_topic(topic)`` authorizes its own subscriptions.
socket_principals: list = []


class RealtimeConsumer(AsyncJsonWebsocketConsumer):
    """Client -> server: ``subscribe`` / ``unsubscribe`` a topic (optionally ``after`` a seq).

    Server -> client: ``event`` (topic, seq, ts, data), ``subscribed``, ``reset`` when missed events
    are no longer available, and ``error`` (never revealing whether a refused topic exists).
    """

    async def connect(self) -> None:
        self.groups_by_topic: dict[str, str] = {}
        self.last_seq: dict[str, int] = {}
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            for find in socket_principals:
                user = await find(self.scope) or user
            self.scope["user"] = user
        await self.accept()
        if user is None or not user.is_authenticated:
            # Closing after the handshake lets the browser read 4401 (a refused handshake only
            # shows it 1006), so the client stops reconnecting and sends the person to sign in.
            await self.close(code=4401)

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_by_topic", {}).values():
            await self.channel_layer.group_discard(group, self.channel_name)

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
        if topic not in self.groups_by_topic:
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_by_topic[topic] = group
        await self.send_json({"type": "subscribed", "topic": topic})
        if isinstance(after, int) and not isinstance(after, bool) and after >= 0:
            missed = await database_sync_to_async(realtime.replay_after)(group, after)
            if missed is None:
                await self.send_json({"type": "reset", "topic": topic})
                return
            self.last_seq[topic] = max(self.last_seq.get(topic, 0), after)
            for message in missed:
                await self.realtime_event(message)

    async def _unsubscribe(self, topic: Any) -> None:
        if not isinstance(topic, str):
            await self.send_json({"type": "error", "code": "invalid", "message": "topic must be a string."})
            return
        group = self.groups_by_topic.pop(topic, None)
        if group:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.last_seq.pop(topic, None)
        await self.send_json({"type": "unsubscribed", "topic": topic})

    async def realtime_event(self, message: dict[str, Any]) -> None:
        topic = message["topic"]
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
