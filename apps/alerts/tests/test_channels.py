"""The webhook transport: a plain ``http://`` receiver gets the signed body on a connection this
process kept or opened before (``warm``), made again once when the receiver closed it meanwhile; a
request can be begun on such a connection without waiting (``begin``) and finished by another thread;
errors are delivery failures with the receiver's code; TLS and a configured proxy go through httpx."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apps.alerts import channels
from apps.alerts.channels import DeliveryFailed, Message, verify_signature


class _KeepAlive:
    """An HTTP/1.1 receiver that keeps connections open; records (connection port, path, body, signature)."""

    def __init__(self, status: int = 200, answer: bytes = b'{"ok": true}', hold: threading.Event | None = None):
        self.received: list[tuple[int, str, bytes, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - the http.server interface
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.received.append((self.client_address[1], self.path, body,
                                       self.headers.get(channels.SIGNATURE_HEADER, "")))
                if hold is not None:  # answer only once the test lets it
                    hold.wait(10)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = _KeepAlive()
    yield r
    r.stop()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _no_kept_connections():
    """Each test starts without the connections earlier ones kept (a port of theirs may be reused)."""
    channels._kept.clear()
    yield
    channels._kept.clear()


def _kept(url: str) -> list:
    parts = urllib.parse.urlsplit(url)
    return list(channels._kept._idle.get((parts.hostname, parts.port), []))


def _send(url: str, n: int = 0) -> int | None:
    return channels.send("webhook", {"url": url}, {"secret": "s"}, Message("subject", "body", {"n": n}))


def test_a_plain_http_receiver_gets_signed_posts_on_one_kept_connection(receiver):
    assert _send(receiver.url + "/hook?x=1", 1) == 200
    assert _send(receiver.url + "/hook?x=1", 2) == 200
    (port1, path, body, signature), (port2, _, body2, _) = receiver.received
    assert path == "/hook?x=1" and json.loads(body) == {"n": 1} and json.loads(body2) == {"n": 2}
    assert verify_signature("s", signature, body)
    assert port1 == port2  # the same connection


def test_a_kept_connection_the_receiver_closed_is_made_again_once(receiver):
    assert _send(receiver.url, 1) == 200
    for conn in _kept(receiver.url):  # the receiver drops it while idle
        conn.sock.shutdown(socket.SHUT_RDWR)
    assert _send(receiver.url, 2) == 200
    assert [json.loads(body)["n"] for _, _, body, _ in receiver.received] == [1, 2]


def test_written_is_told_once_the_receiver_has_the_request_before_its_answer():
    hold, written = threading.Event(), threading.Event()
    slow = _KeepAlive(hold=hold)
    codes: list[int | None] = []
    try:
        sending = threading.Thread(target=lambda: codes.append(channels.send(
            "webhook", {"url": slow.url + "/hook"}, {"secret": "s"}, Message("s", "b", {"n": 1}),
            written=written.set)))
        sending.start()
        assert written.wait(5)
        assert codes == []  # still waiting for the answer, which the receiver holds
        hold.set()
        sending.join(5)
        assert codes == [200]
        assert [json.loads(body) for _, _, body, _ in slow.received] == [{"n": 1}]
    finally:
        hold.set()
        slow.stop()


def test_an_error_answer_and_a_dead_receiver_are_delivery_failures():
    failing = _KeepAlive(status=503, answer=b"busy")
    try:
        with pytest.raises(DeliveryFailed) as refused:
            _send(failing.url)
        assert refused.value.code == 503 and "busy" in str(refused.value)
    finally:
        failing.stop()
    errcode = _KeepAlive(answer=b'{"errcode": 310000, "errmsg": "keywords not in content"}')
    try:
        with pytest.raises(DeliveryFailed, match="errcode 310000"):
            _send(errcode.url)
    finally:
        errcode.stop()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with pytest.raises(DeliveryFailed) as lost:
        _send(dead)
    assert lost.value.code is None


def test_tls_and_a_configured_proxy_go_through_httpx(receiver, monkeypatch):
    assert channels._direct(receiver.url) is not None
    assert channels._direct("https://hooks.example.com/x") is None
    assert channels._direct("http://user:pw@127.0.0.1/x") is None
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    assert channels._direct(receiver.url) is not None  # the environment is read once per process
    channels._proxied.cache_clear()
    try:
        assert channels._direct(receiver.url) is None
    finally:
        monkeypatch.undo()
        channels._proxied.cache_clear()
    assert channels._direct(receiver.url) is not None


def _post(url: str, n: int) -> channels.Post:
    post = channels.prepare("webhook", {"url": url}, {"secret": "s"}, Message("subject", "body", {"n": n}))
    assert post is not None
    return post


def test_a_request_begun_on_a_kept_connection_is_finished_by_the_sender(receiver):
    assert _send(receiver.url + "/hook", 1) == 200
    (kept,) = _kept(receiver.url)
    begun = channels.begin(_post(receiver.url + "/hook", 2))
    assert begun is not None and begun.whole and begun.conn is kept
    assert _kept(receiver.url) == []  # taken: no other thread writes on it meanwhile
    told: list[bool] = []
    assert channels.send("webhook", {}, {}, Message("", "", {}), begun=begun, written=lambda: told.append(True)) == 200
    assert told == [True]
    (port1, _, _, _), (port2, path, body, signature) = receiver.received
    assert port1 == port2 and path == "/hook" and json.loads(body) == {"n": 2}
    assert verify_signature("s", signature, body)
    assert _kept(receiver.url) == [kept]  # given back once its answer was read


def test_nothing_is_begun_without_a_kept_connection(receiver):
    assert channels.begin(_post(receiver.url, 1)) is None
    assert receiver.received == []


def test_a_warmed_connection_carries_the_next_request(receiver):
    channels.warm("webhook", {"url": receiver.url + "/hook"})
    (opened,) = _kept(receiver.url)
    channels.warm("webhook", {"url": receiver.url + "/other"})  # one is open already
    assert _kept(receiver.url) == [opened]
    deadline = time.monotonic() + 5
    while not opened.ready(0) and time.monotonic() < deadline:
        time.sleep(0.01)
    begun = channels.begin(_post(receiver.url + "/hook", 1))
    assert begun is not None and begun.whole and begun.conn is opened
    assert channels.send("webhook", {}, {}, Message("", "", {}), begun=begun) == 200
    assert [json.loads(body) for _, _, body, _ in receiver.received] == [{"n": 1}]
    assert receiver.received[0][0] == opened.sock.getsockname()[1]


def test_a_connection_still_opening_is_finished_by_the_sender(receiver, monkeypatch):
    channels.warm("webhook", {"url": receiver.url})
    (opened,) = _kept(receiver.url)
    monkeypatch.setattr(opened, "ready", lambda wait, ready=opened.ready: wait > 0 and ready(wait))
    begun = channels.begin(_post(receiver.url, 1))  # not connected yet: nothing written
    assert begun is not None and begun.written == 0 and not begun.whole
    assert channels.send("webhook", {}, {}, Message("", "", {}), begun=begun) == 200
    assert [json.loads(body) for _, _, body, _ in receiver.received] == [{"n": 1}]


def test_a_warmed_connection_to_a_dead_receiver_fails_its_try_at_once():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    channels.warm("webhook", {"url": dead})
    began = time.monotonic()
    begun = channels.begin(_post(dead, 1))
    if begun is not None:  # the refusal was not in yet when it was begun
        with pytest.raises(DeliveryFailed, match="ConnectionRefused"):
            channels.send("webhook", {}, {}, Message("", "", {}), begun=begun)
    with pytest.raises(DeliveryFailed, match="ConnectionRefused"):
        _send(dead)
    assert time.monotonic() - began < channels.TIMEOUT


def test_a_receiver_that_does_not_read_never_holds_the_thread_that_begins():
    """``begin`` writes what the socket takes at once: a receiver that accepted but stopped reading costs it nothing."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        url = f"http://127.0.0.1:{listening.getsockname()[1]}/hook"
        channels.warm("webhook", {"url": url})
        (opened,) = _kept(url)
        assert opened.ready(5)
        big = channels.prepare("webhook", {"url": url}, {}, Message("", "", {"blob": "x" * 20_000_000}))
        began = time.monotonic()
        begun = channels.begin(big)
        assert time.monotonic() - began < 1.0
        assert begun is not None and 0 < begun.written < len(big.data)
        begun.conn.close()


def test_a_name_is_warmed_only_once_a_connection_resolved_it(receiver):
    """The thread that warms must not wait for a lookup: a name no connection of this process resolved lately
    is left to the sender."""
    by_name = receiver.url.replace("127.0.0.1", "localhost")
    channels._resolved.clear()
    channels.warm("webhook", {"url": by_name})
    assert _kept(by_name) == []
    assert _send(by_name, 1) == 200  # resolved and kept
    channels._kept.clear()
    channels.warm("webhook", {"url": by_name})
    assert len(_kept(by_name)) == 1
    channels._resolved.clear()


def test_an_address_no_request_can_carry_is_refused_by_name():
    assert channels.prepare("webhook", {"url": "http://127.0.0.1:9/a b"}, {}, Message("", "", {})) is None
    with pytest.raises(DeliveryFailed, match="character"):
        _send("http://127.0.0.1:9/a\x01b")


def test_a_receiver_url_with_a_port_out_of_range_fails_its_try_and_is_never_warmed():
    """Such a URL saved before contact points were checked: the dispatch that warms it goes on, and its try fails by
    name."""
    channels.warm("webhook", {"url": "http://127.0.0.1:99999/hook"})
    assert channels._kept._idle == {}
    assert channels.prepare("webhook", {"url": "http://127.0.0.1:99999/hook"}, {}, Message("", "", {})) is None
    with pytest.raises(DeliveryFailed, match="port"):
        _send("http://127.0.0.1:99999/hook")
