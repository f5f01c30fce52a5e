"""The embedded mode's replay buffer holds what it promises: a busy process (many topics, many
events) does not cull the events a resuming client asks for."""

from django.conf import settings

from apps.core import realtime


def test_a_resuming_client_gets_every_missed_event_while_other_topics_are_busy():
    wanted = "org.replay-buffer.operation:op-wanted"
    for i in range(1500):  # other topics' traffic, far above the cache's old 300-entry default
        group = f"org.replay-buffer.activity:{i % 40}"
        realtime.remember(group, {"seq": realtime.next_seq(group), "data": {"i": i}})
    for step in range(1, settings.REALTIME_REPLAY_EVENTS + 1):
        realtime.remember(wanted, {"seq": realtime.next_seq(wanted), "data": {"step": step}})
        other = f"org.replay-buffer.activity:{step % 40}"
        realtime.remember(other, {"seq": realtime.next_seq(other), "data": {}})

    missed = realtime.replay_after(wanted, 0)

    assert missed is not None, "the buffer culled events it promised to keep"
    assert [m["data"]["step"] for m in missed] == list(range(1, settings.REALTIME_REPLAY_EVENTS + 1))
