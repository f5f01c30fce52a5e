"""A run's page feed parked for its next step is dropped, and its fetching thread stopped, once nobody
has taken from it for ``FEED_IDLE_SECONDS`` (the next step ran in another worker): a worker does not
keep fetching for syncs it no longer serves. A feed parked for less is kept for its step."""

from __future__ import annotations

import time

from apps.resources import services


class Feed:
    def __init__(self, run_id: str):
        self.run_id, self.parked_at, self.halted = run_id, 0.0, 0

    def halt(self) -> None:
        self.halted += 1


def test_a_feed_left_parked_longer_than_the_idle_time_is_stopped_when_another_is_parked(monkeypatch):
    monkeypatch.setattr(services, "_feeds", {})
    now = [5000.0]
    real = time.monotonic

    def park(feed: Feed, at: float) -> None:
        now[0] = at
        with monkeypatch.context() as patched:
            patched.setattr(services.time, "monotonic", lambda: now[0])
            services._feed_park(feed)
        assert time.monotonic is real

    abandoned, kept, latest = Feed("sync-a"), Feed("sync-b"), Feed("sync-c")
    park(abandoned, 5000.0)
    assert abandoned.parked_at == 5000.0 and services._feeds == {"sync-a": abandoned}

    # Exactly the idle time later: still kept.
    park(kept, 5000.0 + services.FEED_IDLE_SECONDS)
    assert services._feeds == {"sync-a": abandoned, "sync-b": kept} and abandoned.halted == 0

    # A moment more: the abandoned feed is stopped once and forgotten; the one parked 0.5 s ago stays.
    park(latest, 5000.0 + services.FEED_IDLE_SECONDS + 0.5)
    assert services._feeds == {"sync-b": kept, "sync-c": latest}
    assert (abandoned.halted, kept.halted, latest.halted) == (1, 0, 0)
    assert latest.parked_at == 5000.0 + services.FEED_IDLE_SECONDS + 0.5



class _Pages:
    """An adapter with one unit of two pages."""

    def __init__(self):
        from apps.clouds.adapters.base import ResourcePage

        self.pages = {None: ResourcePage(items=[], next_token="2"), "2": ResourcePage(items=[], next_token=None)}
        self.asked: list[tuple[str, str, str | None]] = []

    def list_resources(self, resource_type, region, page_token=None):
        self.asked.append((resource_type, region, page_token))
        return self.pages[page_token]


def test_a_feeds_thread_is_named_for_its_run_and_never_holds_the_process_open():
    adapter = _Pages()
    feed = services._PageFeed("sync-feed-test", adapter, [["ecs.instance", "cn-hangzhou"]])
    try:
        assert feed.get(0, None).next_token == "2"
        assert feed.thread.name == "sync-fetch-sync-feed-test" and feed.thread.daemon is True
        assert feed.get(0, "2").next_token is None
        feed.thread.join(timeout=10)
        assert not feed.thread.is_alive()  # the last page fetched, the thread ends
        assert adapter.asked == [("ecs.instance", "cn-hangzhou", None), ("ecs.instance", "cn-hangzhou", "2")]
    finally:
        feed.halt()
