"""The ingestion endpoints' lane through the ASGI server: a signed Alertmanager body is served by
Django's own handler (middleware, AccessKey check, view, errors) on a lane thread that keeps its
database connection; everything else, and ingestion while every lane thread is busy, takes the
wrapped application; one ingestion costs a fixed number of statements."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from apps.alerts import services
from apps.alerts.api import lane as lane_module
from apps.alerts.api.lane import IngestionLane
from apps.alerts.models import Alert, AlertHistory, Delivery
from apps.alerts.tests.conftest import senders_idle
from apps.alerts.tests.receivers import HttpReceiver
from apps.security.client import sign
from apps.security.services import access_key_create
from tests.fixtures import run_coroutine

pytestmark = pytest.mark.django_db(transaction=True)
PATH = "/api/v1/alerts/ingest/v2/alerts"


class _Inner:
    """The wrapped application: records what reached it and answers 204."""

    def __init__(self):
        self.paths: list[str] = []

    async def __call__(self, scope, receive, send):
        self.paths.append(scope["path"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def _call(app, path: str, body: bytes, headers: dict[str, str], method: str = "POST") -> tuple[int, bytes]:
    headers = {"Host": "testserver", "Content-Length": str(len(body)),
               **{k: v for k, v in headers.items() if k.lower() != "host"}}
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
             "client": ("127.0.0.1", 40000), "server": ("testserver", 80)}
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict] = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    run_coroutine(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def _signed(key, secret, alerts, path: str = PATH) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(alerts).encode()
    headers = {"Content-Type": "application/json"}
    headers.update(sign("POST", "http://testserver" + path, access_key_id=key.id, secret=secret, body=raw,
                        headers=headers))
    return raw, headers


def _firing(name: str) -> list[dict]:
    return [{"labels": {"alertname": "probe", "probe": name, "severity": "critical"}}]


def test_a_signed_body_is_served_on_a_lane_thread_and_other_requests_go_through(world):
    a = world["a"]
    key, secret = access_key_create(actor=a["user"])
    inner = _Inner()
    lane = IngestionLane(inner)
    served_by: list[str] = []
    receive = services.external_alerts_receive

    def recorded(**kwargs):
        served_by.append(threading.current_thread().name)
        return receive(**kwargs)

    services.external_alerts_receive = recorded
    try:
        for n in range(2):
            status, body = _call(lane, PATH, *_signed(key, secret, _firing(f"p{n}")))
            assert status == 200, body
            assert json.loads(body) == {"received": 1, "firing": 1, "resolved": 0}
        assert _call(lane, "/healthz", b"", {}, method="GET")[0] == 204
        assert _call(lane, "/api/v1/alerts/rules/", b"{}", {"Content-Type": "application/json"})[0] == 204
    finally:
        services.external_alerts_receive = receive
    assert inner.paths == ["/healthz", "/api/v1/alerts/rules/"]
    assert served_by and all(name.startswith("alert-ingest") for name in served_by)
    assert Alert.objects.filter(organization=a["org"], state="firing").count() == 2


def test_the_lane_answers_refusals_and_bad_bodies_as_the_api_does(world):
    a = world["a"]
    key, secret = access_key_create(actor=a["user"])
    lane = IngestionLane(_Inner())
    raw, headers = _signed(key, secret, [{"labels": {}}])
    status, body = _call(lane, PATH, raw, headers)
    assert status == 400 and "alerts[0].labels" in json.loads(body)["detail"]
    status, body = _call(lane, PATH, raw, headers)
    assert status == 401 and json.loads(body)["code"] == "nonce_reused"
    status, body = _call(lane, PATH, b"[]", {"Content-Type": "application/json"})
    assert status == 401 and json.loads(body)["code"] == "not_authenticated"
    assert not Alert.objects.exists()


def test_ingestion_takes_the_usual_path_while_every_lane_thread_is_busy(world):
    a = world["a"]
    key, secret = access_key_create(actor=a["user"])
    inner = _Inner()
    lane = IngestionLane(inner, threads=1)
    assert lane._idle.acquire(blocking=False)  # the one lane thread is serving a long batch
    try:
        assert _call(lane, PATH, *_signed(key, secret, _firing("busy")))[0] == 204
    finally:
        lane._idle.release()
    assert inner.paths == [PATH]
    assert _call(lane, PATH, *_signed(key, secret, _firing("free")))[0] == 200
    assert inner.paths == [PATH]


def test_a_lane_threads_broken_connection_is_closed_before_it_serves_and_a_good_one_kept(world, monkeypatch):
    a = world["a"]
    key, secret = access_key_create(actor=a["user"])
    lane = IngestionLane(_Inner(), threads=1)
    assert _call(lane, PATH, *_signed(key, secret, _firing("one")))[0] == 200
    closed: list[bool] = []

    def watch(broken: bool) -> None:  # on the lane thread: its own connection
        wrapper = connections["default"]
        close = type(wrapper).close
        wrapper.close = lambda: (closed.append(broken), close(wrapper))[1]
        wrapper.errors_occurred = broken

    lane._pool().submit(watch, True).result()
    assert _call(lane, PATH, *_signed(key, secret, _firing("two")))[0] == 200
    assert closed == [True]
    assert lane._pool().submit(lambda: connection.errors_occurred).result() is False
    monkeypatch.setattr(lane_module, "CHECK_IDLE_SECONDS", 0.0)  # an idle one is checked: a good one is kept
    lane._pool().submit(watch, False).result()
    assert _call(lane, PATH, *_signed(key, secret, _firing("three")))[0] == 200
    assert closed == [True]
    assert Alert.objects.filter(state="firing").count() == 3


def _senders_idle(timeout: float = 10.0) -> None:
    """Wait until no sender thread holds a try. The lists are told once a try's request is written, so a
    burst's threads may still await their answers and record them when the next alert comes; its first try
    would then go to Celery, which this tier does not run."""
    assert senders_idle(timeout)


def test_one_received_alert_costs_a_fixed_number_of_statements_until_commit(world):
    """To the commit that hands the notification over: the alert (insert, read), the version of the
    organization's notification settings, its group's members, the group (read, insert), the
    notification, the history, the badges' new counts, and nothing per other alert, route or group of
    the organization (on PostgreSQL they go in two round trips:
    tests/integration/test_alerts_ingest_round_trips.py)."""
    a = world["a"]
    receiver = HttpReceiver(secret="s")
    try:
        hook = services.contact_point_create(actor=a["user"], organization=a["org"], name="hook", kind="webhook",
                                             config={"url": receiver.url + "/hook"}, secrets={"secret": "s"})
        services.route_create(actor=a["user"], organization=a["org"], name="by probe", contact_points=[hook],
                              group_by=["probe"], group_wait_seconds=0)
        counts = []
        for n in range(3):
            if n == 2:
                services.external_alerts_receive(actor=a["user"], organization=a["org"], alerts=[
                    {"labels": {"alertname": "probe", "probe": f"other-{m}"}} for m in range(20)])
                _senders_idle()
            with CaptureQueriesContext(connection) as queries:
                services.external_alerts_receive(actor=a["user"], organization=a["org"], alerts=_firing(f"p{n}"))
            statements = [q["sql"].split(" ", 1)[0].upper() for q in queries.captured_queries]
            # Up to the commit (what follows it is the announcement's subscribers: audit log, dashboards).
            upto = statements.index("COMMIT") if "COMMIT" in statements else len(statements)
            counts.append(sum(1 for word in statements[:upto] if word not in {"BEGIN", "SAVEPOINT", "RELEASE"}))
            assert receiver.wait_for(lambda rs, n=n: any(x["body"]["groupLabels"].get("probe") == f"p{n}"
                                                         for x in rs), 10)
            # The sender thread writes the try's outcome after the receiver had it: on the tests' in-memory
            # database a write beside it fails at once ("database table is locked"), so the next one waits.
            _senders_idle()
    finally:
        receiver.stop()
    # The first receive of the process may read the organization's notification settings.
    assert counts[1] == counts[2] <= 9, counts
    assert Delivery.objects.filter(organization=a["org"]).count() == 3 + 20
    assert AlertHistory.objects.filter(alert__organization=a["org"], kind="notify").count() == 23


def test_the_response_is_closed_after_sending_and_request_finished_keeps_a_good_connection(world):
    """As Django's handler: after the answer is sent, the response's closers and ``request_finished``
    run (on a lane thread); the lane thread's good connection survives them and serves again."""
    from django.core.signals import request_finished

    a = world["a"]
    key, secret = access_key_create(actor=a["user"])
    lane = IngestionLane(_Inner(), threads=1)
    finished: list[str] = []

    def on_finished(**kwargs):
        finished.append(threading.current_thread().name)

    request_finished.connect(on_finished)
    try:
        assert _call(lane, PATH, *_signed(key, secret, _firing("one")))[0] == 200
        kept = lane._pool().submit(lambda: connections["default"].connection).result()
        assert kept is not None
        assert _call(lane, PATH, *_signed(key, secret, _firing("two")))[0] == 200
        assert lane._pool().submit(lambda: connections["default"].connection).result() is kept
        # A refusal is closed too.
        assert _call(lane, PATH, b"[]", {"Content-Type": "application/json"})[0] == 401
    finally:
        request_finished.disconnect(on_finished)
    assert len(finished) == 3 and all(name.startswith("alert-ingest") for name in finished)


def test_a_kept_connection_is_not_health_checked_again_before_each_ingestion(world):
    """``request_finished`` would ask for ``CONN_HEALTH_CHECKS``'s check (a ``SELECT 1`` on PostgreSQL)
    before the next request; the lane checks its connections itself, so a kept one is marked checked
    and one closed for an error is not."""
    a = world["a"]
    key, secret = access_key_create(actor=a["user"])
    lane = IngestionLane(_Inner(), threads=1)

    def health_checked() -> bool | None:
        wrapper = connections["default"]
        wrapper.health_check_enabled = True  # as with CONN_HEALTH_CHECKS on PostgreSQL
        return wrapper.health_check_done if wrapper.connection is not None else None

    assert _call(lane, PATH, *_signed(key, secret, _firing("one")))[0] == 200
    lane._pool().submit(health_checked).result()
    assert _call(lane, PATH, *_signed(key, secret, _firing("two")))[0] == 200
    assert lane._pool().submit(health_checked).result() is True
    assert lane._pool().submit(lambda: connections["default"].close_at).result() is None


def test_a_connection_left_outside_autocommit_is_closed_with_the_response_and_a_good_one_kept(world):
    from django.http import HttpResponse

    a = world["a"]
    key, secret = access_key_create(actor=a["user"])
    lane = IngestionLane(_Inner(), threads=1)
    assert _call(lane, PATH, *_signed(key, secret, _firing("one")))[0] == 200
    closed: list[bool] = []

    def watch(left_open: bool) -> None:  # on the lane thread: its own connection
        wrapper = connections["default"]
        close = type(wrapper).close
        wrapper.close = lambda: (closed.append(left_open), close(wrapper))[1]
        if left_open:  # as a view returning outside autocommit would leave it
            wrapper.set_autocommit(False)

    lane._pool().submit(watch, False).result()
    lane._pool().submit(lane._close, HttpResponse()).result()
    assert closed == []
    lane._pool().submit(watch, True).result()
    lane._pool().submit(lane._close, HttpResponse()).result()
    assert closed == [True]
    lane._pool().submit(lambda: connections["default"].set_autocommit(True)).result()  # the in-memory test database
    assert _call(lane, PATH, *_signed(key, secret, _firing("two")))[0] == 200
