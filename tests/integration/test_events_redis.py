"""``emit`` on Redis (cache and channel layer): an event announced on several streams gets the next number of
each stream, a replay copy under each, and reaches a listener of each, in one pipelined round trip each for the
numbers and the copies."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import connection, transaction

from apps.core import events, realtime

ORG = "5f0c6a4e-8a57-4c59-9d0a-2f4bbf0b6a11"
TOPIC = "operation:op-00000000000000000042"
STREAMS = [(ORG, f"activity:{ORG}"), (None, "activity:platform")]


def emit_twice() -> None:
    try:
        for n in range(2):
            with transaction.atomic():
                events.emit(ORG, TOPIC, {"n": n, "status": "running"}, also=STREAMS)
    finally:
        connection.close()  # this thread's, so the test database can be dropped


@pytest.mark.django_db(transaction=True)
def test_an_event_on_three_streams_is_numbered_kept_and_sent_on_each():
    assert isinstance(caches["default"], RedisCache)
    groups = [realtime.group_name(ORG, TOPIC), *(realtime.group_name(o, t) for o, t in STREAMS)]
    before = [int(cache.get(realtime._seq_key(group)) or 0) for group in groups]

    async def listen() -> list[dict]:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        for group in groups:
            await layer.group_add(group, channel)
        await sync_to_async(emit_twice, thread_sensitive=False)()
        received = [await asyncio.wait_for(layer.receive(channel), 10) for _ in range(2 * len(groups))]
        for group in groups:
            await layer.group_discard(group, channel)
        return received

    # A loop of its own in a thread of its own: a browser test before this one leaves its loop in this thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        received = pool.submit(asyncio.run, listen()).result(timeout=60)
    assert sorted((m["topic"], json.loads(m["text"])["data"]["n"]) for m in received) == sorted(
        (topic, n) for topic in [TOPIC, *(t for _o, t in STREAMS)] for n in range(2))
    for group, seq in zip(groups, before, strict=True):
        kept = realtime.replay_after(group, seq)
        assert [m["seq"] for m in kept] == [seq + 1, seq + 2]
        assert [json.loads(m["text"])["data"] for m in kept] == [{"n": 0, "status": "running"},
                                                                 {"n": 1, "status": "running"}]
        frame = json.loads(kept[0]["text"])
        assert frame["type"] == "event" and frame["topic"] == kept[0]["topic"] and frame["seq"] == seq + 1


class _Follower:
    """Stands for a socket following a topic: records the events it is handed."""

    def __init__(self) -> None:
        self.handed: list[int] = []

    async def realtime_event(self, message: dict) -> None:
        self.handed.append(message["seq"])


def test_an_event_sent_from_the_followers_process_reaches_them_once_and_the_other_processes_through_redis():
    from apps.core.consumers import VIA, fanout

    group = realtime.group_name(ORG, TOPIC)

    def event(seq: int) -> dict:
        return {"type": "realtime.event", "topic": TOPIC, "seq": seq, "text": json.dumps({"seq": seq})}

    async def scenario() -> tuple[list[int], dict, list[int], str]:
        layer = get_channel_layer()
        follower = _Follower()
        await fanout.join(layer, group, follower)
        hub = next(h for key, h in fanout.hubs.items() if key[1] == group)
        elsewhere = await layer.new_channel()  # another process's hub of the same group
        await layer.group_add(group, elsewhere)
        try:
            await fanout.send(layer, group, event(1))
            handed_at_once = list(follower.handed)
            copy = await asyncio.wait_for(layer.receive(elsewhere), 10)
            await layer.group_send(group, {**event(2), VIA: elsewhere})  # that process's own event
            for _ in range(100):
                if 2 in follower.handed:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.2)  # time for the hub's own copy of event 1 to come back, and be skipped
            return handed_at_once, copy, list(follower.handed), hub.channel
        finally:
            await layer.group_discard(group, elsewhere)
            await fanout.leave(group, follower)

    with ThreadPoolExecutor(max_workers=1) as pool:
        handed_at_once, copy, handed, channel = pool.submit(asyncio.run, scenario()).result(timeout=60)
    assert handed_at_once == [1]  # before Redis was waited for
    assert copy["seq"] == 1 and copy[VIA] == channel
    assert handed == [1, 2]


def test_numbers_asked_for_are_read_after_other_work_on_the_same_cache():
    """``next_seqs_asked``: the increments leave at once and are read later; the cache serves other commands
    meanwhile (on another of its connections), the connection goes back to the pool, and a connection whose
    answers could not be read is dropped, not handed to the next command with answers left in it."""
    groups = [realtime.group_name(ORG, "alerts:asked"), realtime.group_name(None, "alerts:asked")]
    before = [int(cache.get(realtime._seq_key(group)) or 0) for group in groups]
    pool = caches["default"]._cache.get_client(realtime._seq_key(groups[0]), write=True).connection_pool

    asked = realtime.next_seqs_asked(groups)
    cache.set("asked:between", "x")
    assert cache.get("asked:between") == "x"
    assert asked() == [seq + 1 for seq in before]
    assert realtime.next_seqs_asked(groups)() == [seq + 2 for seq in before]
    assert pool._in_use_connections == set()

    # A counter that is not a number: the first answer is an error, the second is left unread.
    backend = caches["default"]
    client = backend._cache.get_client(realtime._seq_key(groups[0]), write=True)
    first = backend.make_and_validate_key(realtime._seq_key(groups[0]))
    client.set(first, "not a number")
    asked = realtime.next_seqs_asked(groups)
    held = next(iter(pool._in_use_connections))
    with pytest.raises(redis.exceptions.ResponseError):
        asked()
    assert pool._in_use_connections == set() and held._sock is None
    client.set(first, before[0] + 2)
    # The refused increment was not made, the unread one was.
    assert realtime.next_seqs(groups) == [before[0] + 3, before[1] + 4]
