"""Fan-out: how long one ``emit`` takes to reach N connected websocket clients.

The measured path is the real one. A signed-in user starts the built-in diagnostic operation over
the API (``POST /api/v1/core/operations/diagnostics/``); N websocket clients subscribe to its topic;
the Celery worker runs the steps and every step is announced with ``emit``. Each event carries
``ts``, the wall-clock time of the emit in the emitting process, so a sample is the client's receive
time minus ``ts``.

The baseline, measured right after with the same N, is the channel layer alone: ``group_send``
from this process to N receiver channels on the same kind of layer (in-memory for the embedded
mode, Redis pub/sub on the deployment's Redis for the distributed mode), with the same payload.

Which events count: the diagnostic's steps all wait the same countdown, so the first ones may be
emitted while the N subscriptions are still being made. Only events emitted after the last
``subscribed`` acknowledgement arrived are counted; for those, every client must receive every
event. The list of what was emitted comes from the server's replay buffer (a fresh connection
subscribes ``after: 0``), so an event that no client received still counts as expected. The final
"succeeded" event follows the last step's event immediately (two emits back to back); it counts for
delivery but not for latency, which is about one emit at a time.

Wall screens (distributed mode, cases "wall N=..."): N websocket clients signed in with one display
token follow the demo's "operations" dashboard on its screen topic (``screen:operations``), as wall
screens do. The same diagnostic operation changes the data behind its widgets; the server computes
the changed widgets' values once for the token's organization and pushes them to every screen in a
``values`` notice (``apps.dashboards.live``, coalesced per dashboard). A sample is a client's receive
time minus the ``ts`` of the diagnostic step's own operation event, stamped in the worker right after
the step committed (read back from the operation's replay buffer; each notice reports the latest step
event before its ``changed_at``): the other apps' subscribers to that event (the audit entry ...),
the look-up and the computation of the values are all part of it. A notice held for the end of a coalescing window (the
diagnostic's last step and its "succeeded" come back to back, and the second waits on purpose) is
counted for delivery but not timed. Besides the per-client percentiles the row's extra gives, per
notice, the change to its last client (``last_client_*``), the change to the server's send
(``server_*``: the subscribers, the look-up, the computation and the publish) and the change to
dashboards' look-up (``before_dashboards_*``: the subscribers that run first).
Process layout: as many daphne processes as the machine has cores, each on its own port (daphne
cannot share one listening port), with the clients spread over them round-robin, as a load balancer
in front of them would; one Celery worker. Memory per connection is the growth of the daphne
processes' resident memory from before the N clients connect to after they all subscribed, divided
by N. The rows' baseline is the same raw Redis pub/sub group_send to N receivers as above; the
"wall N=... / N sockets" rows repeat the figures beside raw Redis pub/sub to N subscriber connections
read by this process (also ``raw_connections_*`` in the extra), which carries the per-socket cost of
N clients without the application."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from bench.deployments import Deployment, DeploymentError, Session, deployment
from bench.harness import Context, Row, collector_paused, percentile

TITLE = "one emit reaching N websocket clients (emit -> client receive)"
BASELINE = "raw channel-layer group_send to N receivers on the same kind of layer, same run"

FINAL_STATUSES = {"succeeded", "failed", "cancelled"}
CONNECT_CONCURRENCY = 50


@dataclass(frozen=True)
class Plan:
    cases: tuple[tuple[int, int], ...]  # (clients, diagnostic steps); the API allows 1..50 steps
    interval: float  # seconds the diagnostic waits before each step
    baseline_gap: float  # seconds between baseline sends once the previous one has arrived everywhere


# The interval leaves the slowest fan-out (N=500) time to finish before the next step's emit, and
# the first step's countdown leaves time for every client to subscribe (about 1 s at N=500).
FULL = Plan(cases=((1, 40), (100, 25), (500, 25)), interval=0.5, baseline_gap=0.05)
QUICK = Plan(cases=((1, 6), (100, 4), (500, 6)), interval=1.0, baseline_gap=0.05)
# Wall screens: (clients, diagnostic steps). A step a second leaves each coalescing window (0.5 s)
# one change, so every step is announced at once rather than gathered.
WALL_FULL = ((500, 12), (2000, 12))
WALL_QUICK = ((100, 4), (500, 4))
WALL_INTERVAL = 1.0
WALL_DASHBOARD = "operations"


@dataclass
class Round:
    """One diagnostic operation followed by N clients."""

    topic: str
    clients: int
    acked_at: list[float | None]
    received: list[dict[int, tuple[float, float, str]]]  # per client: seq -> (stamp, received at, status)
    sent: dict[int, float] = field(default_factory=dict)  # seq -> ts, when the server sent it
    events: dict[int, str] = field(default_factory=dict)  # seq -> the data's "event" (values, saved ...)
    held: dict[int, bool] = field(default_factory=dict)  # seq -> waited for a coalescing window to end
    finished: set[int] = field(default_factory=set)
    duplicates: int = 0
    data: dict[str, Any] = field(default_factory=dict)
    errors: list[Any] = field(default_factory=list)
    all_acked: asyncio.Event = field(default_factory=asyncio.Event)
    all_finished: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def for_topic(cls, topic: str, clients: int) -> Round:
        return cls(topic, clients, [None] * clients, [{} for _ in range(clients)])


class Client:
    """One websocket connection that files what it receives into the current ``Round``."""

    def __init__(self, index: int, ws: ClientConnection):
        self.index = index
        self.ws = ws
        self.round: Round | None = None
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                received_at = time.time()
                message = json.loads(raw)
                current = self.round
                if current is not None and message.get("topic") == current.topic:
                    self._file(current, message, received_at)
        except ConnectionClosed:
            pass

    def _file(self, current: Round, message: dict[str, Any], received_at: float) -> None:
        kind = message.get("type")
        if kind == "subscribed":
            current.acked_at[self.index] = received_at
            if all(t is not None for t in current.acked_at):
                current.all_acked.set()
        elif kind == "event":
            seen = current.received[self.index]
            if message["seq"] in seen:
                current.duplicates += 1
                return
            current.data = message["data"]
            status = current.data.get("status", "")
            # A wall screen's values carry the time of the data change they report (``changed_at``):
            # latency is counted from there. Other events are stamped when emitted (``ts``).
            changed_at = current.data.get("changed_at")
            stamp = float(changed_at) if isinstance(changed_at, int | float) else float(message["ts"])
            seen[message["seq"]] = (stamp, received_at, status)
            current.sent[message["seq"]] = float(message["ts"])
            current.events[message["seq"]] = str(current.data.get("event", ""))
            current.held[message["seq"]] = current.data.get("held") is True
            if status in FINAL_STATUSES:
                current.finished.add(self.index)
                if len(current.finished) == current.clients:
                    current.all_finished.set()
        else:
            # A refusal or a replay reset must end the waits, not stall them.
            current.errors.append(message)
            current.all_acked.set()
            current.all_finished.set()

    async def subscribe(self, current: Round, after: int | None = None) -> None:
        self.round = current
        message: dict[str, Any] = {"type": "subscribe", "topic": current.topic}
        if after is not None:
            message["after"] = after
        await self.ws.send(json.dumps(message))

    async def close(self) -> None:
        await self.ws.close()
        await self.reader


async def _connect(deployment_: Deployment, session: Session, count: int) -> list[Client]:
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one(index: int) -> Client:
        async with limit:
            ws = await connect(deployment_.ws_url, origin=deployment_.base_url,  # type: ignore[arg-type]
                               additional_headers={"Cookie": session.cookie_header},
                               ping_interval=None, open_timeout=30, close_timeout=5, max_queue=None)
            return Client(index, ws)

    results = await asyncio.gather(*(one(i) for i in range(count)), return_exceptions=True)
    clients = [r for r in results if isinstance(r, Client)]
    failures = [r for r in results if not isinstance(r, Client)]
    if failures:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
        raise DeploymentError(f"{len(failures)} of {count} websocket connections failed: {failures[0]!r}")
    return clients


@dataclass
class WebsocketFigures:
    latencies_ms: list[float] = field(default_factory=list)
    delivered: int = 0
    expected: int = 0
    latency_events: int = 0  # counted events that give a latency sample (one per client each)
    discarded_events: int = 0  # emitted before every client had subscribed
    duplicates: int = 0
    subscribe_s: float = 0.0  # from sending the N subscriptions to the last acknowledgement
    data: dict[str, Any] = field(default_factory=dict)  # what an event carried, for the baseline


async def _run_operation(dep: Deployment, session: Session, clients: Sequence[Client], steps: int,
                         interval: float, figures: WebsocketFigures) -> None:
    status, body = await asyncio.to_thread(session.post_json, "/api/v1/core/operations/diagnostics/",
                                           {"steps": steps, "interval": interval})
    if status != 202:
        raise DeploymentError(f"starting the diagnostic answered {status}: {body}")
    topic = f"operation:{body['id']}"
    current = Round.for_topic(topic, len(clients))
    asked_at = time.time()
    await asyncio.gather(*(c.subscribe(current) for c in clients))
    await asyncio.wait_for(current.all_acked.wait(), timeout=60)
    if current.errors:
        raise DeploymentError(f"subscribing to {topic} was refused: {current.errors[0]}")
    deadline = steps * max(interval, 1.0) * 2 + 20
    try:
        await asyncio.wait_for(current.all_finished.wait(), timeout=deadline)
    except TimeoutError:
        pass  # whatever is missing is counted as lost below
    emitted = await _emitted(dep, session, topic)
    ready_at = max(t for t in current.acked_at if t is not None)
    figures.subscribe_s = ready_at - asked_at
    _score(current, emitted, ready_at, figures)


async def _emitted(dep: Deployment, session: Session, topic: str) -> dict[int, tuple[float, str]]:
    """seq -> (ts, status) of every event of ``topic``, read back from the server's replay buffer."""
    (auditor,) = await _connect(dep, session, 1)
    try:
        replay = Round.for_topic(topic, 1)
        await auditor.subscribe(replay, after=0)
        await asyncio.wait_for(replay.all_finished.wait(), timeout=15)
    except TimeoutError:
        raise DeploymentError(f"{topic} has not finished: is the worker running?") from None
    finally:
        await auditor.close()
    if replay.errors:
        raise DeploymentError(f"replaying {topic} failed: {replay.errors[0]}")
    return {seq: (ts, status) for seq, (ts, _received, status) in replay.received[0].items()}


def _score(current: Round, emitted: dict[int, tuple[float, str]], ready_at: float,
           figures: WebsocketFigures) -> None:
    counted = sorted(seq for seq, (ts, _status) in emitted.items() if ts >= ready_at)
    final = [seq for seq in counted if emitted[seq][1] in FINAL_STATUSES]
    timed = [seq for seq in counted if seq not in final]
    figures.discarded_events += len(emitted) - len(counted)
    figures.latency_events += len(timed)
    figures.duplicates += current.duplicates
    figures.data = current.data or figures.data
    figures.expected += len(counted) * current.clients
    for seen in current.received:
        figures.delivered += sum(1 for seq in counted if seq in seen)
        figures.latencies_ms.extend((seen[seq][1] - seen[seq][0]) * 1000 for seq in timed if seq in seen)


async def _websocket_case(dep: Deployment, session: Session, count: int, steps: int,
                          interval: float) -> WebsocketFigures:
    figures = WebsocketFigures()
    clients = await _connect(dep, session, count)
    try:
        await _run_operation(dep, session, clients, steps, interval, figures)
        dep.processes.check()
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
    return figures


@dataclass
class BaselineFigures:
    latencies_ms: list[float] = field(default_factory=list)
    delivered: int = 0
    expected: int = 0


def _layers(mode: str, redis_url: str | None) -> tuple[Any, Any]:
    """(receiving layer, sending layer) of the kind ``mode`` uses."""
    if mode == "embedded":
        from channels.layers import InMemoryChannelLayer

        layer = InMemoryChannelLayer()
        return layer, layer  # in-memory: the sender must share the receivers' layer
    from channels_redis.pubsub import RedisPubSubChannelLayer

    # Two instances, two connections: like a worker publishing to a web process's subscribers.
    return RedisPubSubChannelLayer(hosts=[redis_url]), RedisPubSubChannelLayer(hosts=[redis_url])


async def _baseline_case(mode: str, redis_url: str | None, count: int, sends: int, gap: float,
                         data: dict[str, Any]) -> BaselineFigures:
    receiving, sending = _layers(mode, redis_url)
    group = f"bench.fanout.{mode}.{count}.{time.monotonic_ns()}"
    figures = BaselineFigures(expected=sends * count)
    arrived = [0] * sends
    complete = [asyncio.Event() for _ in range(sends)]

    async def receiver(channel: str) -> None:
        while True:
            message = await receiving.receive(channel)
            figures.latencies_ms.append((time.time() - message["ts"]) * 1000)
            seq = message["seq"]
            arrived[seq] += 1
            if arrived[seq] == count:
                complete[seq].set()

    channels = [await receiving.new_channel() for _ in range(count)]
    for channel in channels:
        await receiving.group_add(group, channel)
    tasks = [asyncio.create_task(receiver(channel)) for channel in channels]
    try:
        await asyncio.sleep(0.2)  # let the pub/sub subscription settle before the first send
        for seq in range(sends):
            message = {"type": "realtime.event", "topic": "operation:bench", "seq": seq, "ts": time.time(),
                       "data": data}
            await sending.group_send(group, message)
            try:
                await asyncio.wait_for(complete[seq].wait(), timeout=5)
            except TimeoutError:
                pass  # counted as lost unless it turns up before the end
            await asyncio.sleep(gap)
        await asyncio.sleep(0.5)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if mode != "embedded":
            await receiving.flush()
            await sending.flush()
    figures.delivered = sum(arrived)
    return figures


def _rows(mode: str, count: int, ws: WebsocketFigures, base: BaselineFigures) -> list[Row]:
    extra = {"samples": len(ws.latencies_ms), "baseline_samples": len(base.latencies_ms),
             "discarded_events": ws.discarded_events, "duplicates": ws.duplicates,
             "subscribe_all_s": round(ws.subscribe_s, 3)}
    return [
        Row(mode=mode, case=f"N={count}", metric=f"p{pct}", unit="ms",
            value=percentile(ws.latencies_ms, pct), baseline=percentile(base.latencies_ms, pct),
            delivered=ws.delivered, expected=ws.expected,
            baseline_delivered=base.delivered, baseline_expected=base.expected,
            extra=extra if pct == 50 else {})
        for pct in (50, 99)
    ]


async def _measure(ctx: Context, dep: Deployment, session: Session, plan: Plan) -> list[Row]:
    await _websocket_case(dep, session, 1, steps=2, interval=0)  # warm-up, not scored
    rows: list[Row] = []
    for count, steps in plan.cases:
        started = time.monotonic()
        with collector_paused():
            ws = await _websocket_case(dep, session, count, steps, plan.interval)
        sends = max(20, ws.latency_events)
        with collector_paused():
            base = await _baseline_case(dep.mode, dep.redis_url, count, sends, plan.baseline_gap, ws.data)
        ctx.log(f"{dep.mode} N={count}: {ws.delivered}/{ws.expected} events delivered over websockets, "
                f"{base.delivered}/{base.expected} by group_send ({time.monotonic() - started:.0f} s)")
        rows.extend(_rows(dep.mode, count, ws, base))
    return rows


# -- wall screens ------------------------------------------------------------------------------------

def _environ(pid: int) -> dict[str, str]:
    raw = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def _rss_kib(pid: int) -> int:
    for line in open(f"/proc/{pid}/status").read().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _daphne_pids(dep: Deployment) -> list[int]:
    return [process.pid for name, process, _log in dep.processes.started if name.startswith("daphne")]


def _more_daphnes(dep: Deployment) -> list[int]:
    """Ports of as many daphne processes as the machine has cores (the deployment's own first)."""
    from devtools.services import free_port, wait_for_port

    first = _daphne_pids(dep)[0]
    env = _environ(first)
    ports = [dep.port]
    for i in range(1, os.cpu_count() or 1):
        port = free_port()
        dep.processes.start(f"daphne-{i}", [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                                            "unimanager.asgi:application"], env)
        wait_for_port(port, timeout=60)
        deadline = time.monotonic() + 60
        while Session(f"http://127.0.0.1:{port}").get_json("/healthz")[0] != 200:
            if time.monotonic() > deadline:
                raise DeploymentError(f"daphne on {port} did not answer /healthz")
            time.sleep(0.2)
        ports.append(port)
    return ports


def _wall_session(dep: Deployment, admin: Session) -> Session:
    """A wall screen's session: a display token for the demo's operations dashboard, signed in."""
    status, board = admin.get_json(f"/api/v1/dashboards/dashboards/{WALL_DASHBOARD}/")
    if status != 200:
        raise DeploymentError(f"the {WALL_DASHBOARD} dashboard is not there ({status}): was the demo seeded?")
    status, token = admin.post_json("/api/v1/security/display-tokens/", {
        "organization": board["organization"], "name": "bench wall", "dashboards": [WALL_DASHBOARD]})
    if status != 201:
        raise DeploymentError(f"creating the display token answered {status}: {token}")
    wall = Session(dep.base_url)
    wall._open("GET", "/screens/signin/")
    form = urllib.parse.urlencode({"token": token["token"], "csrfmiddlewaretoken": wall.cookie("csrftoken") or ""})
    wall._open("POST", "/screens/signin/", form.encode(), {"Content-Type": "application/x-www-form-urlencoded"})
    if not wall.cookie("sessionid"):
        raise DeploymentError("signing the wall screen in with its display token gave no session")
    return wall


CONNECT_ATTEMPTS = 3


async def _connect_spread(ports: Sequence[int], cookie: str, count: int) -> list[Client]:
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one(index: int) -> Client:
        port = ports[index % len(ports)]
        async with limit:
            # A handshake the loaded server drops is tried again (a screen reconnects too); a
            # connection that fails every attempt still fails the case.
            for attempt in range(1, CONNECT_ATTEMPTS + 1):
                try:
                    ws = await connect(f"ws://127.0.0.1:{port}/ws/", origin=f"http://127.0.0.1:{port}",  # type: ignore[arg-type]
                                       additional_headers={"Cookie": cookie}, ping_interval=None, open_timeout=60,
                                       close_timeout=5, max_queue=None)
                    return Client(index, ws)
                except (OSError, TimeoutError, InvalidHandshake):
                    if attempt == CONNECT_ATTEMPTS:
                        raise
                    await asyncio.sleep(0.5 * attempt)
        raise AssertionError("unreachable")

    results = await asyncio.gather(*(one(i) for i in range(count)), return_exceptions=True)
    clients = [r for r in results if isinstance(r, Client)]
    failures = [r for r in results if not isinstance(r, Client)]
    if failures:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
        raise DeploymentError(f"{len(failures)} of {count} wall-screen connections failed: {failures[0]!r}")
    return clients


@dataclass
class WallFigures(WebsocketFigures):
    rss_per_connection_kib: float = 0.0
    daphnes: int = 0
    held_events: int = 0  # notices that waited for a coalescing window: delivered and counted, not timed
    last_client_ms: list[float] = field(default_factory=list)  # per notice: the change to its last client
    server_ms: list[float] = field(default_factory=list)  # per notice: the change to the server's send
    before_dashboards_ms: list[float] = field(default_factory=list)  # per notice: the change to its look-up
    unmatched: int = 0  # notices whose step event was not found: timed from their own changed_at


async def _wall_case(dep: Deployment, admin: Session, wall: Session, ports: Sequence[int], count: int,
                     steps: int) -> WallFigures:
    figures = WallFigures(daphnes=len(ports))
    pids = _daphne_pids(dep)
    rss_before = sum(_rss_kib(pid) for pid in pids)
    clients = await _connect_spread(ports, wall.cookie_header, count)
    try:
        topic = f"screen:{WALL_DASHBOARD}"
        current = Round.for_topic(topic, count)
        asked_at = time.time()
        await asyncio.gather(*(c.subscribe(current) for c in clients))
        await asyncio.wait_for(current.all_acked.wait(), timeout=120)
        if current.errors:
            raise DeploymentError(f"subscribing to {topic} was refused: {current.errors[0]}")
        ready_at = max(t for t in current.acked_at if t is not None)
        figures.subscribe_s = ready_at - asked_at
        figures.rss_per_connection_kib = (sum(_rss_kib(pid) for pid in pids) - rss_before) / count
        status, body = await asyncio.to_thread(admin.post_json, "/api/v1/core/operations/diagnostics/",
                                               {"steps": steps, "interval": WALL_INTERVAL})
        if status != 202:
            raise DeploymentError(f"starting the diagnostic answered {status}: {body}")
        # The last change is announced at most one coalescing window after the operation ends.
        await asyncio.sleep(steps * WALL_INTERVAL + 4)
        emitted = await _notices(ports[0], wall.cookie_header, topic)
        counted = sorted(seq for seq, (stamp, _ts, event, _held) in emitted.items()
                         if stamp >= ready_at and event == "values")
        # A notice held for the end of a coalescing window (the diagnostic's last step and its
        # "succeeded" come back to back) waits for it on purpose: delivered and counted, not timed.
        timed = [seq for seq in counted if not emitted[seq][3]]
        figures.held_events = len(counted) - len(timed)
        figures.discarded_events = len(emitted) - len(counted)
        figures.latency_events = len(timed)
        figures.duplicates = current.duplicates
        figures.expected = len(counted) * count
        # The data change is the diagnostic step's commit: its operation event is stamped right after
        # it (``ts`` in ``emit``), before the other apps' subscribers (the audit entry ...) and then
        # dashboards' run. Each notice is timed from the step event it reports.
        steps_emitted = sorted(ts for ts, _status in (await _emitted(dep, admin, f"operation:{body['id']}")).values())
        origin: dict[int, float] = {}
        for seq in timed:
            stamp = emitted[seq][0]
            before = [t for t in steps_emitted if stamp - 1.0 < t <= stamp]
            origin[seq] = before[-1] if before else stamp
            figures.unmatched += not before
            figures.before_dashboards_ms.append((stamp - origin[seq]) * 1000)
        for seen in current.received:
            figures.delivered += sum(1 for seq in counted if seq in seen)
            figures.latencies_ms.extend((seen[seq][1] - origin[seq]) * 1000 for seq in timed if seq in seen)
        for seq in timed:
            figures.server_ms.append((emitted[seq][1] - origin[seq]) * 1000)
            arrivals = [seen[seq][1] for seen in current.received if seq in seen]
            if len(arrivals) == count:  # a notice some client missed has no last client (counted as lost)
                figures.last_client_ms.append((max(arrivals) - origin[seq]) * 1000)
        figures.data = current.data
        dep.processes.check()
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
    return figures


async def _notices(port: int, cookie: str, topic: str) -> dict[int, tuple[float, float, str, bool]]:
    """seq -> (change time, send time, event, held) of every notice of ``topic`` in the replay buffer."""
    (auditor,) = await _connect_spread([port], cookie, 1)
    try:
        replay = Round.for_topic(topic, 1)
        await auditor.subscribe(replay, after=0)
        await asyncio.sleep(2)
    finally:
        await auditor.close()
    if replay.errors:
        raise DeploymentError(f"replaying {topic} failed: {replay.errors[0]}")
    return {seq: (stamp, replay.sent[seq], replay.events.get(seq, ""), replay.held.get(seq, False))
            for seq, (stamp, _received, _status) in replay.received[0].items()}


async def _raw_connections_case(redis_url: str, count: int, sends: int, gap: float,
                                data: dict[str, Any]) -> BaselineFigures:
    """Raw Redis pub/sub to N subscriber connections (one each, as N screens would hold), all read by
    this process and each message decoded from JSON as a screen decodes its frame: what delivering
    one publish to N sockets costs without the application. Reported beside the layer baseline."""
    import redis.asyncio as aioredis

    channel = f"bench.fanout.raw.{count}.{time.monotonic_ns()}"
    figures = BaselineFigures(expected=sends * count)
    arrived = [0] * sends
    complete = [asyncio.Event() for _ in range(sends)]
    publisher = aioredis.Redis.from_url(redis_url)
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def subscribed() -> Any:
        async with limit:
            pubsub = aioredis.Redis.from_url(redis_url).pubsub(ignore_subscribe_messages=True)
            await pubsub.subscribe(channel)
            return pubsub

    subscribers = await asyncio.gather(*(subscribed() for _ in range(count)))

    async def receiver(pubsub: Any) -> None:
        async for message in pubsub.listen():
            if message is None or message.get("type") != "message":
                continue
            received_at = time.time()
            decoded = json.loads(message["data"])
            figures.latencies_ms.append((received_at - decoded["ts"]) * 1000)
            seq = decoded["seq"]
            arrived[seq] += 1
            if arrived[seq] == count:
                complete[seq].set()

    tasks = [asyncio.create_task(receiver(p)) for p in subscribers]
    try:
        await asyncio.sleep(0.2)
        for seq in range(sends):
            await publisher.publish(channel, json.dumps({"type": "event", "topic": "screen:bench", "seq": seq,
                                                         "ts": time.time(), "data": data}))
            try:
                await asyncio.wait_for(complete[seq].wait(), timeout=5)
            except TimeoutError:
                pass  # counted as lost unless it turns up before the end
            await asyncio.sleep(gap)
        await asyncio.sleep(0.5)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(p.aclose() for p in subscribers), return_exceptions=True)
        await publisher.aclose()
    figures.delivered = sum(arrived)
    return figures


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


async def _measure_walls(ctx: Context, dep: Deployment, admin: Session, cases: Sequence[tuple[int, int]],
                         gap: float) -> list[Row]:
    ports = await asyncio.to_thread(_more_daphnes, dep)
    wall = await asyncio.to_thread(_wall_session, dep, admin)
    rows: list[Row] = []
    for count, steps in cases:
        started = time.monotonic()
        with collector_paused():
            ws = await _wall_case(dep, admin, wall, ports, count, steps)
        sends = max(20, ws.latency_events)
        with collector_paused():
            base = await _baseline_case(dep.mode, dep.redis_url, count, sends, gap, ws.data)
        with collector_paused():
            raw = await _raw_connections_case(dep.redis_url or "", count, sends, gap, ws.data)
        ctx.log(f"wall screens N={count} over {len(ports)} daphne processes: {ws.delivered}/{ws.expected} value "
                f"notices delivered, {base.delivered}/{base.expected} by group_send, {raw.delivered}/{raw.expected} "
                f"over {count} raw pub/sub connections, {ws.rss_per_connection_kib:.0f} KiB per connection "
                f"({time.monotonic() - started:.0f} s)")
        for row in _rows(dep.mode, count, ws, base):
            row.case = f"wall N={count}"
            if row.extra:
                row.extra.update(
                    rss_per_connection_kib=round(ws.rss_per_connection_kib, 1), daphne_processes=ws.daphnes,
                    layout="one port per daphne, clients round-robin",
                    measured_from="the diagnostic step's commit (its operation event's ts) to a client's receipt "
                                  "of the values computed once for the screens' organization",
                    payload_bytes=len(json.dumps(ws.data)), held_notices=ws.held_events,
                    last_client_p50_ms=_ms(percentile(ws.last_client_ms, 50)),
                    last_client_p99_ms=_ms(percentile(ws.last_client_ms, 99)),
                    server_p50_ms=_ms(percentile(ws.server_ms, 50)),
                    server_p99_ms=_ms(percentile(ws.server_ms, 99)),
                    before_dashboards_p50_ms=_ms(percentile(ws.before_dashboards_ms, 50)),
                    unmatched_notices=ws.unmatched,
                    raw_connections_p50_ms=_ms(percentile(raw.latencies_ms, 50)),
                    raw_connections_p99_ms=_ms(percentile(raw.latencies_ms, 99)),
                    raw_connections_delivered=raw.delivered, raw_connections_expected=raw.expected)
            rows.append(row)
        # The same figures beside raw Redis pub/sub over N subscriber connections: the layer baseline
        # above reads one subscription and hands the message to N queues in one process, this one
        # pays, like the screens, one socket per client read by this process.
        for pct in (50, 99):
            rows.append(Row(mode=dep.mode, case=f"wall N={count} / N sockets", metric=f"p{pct}", unit="ms",
                            value=percentile(ws.latencies_ms, pct), baseline=percentile(raw.latencies_ms, pct),
                            delivered=ws.delivered, expected=ws.expected, baseline_delivered=raw.delivered,
                            baseline_expected=raw.expected))
    return rows


def run(ctx: Context) -> list[Row]:
    plan = QUICK if ctx.quick else FULL
    ctx.parameters.update(cases=[{"clients": n, "steps": steps} for n, steps in plan.cases],
                          step_interval_s=plan.interval, baseline_gap_s=plan.baseline_gap)
    rows: list[Row] = []
    for mode in ctx.modes:
        ctx.log(f"starting the {mode} deployment")
        started = time.monotonic()
        with deployment(mode) as dep:
            session = dep.sign_in()
            ctx.log(f"{mode} deployment serving on {dep.base_url} ({time.monotonic() - started:.0f} s)")
            rows.extend(asyncio.run(_measure(ctx, dep, session, plan)))
            if mode == "distributed":
                walls = WALL_QUICK if ctx.quick else WALL_FULL
                ctx.parameters.update(wall_cases=[{"clients": n, "steps": steps} for n, steps in walls],
                                      wall_step_interval_s=WALL_INTERVAL, wall_dashboard=WALL_DASHBOARD)
                rows.extend(asyncio.run(_measure_walls(ctx, dep, session, walls, plan.baseline_gap)))
    return rows
