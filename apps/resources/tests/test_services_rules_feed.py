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


class _Unit:
    """An adapter with one unit of ``n`` pages (tokens None, "1", ..., str(n - 1)), counting what it is asked."""

    def __init__(self, n: int):
        from apps.clouds.adapters.base import ResourcePage

        self.pages = {(None if i == 0 else str(i)): ResourcePage(items=[{"n": i}], next_token=str(i + 1) if i + 1 < n
                                                                 else None) for i in range(n)}
        self.asked: list[str | None] = []

    def list_resources(self, resource_type, region, page_token=None):
        self.asked.append(page_token)
        return self.pages[page_token]


def _taken(feed, tokens: list[str | None]) -> list[int]:
    """The pages ``tokens`` taken from ``feed`` in a thread given 20 s: a feed that never answers fails the test
    instead of holding it."""
    import threading

    out: list = []
    taker = threading.Thread(target=lambda: out.extend(feed.get(0, t).items[0]["n"] for t in tokens), daemon=True)
    taker.start()
    taker.join(timeout=20)
    assert not taker.is_alive(), f"the feed did not answer; got {out}"
    return out


def _thread_errors(monkeypatch) -> list:
    import threading

    errors: list = []
    monkeypatch.setattr(threading, "excepthook", lambda args: errors.append(args.exc_value))
    return errors


def test_a_step_slower_than_the_feed_gets_every_page_each_fetched_once(monkeypatch):
    """The thread waits for room while the step works (less than ``FEED_IDLE_SECONDS``): no page is dropped
    and fetched again."""
    errors = _thread_errors(monkeypatch)
    monkeypatch.setattr(services, "FEED_DEPTH", 1)
    adapter = _Unit(4)
    feed = services._PageFeed("sync-slow-step", adapter, [["ecs.instance", "cn-hangzhou"]])
    try:
        assert _taken(feed, [None]) == [0]
        time.sleep(0.6)  # the thread holds page "2" with the queue full for longer than one wait for room
        assert _taken(feed, ["1", "2", "3"]) == [1, 2, 3]
        assert adapter.asked == [None, "1", "2", "3"]
    finally:
        feed.halt()
    assert errors == []


def test_a_feed_nobody_takes_from_stops_and_a_later_step_gets_its_pages_from_where_it_asks(monkeypatch):
    """Nobody took for ``FEED_IDLE_SECONDS``: the thread stops (the feed says so) and drops the page it held;
    the pages it had queued are still taken, and asking for the next one starts a thread from there."""
    errors = _thread_errors(monkeypatch)
    monkeypatch.setattr(services, "FEED_DEPTH", 2)
    monkeypatch.setattr(services, "FEED_IDLE_SECONDS", 0.3)
    adapter = _Unit(6)
    feed = services._PageFeed("sync-idle", adapter, [["ecs.instance", "cn-hangzhou"]])
    try:
        assert _taken(feed, [None]) == [0]
        first = feed.thread
        first.join(timeout=20)
        assert not first.is_alive() and feed.stopped.is_set()
        assert adapter.asked == [None, "1", "2", "3"]  # "1" and "2" queued, "3" held when it stopped
        assert _taken(feed, ["1", "2", "3", "4", "5"]) == [1, 2, 3, 4, 5]
        assert adapter.asked == [None, "1", "2", "3", "3", "4", "5"]
        assert feed.thread is not first
    finally:
        feed.halt()
    assert errors == []


def test_a_step_that_asks_for_another_page_than_the_next_gets_it_from_a_new_thread(monkeypatch):
    errors = _thread_errors(monkeypatch)
    adapter = _Unit(5)
    feed = services._PageFeed("sync-jump", adapter, [["ecs.instance", "cn-hangzhou"]])
    try:
        assert _taken(feed, [None]) == [0]
        first = feed.thread
        assert _taken(feed, ["3", "4"]) == [3, 4]
        assert feed.thread is not first and not first.is_alive()
        assert adapter.asked[0] == None and adapter.asked[-2:] == ["3", "4"]  # noqa: E711
    finally:
        feed.halt()
    assert errors == []


def test_halting_a_feed_waits_until_its_thread_has_stopped(monkeypatch):
    errors = _thread_errors(monkeypatch)
    monkeypatch.setattr(services, "FEED_DEPTH", 1)
    feed = services._PageFeed("sync-halt", _Unit(4), [["ecs.instance", "cn-hangzhou"]])
    assert _taken(feed, [None]) == [0]
    thread = feed.thread
    feed.halt()  # the thread is waiting for room for a page nobody will take
    assert not thread.is_alive() and feed.thread is None and feed.next_key is None
    assert errors == []
