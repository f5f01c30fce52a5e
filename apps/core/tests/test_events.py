"""``emit`` announces after commit only; every topic has its own increasing ``seq``; a reconnecting
client gets what it missed from the replay buffer, or ``None`` (reload) when it is gone."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db import transaction

from apps.core import events, realtime

ORG = "5f0c6a4e-8a57-4c59-9d0a-2f4bbf0b6a11"
TOPIC = "operation:op-00000000000000000001"


@pytest.fixture
def received(monkeypatch):
    """Events seen by a subscriber of every topic, as (org_id, topic, payload)."""
    monkeypatch.setattr(events, "_subscribers", [])
    seen: list[tuple] = []
    events.subscribe("", lambda org_id, topic, payload: seen.append((org_id, topic, payload)))
    return seen


def seqs(topic: str, org: str = ORG) -> list[int]:
    return [m["seq"] for m in realtime.replay_after(realtime.group_name(org, topic), 0)]


@pytest.mark.django_db(transaction=True)
def test_an_event_is_delivered_only_after_commit(received):
    with transaction.atomic():
        events.emit(ORG, TOPIC, {"progress": 10})
        assert received == []
        assert seqs(TOPIC) == []
    assert received == [(ORG, TOPIC, {"progress": 10})]
    assert seqs(TOPIC) == [1]


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_announces_nothing(received):
    with pytest.raises(RuntimeError), transaction.atomic():
        events.emit(ORG, TOPIC, {"progress": 10})
        raise RuntimeError("changed our mind")
    assert received == []
    assert seqs(TOPIC) == []


@pytest.mark.django_db(transaction=True)
def test_an_event_inside_a_rolled_back_savepoint_is_not_announced(received):
    with transaction.atomic():
        events.emit(ORG, TOPIC, {"kept": True})
        with pytest.raises(RuntimeError), transaction.atomic():
            events.emit(ORG, TOPIC, {"kept": False})
            raise RuntimeError("inner failure")
    assert [payload for _, _, payload in received] == [{"kept": True}]


@pytest.mark.django_db(transaction=True)
def test_emit_accepts_an_organization_object_or_none(received, world):
    events.emit(world.org_a, TOPIC, {})
    events.emit(None, "operation:op-00000000000000000002", {})
    assert [org_id for org_id, _, _ in received] == [world.org_a.pk, None]
    assert seqs("operation:op-00000000000000000002", org=None) == [1]


@pytest.mark.django_db(transaction=True)
def test_seq_increases_per_topic(received):
    other = "operation:op-00000000000000000009"
    for _ in range(3):
        events.emit(ORG, TOPIC, {})
    events.emit(ORG, other, {})
    events.emit(ORG, TOPIC, {})
    assert seqs(TOPIC) == [1, 2, 3, 4]
    assert seqs(other) == [1]


@pytest.mark.django_db(transaction=True)
def test_the_same_topic_in_two_organizations_counts_separately(received):
    other_org = "9a3b1c5d-0000-4000-8000-000000000000"
    events.emit(ORG, TOPIC, {})
    events.emit(ORG, TOPIC, {})
    events.emit(other_org, TOPIC, {})
    assert seqs(TOPIC) == [1, 2]
    assert seqs(TOPIC, org=other_org) == [1]


@pytest.mark.django_db(transaction=True)
def test_replay_after_returns_what_was_missed_in_order(received):
    for n in range(5):
        events.emit(ORG, TOPIC, {"n": n})
    missed = realtime.replay_after(realtime.group_name(ORG, TOPIC), 2)
    frames = [json.loads(m["text"]) for m in missed]
    assert [(m["seq"], f["seq"], f["data"]) for m, f in zip(missed, frames, strict=True)] == [
        (3, 3, {"n": 2}), (4, 4, {"n": 3}), (5, 5, {"n": 4})]
    assert all(f["type"] == "event" and f["topic"] == TOPIC and isinstance(f["ts"], float) for f in frames)
    assert realtime.replay_after(realtime.group_name(ORG, TOPIC), 5) == []


@pytest.mark.django_db(transaction=True)
def test_replay_after_is_none_when_the_buffer_lost_an_event(received):
    for _ in range(3):
        events.emit(ORG, TOPIC, {})
    group = realtime.group_name(ORG, TOPIC)
    cache.delete(realtime._event_key(group, 2))  # expired
    assert realtime.replay_after(group, 0) is None
    assert [m["seq"] for m in realtime.replay_after(group, 2)] == [3]


@pytest.mark.django_db(transaction=True)
def test_replay_after_is_none_when_more_were_missed_than_the_buffer_keeps(received, settings):
    settings.REALTIME_REPLAY_EVENTS = 3
    for _ in range(5):
        events.emit(ORG, TOPIC, {})
    group = realtime.group_name(ORG, TOPIC)
    assert realtime.replay_after(group, 1) is None
    assert [m["seq"] for m in realtime.replay_after(group, 2)] == [3, 4, 5]


@pytest.mark.django_db(transaction=True)
def test_replay_after_a_seq_never_given_is_none(received):
    """The counter was lost (a cache restart): the client's numbers are from before, so it reloads."""
    events.emit(ORG, TOPIC, {})
    assert realtime.replay_after(realtime.group_name(ORG, TOPIC), 42) is None


@pytest.mark.django_db(transaction=True)
def test_subscribers_are_called_for_topics_with_their_prefix(monkeypatch):
    monkeypatch.setattr(events, "_subscribers", [])
    operations, alerts = [], []
    events.subscribe("operation:", lambda *args: operations.append(args))
    events.subscribe("alerts", lambda *args: alerts.append(args))
    events.emit(ORG, TOPIC, {"status": "running"})
    assert operations == [(ORG, TOPIC, {"status": "running"})]
    assert alerts == []


@pytest.mark.django_db(transaction=True)
def test_a_failing_subscriber_does_not_stop_the_others_or_the_delivery(monkeypatch, received):
    def broken(*args):
        raise ValueError("subscriber bug")

    events._subscribers.insert(0, ("operation:", broken))
    events.emit(ORG, TOPIC, {"status": "running"})
    assert received == [(ORG, TOPIC, {"status": "running"})]
    assert seqs(TOPIC) == [1]


@pytest.mark.django_db(transaction=True)
def test_the_event_reaches_the_tenants_group_on_the_channel_layer(received):
    layer = get_channel_layer()

    async def listen_and_emit():
        from channels.db import database_sync_to_async

        channel = await layer.new_channel()
        await layer.group_add(realtime.group_name(ORG, TOPIC), channel)
        await database_sync_to_async(events.emit)(ORG, TOPIC, {"progress": 40})
        return await layer.receive(channel)

    message = async_to_sync(listen_and_emit)()
    assert message["type"] == "realtime.event"
    assert (message["topic"], message["seq"]) == (TOPIC, 1)
    frame = json.loads(message["text"])  # the client's frame, encoded once for every subscriber
    assert (frame["type"], frame["topic"], frame["seq"], frame["data"]) == ("event", TOPIC, 1, {"progress": 40})


def test_group_names_carry_the_tenant():
    assert realtime.group_name(ORG, TOPIC) == f"org.{ORG}.operation.op-00000000000000000001"
    assert realtime.group_name(None, "alerts:all") == "org.platform.alerts.all"


def test_long_topics_get_distinct_valid_group_names():
    layer = get_channel_layer()
    first = "dashboard:" + "a" * 63 + "1"
    second = "dashboard:" + "a" * 63 + "2"
    names = {realtime.group_name(ORG, first), realtime.group_name(ORG, second)}
    assert len(names) == 2
    for name in names:
        assert name.startswith(f"org.{ORG}.")
        layer.require_valid_group_name(name)


@pytest.mark.django_db(transaction=True)
def test_events_emitted_together_reach_a_batch_subscriber_together_in_order_without_a_rolled_back_one(monkeypatch):
    monkeypatch.setattr(events, "_batch_subscribers", [])
    batches: list[list] = []
    events.subscribe_batch("operation:", batches.append)
    activity = f"activity:{ORG}"
    with transaction.atomic():
        events.emit(ORG, TOPIC, {"n": 1}, also=[(ORG, activity)])
        events.emit(ORG, TOPIC, {"n": 2}, also=[(ORG, activity)])
        with pytest.raises(RuntimeError), transaction.atomic():
            events.emit(ORG, TOPIC, {"n": 3}, also=[(ORG, activity)])
            raise RuntimeError("inner failure")
        transaction.on_commit(lambda: batches.append(["something else registered"]))
        events.emit(ORG, TOPIC, {"n": 4}, also=[(ORG, activity)])
        events.emit(ORG, "alerts:all", {"n": 5}, also=[(ORG, activity)])
    assert batches == [[(ORG, TOPIC, {"n": 1}), (ORG, TOPIC, {"n": 2})], ["something else registered"],
                       [(ORG, TOPIC, {"n": 4})]]
    assert seqs(TOPIC) == [1, 2, 3]
    frames = [json.loads(m["text"])["data"]["n"] for m in realtime.replay_after(realtime.group_name(ORG, activity), 0)]
    assert frames == [1, 2, 4, 5]  # each stream numbered in the order emitted


@pytest.mark.django_db(transaction=True)
def test_fields_of_one_stream_reach_only_that_streams_frames_and_no_subscriber(received):
    """``streamed``: what the organization's followers may see is on its stream's frame, not on the
    platform-wide one beside it, and not in what subscribers in other apps hear."""
    with transaction.atomic():
        events.emit(ORG, f"alerts:{ORG}", {"event": "ingested"}, also=[(None, "alerts:platform")],
                    streamed={f"alerts:{ORG}": {"counts": 1}, "alerts:platform": {"counts": 7},
                              "alerts:other": {"counts": 99}})
        events.emit(ORG, f"alerts:{ORG}", {"event": "plain"}, also=[(None, "alerts:platform")])

    def data(org, topic):
        return [json.loads(m["text"])["data"] for m in realtime.replay_after(realtime.group_name(org, topic), 0)]

    assert data(ORG, f"alerts:{ORG}") == [{"event": "ingested", "counts": 1}, {"event": "plain"}]
    assert data(None, "alerts:platform") == [{"event": "ingested", "counts": 7}, {"event": "plain"}]
    assert received == [(ORG, f"alerts:{ORG}", {"event": "ingested"}), (ORG, f"alerts:{ORG}", {"event": "plain"})]


@pytest.mark.django_db(transaction=True)
def test_sent_is_called_once_the_frames_are_handed_over_before_any_subscriber_hears(monkeypatch):
    monkeypatch.setattr(events, "_subscribers", [])
    monkeypatch.setattr(events, "_batch_subscribers", [])
    order: list[tuple] = []
    handed = events.send_to_groups

    def frames(messages, **kwargs):
        order.append(("frames", [m["seq"] for _group, m in messages]))
        handed(messages, **kwargs)

    def broken():
        raise ValueError("callback bug")

    monkeypatch.setattr(events, "send_to_groups", frames)
    events.subscribe("", lambda org_id, topic, payload: order.append(("subscriber", payload["n"])))
    events.subscribe_batch("", lambda batch: order.append(("batch", [payload["n"] for _o, _t, payload in batch])))
    with transaction.atomic():
        events.emit(ORG, TOPIC, {"n": 1}, sent=lambda: order.append(("sent", 1)))
        events.emit(ORG, TOPIC, {"n": 2}, sent=broken)  # a failing callback costs the others nothing
        with pytest.raises(RuntimeError), transaction.atomic():
            events.emit(ORG, TOPIC, {"n": 3}, sent=lambda: order.append(("sent", 3)))
            raise RuntimeError("inner failure")
        events.emit(ORG, TOPIC, {"n": 4}, sent=lambda: order.append(("sent", 4)))
    # One delivery (the rolled-back savepoint took its event with it): every frame, then every callback, then
    # the subscribers.
    assert order == [("frames", [1, 2, 3]), ("sent", 1), ("sent", 4), ("subscriber", 1), ("subscriber", 2),
                     ("subscriber", 4), ("batch", [1, 2, 4])]
    assert seqs(TOPIC) == [1, 2, 3]


class Signal:
    """Set by another thread; ``then`` as the sender threads' (``apps.alerts.sender.Handed``)."""

    def __init__(self) -> None:
        self.lock, self.done, self.followers = threading.Lock(), False, []

    def set(self) -> None:
        with self.lock:
            self.done, followers, self.followers = True, self.followers, []
        for fn in followers:
            fn()

    def then(self, fn) -> None:
        with self.lock:
            if not self.done:
                self.followers.append(fn)
                return
        fn()


@pytest.fixture
def server_loop(monkeypatch):
    """A running loop standing for the server's, in a thread of its own."""
    from apps.core import runtime

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="server-loop", daemon=True)
    thread.start()
    monkeypatch.setattr(runtime, "_server_loop", loop)
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def _handing(monkeypatch) -> list[tuple[str, float, list[int]]]:
    """(thread that handed the frames to the loop, when the loop had them, their seqs) for each hand-over."""
    from apps.core.consumers import fanout

    seen: list[tuple[str, float, list[int]]] = []
    opener: list[str] = []
    submit, send_all = asyncio.run_coroutine_threadsafe, fanout.send_all

    def submitted(coro, loop):
        opener.append(threading.current_thread().name)
        return submit(coro, loop)

    async def handed(layer, messages):
        seen.append((opener[-1] if opener else threading.current_thread().name, time.perf_counter(),
                     [m["seq"] for _group, m in messages]))
        await send_all(layer, messages)

    monkeypatch.setattr(asyncio, "run_coroutine_threadsafe", submitted)
    monkeypatch.setattr(fanout, "send_all", handed)
    return seen


def _set_later(*signals: Signal, every: float = 0.05) -> tuple[threading.Thread, list[float]]:
    stamps: list[float] = []

    def run() -> None:
        for signal in signals:
            time.sleep(every)
            stamps.append(time.perf_counter())
            signal.set()

    thread = threading.Thread(target=run, name="setter")
    thread.start()
    return thread, stamps


@pytest.mark.django_db(transaction=True)
def test_the_frames_wait_for_their_signals_and_the_last_one_set_hands_them_over(server_loop, monkeypatch):
    """``after``: the emitting thread waits; the thread that sets the last signal hands the frames to the loop
    itself; the events delivered together wait for all their signals; the subscribers hear them afterwards."""
    seen = _handing(monkeypatch)
    first, second, third = Signal(), Signal(), Signal()
    third.set()  # already set: nothing to wait for
    setter, stamps = _set_later(first, second)
    heard: list[float] = []
    monkeypatch.setattr(events, "_subscribers", [])
    events.subscribe("", lambda org_id, topic, payload: heard.append(time.perf_counter()))
    with transaction.atomic():
        events.emit(ORG, TOPIC, {"n": 1}, after=events.After([first, third], 5))
        events.emit(ORG, TOPIC, {"n": 2}, after=events.After([second], 5))
        events.emit(ORG, TOPIC, {"n": 3})
    setter.join()
    ((thread, at, seqs_handed),) = seen
    assert thread == "setter" and seqs_handed == [1, 2, 3]
    assert at > stamps[1] and len(heard) == 3 and min(heard) > at
    assert seqs(TOPIC) == [1, 2, 3]


@pytest.mark.django_db(transaction=True)
def test_frames_whose_signals_are_late_go_after_the_time_allowed_and_once(server_loop, monkeypatch):
    seen = _handing(monkeypatch)
    late = Signal()
    began = time.perf_counter()
    events.emit(ORG, TOPIC, {"n": 1}, after=events.After([late], 0.1))
    ((thread, at, seqs_handed),) = seen
    assert thread == threading.current_thread().name and at - began >= 0.1 and seqs_handed == [1]
    late.set()  # too late: nothing is handed again
    time.sleep(0.05)
    assert len(seen) == 1 and seqs(TOPIC) == [1]


@pytest.mark.django_db(transaction=True)
def test_without_a_server_the_frames_wait_for_their_signals_too(monkeypatch):
    from apps.core import runtime

    monkeypatch.setattr(runtime, "_server_loop", None)
    frames: list[float] = []
    handed = events.send_to_groups

    def sent(messages, **kwargs):
        handed(messages, **kwargs)
        frames.append(time.perf_counter())

    monkeypatch.setattr(events, "send_to_groups", sent)
    signal = Signal()
    setter, stamps = _set_later(signal)
    events.emit(ORG, TOPIC, {"n": 1}, after=events.After([signal], 5))
    setter.join()
    assert frames[0] > stamps[0] and seqs(TOPIC) == [1]


@pytest.mark.django_db(transaction=True)
def test_an_event_whose_numbering_fails_is_not_waited_for(monkeypatch, caplog):
    """No numbers, no frames: its signals are not waited for; ``sent`` is still called."""
    called: list[str] = []

    def down(groups):
        raise ConnectionError("cache unreachable")

    monkeypatch.setattr(realtime, "next_seqs_asked", down)
    began = time.perf_counter()
    events.emit(ORG, TOPIC, {"n": 1}, after=events.After([Signal()], 5), sent=lambda: called.append("sent"))
    assert called == ["sent"] and time.perf_counter() - began < 4
    assert "could not deliver events" in caplog.text
