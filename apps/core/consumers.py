"""The one websocket endpoint (``/ws/``): subscriptions to topics, checked like the API."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from apps.core import realtime

MAX_SUBSCRIPTIONS = 200


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
            await self.close(code=4401)
            return
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_by_topic", {}).values():
            await self.channel_layer.group_discard(group, self.channel_name)

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
        except ValueError:
            return None

    async def _subscribe(self, topic: Any, after: Any) -> None:
        if not isinstance(topic, str):
            await self.send_json({"type": "error", "code": "invalid", "message": "topic must be a string."})
            return
        if len(self.groups_by_topic) >= MAX_SUBSCRIPTIONS and topic not in self.groups_by_topic:
            await self.send_json({"type": "error", "topic": topic, "code": "too_many_subscriptions"})
            return
        org_id = await database_sync_to_async(realtime.resolve_topic)(self.scope["user"], topic)
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
        group = self.groups_by_topic.pop(topic, None) if isinstance(topic, str) else None
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
        await self.send_json(
            {"type": "event", "topic": topic, "seq": seq, "ts": message.get("ts"), "data": message["data"]}
        )
