"""``emit``: the only way anything is announced to browsers, screens and other apps.

Events are sent after the surrounding transaction commits, so nothing rolled back is announced.
Subscribers in other apps (audit, metering, alerts) register with ``subscribe`` and are called in
the same on-commit hook, in the emitting process.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from apps.core import realtime, runtime

logger = logging.getLogger(__name__)

Subscriber = Callable[[Any, str, dict[str, Any]], None]
_subscribers: list[tuple[str, Subscriber]] = []


def subscribe(topic_prefix: str, handler: Subscriber) -> None:
    """Call ``handler(org_id, topic, payload)`` for every committed event whose topic starts so."""
    _subscribers.append((topic_prefix, handler))


def emit(org: Any, topic: str, payload: dict[str, Any], *, also: Iterable[tuple[Any, str]] = ()) -> None:
    """Announce ``payload`` on ``topic`` of organization ``org`` (a model, an id or None) on commit.

    ``also`` names further (organization, topic) streams that carry the same announcement, such as
    an organization's activity stream; subscribers in other apps hear it once, on ``topic``.
    """
    org_id = getattr(org, "pk", org)
    streams = [(getattr(o, "pk", o), t) for o, t in also]

    def deliver() -> None:
        _deliver(org_id, topic, payload, streams)

    transaction.on_commit(deliver)


def _send(streams: list[tuple[Any, str]], payload: dict[str, Any]) -> None:
    """Number the event within each (organization, topic) stream, keep it for replay and hand it to the
    channel layer: the streams' numbers, their replay copies and their sends each go out together."""
    try:
        groups = [(realtime.group_name(org_id, topic), topic) for org_id, topic in streams]
        seqs = realtime.next_seqs([group for group, _topic in groups])
        # The client's frame is encoded once per stream here, not once per subscriber, around the payload
        # encoded once; the layer message carries only strings and numbers, which the layer copies cheaply
        # for each receiver.
        data = json.dumps(payload, cls=DjangoJSONEncoder)
        at = time.time()
        messages = [(group, {"type": "realtime.event", "topic": topic, "seq": seq,
                             "text": f'{{"type": "event", "topic": {json.dumps(topic)}, "seq": {seq}, '
                                     f'"ts": {at!r}, "data": {data}}}'})
                    for (group, topic), seq in zip(groups, seqs, strict=True)]
        realtime.remember_many(messages)
        send_to_groups(messages)
    except Exception:
        # Delivery is best effort: a broken cache or layer must not fail the committed work.
        logger.exception("could not deliver event %s", streams[0][1])


def _deliver(org_id: Any, topic: str, payload: dict[str, Any], streams: Iterable[tuple[Any, str]] = ()) -> None:
    _send([(org_id, topic), *streams], payload)
    for prefix, handler in _subscribers:
        if topic.startswith(prefix):
            try:
                handler(org_id, topic, payload)
            except Exception:
                logger.exception("event subscriber %r failed on %s", handler, topic)


SEND_TIMEOUT = 5.0


def send_to_group(group: str, message: dict[str, Any]) -> None:
    send_to_groups([(group, message)])


def send_to_groups(messages: list[tuple[str, dict[str, Any]]]) -> None:
    """Hand each (group, message) to the channel layer, all at once, and wait for them together."""
    layer = get_channel_layer()
    if layer is None:
        return

    async def send_all() -> None:
        if len(messages) == 1:
            await layer.group_send(*messages[0])
        else:
            await asyncio.gather(*(layer.group_send(group, message) for group, message in messages))

    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    loop = runtime.server_loop()
    if isinstance(layer, InMemoryChannelLayer):
        if loop is None:
            # No server in this process (tests, commands): the layer lives wherever it is awaited.
            async_to_sync(send_all)()
            return
    elif loop is None:
        loop = runtime.background_loop()
    # The layer lives on one long-lived loop of this process (the server's, else a background one):
    # send there. A private loop per send (async_to_sync) would lose in-memory events and open a new
    # Redis connection for every event.
    future = asyncio.run_coroutine_threadsafe(send_all(), loop)
    if running is None:
        # Waiting keeps one thread's events in the order they were emitted.
        future.result(timeout=SEND_TIMEOUT)
