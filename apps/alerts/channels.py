"""How a notification reaches each kind of contact point: the wire format and the transport.

Webhooks get JSON. The generic webhook is signed: ``X-Unimanager-Signature: t=<unix time>,v1=<hex>``
where ``<hex>`` is HMAC-SHA256 of ``"<t>.<body>"`` under the contact point's secret, so a receiver
checks the sender and refuses replays older than its tolerance (``verify_signature``). The
collaborative tools get their own robot formats (DingTalk and Feishu sign with their own schemes
when a secret is set). Email goes over SMTP. Every call has a short timeout: a dead receiver costs
its own delivery a few seconds and never holds the others. A plain HTTP receiver's connection can be
opened ahead (``warm``, while the notification's transaction is written) and its request begun on it
without waiting (``begin``, by the thread that commits it); whoever sends it then reads the answer.
"""

from __future__ import annotations

import base64
import errno
import functools
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import os
import select
import smtplib
import socket
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import httpx

logger = logging.getLogger(__name__)

TIMEOUT = 5.0
SIGNATURE_HEADER = "X-Unimanager-Signature"


class DeliveryFailed(Exception):
    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


@dataclass
class Message:
    subject: str
    body: str
    payload: dict[str, Any]


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={digest}"


def verify_signature(secret: str, header: str, body: bytes, *, tolerance: int = 300, now: float | None = None) -> bool:
    """What a receiver does: the signature is ours and not older than ``tolerance`` seconds."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        ts = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((now if now is not None else time.time()) - ts) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, body, ts), header)


def robot_body(kind: str, message: Message) -> dict[str, Any]:
    text = f"{message.subject}\n\n{message.body}"
    if kind == "dingtalk":
        return {"msgtype": "markdown", "markdown": {"title": message.subject, "text": f"### {message.subject}\n\n"
                                                                                      f"{message.body}"}}
    if kind == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": f"**{message.subject}**\n{message.body}"}}
    if kind == "feishu":
        return {"msg_type": "text", "content": {"text": text}}
    if kind == "slack":
        return {"text": f"*{message.subject}*\n{message.body}"}
    if kind == "teams":
        return {"@type": "MessageCard", "@context": "https://schema.org/extensions", "summary": message.subject,
                "title": message.subject, "text": message.body.replace("\n", "  \n")}
    return message.payload


_client: httpx.Client | None = None


def _http() -> httpx.Client:
    """One client per process: building one (its TLS context) costs tens of milliseconds per send."""
    global _client
    if _client is None:
        _client = httpx.Client(timeout=TIMEOUT)
    return _client


# A plain ``http://`` receiver, when no proxy is configured, is posted to with the standard library's
# HTTP parser on connections this process keeps (``KEPT_PER_RECEIVER`` per receiver, shared by the
# sending threads): measured here, 0.17 ms of CPU per POST against httpx's 0.56, on the path of every
# notification. TLS and proxies (``HTTP_PROXY``...) keep httpx.
KEPT_PER_RECEIVER = 4
KEPT_RECEIVERS = 64


@functools.cache
def _proxied() -> bool:
    """Whether the environment names proxies, read once per process as an HTTP client reads it when it is
    made (reading the environment took 0.05 ms of every try)."""
    return bool(urllib.request.getproxies_environment())


def _direct(url: str) -> urllib.parse.SplitResult | None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or parts.username or parts.password:
        return None
    if _proxied():
        return None
    return parts


def _address(parts: urllib.parse.SplitResult) -> tuple[str, int] | None:
    """The receiver's (host, port); None when its port is not a port number."""
    try:
        return parts.hostname or "", parts.port or 80
    except ValueError:
        return None


class _Answer:
    def __init__(self, status_code: int, text: str):
        self.status_code, self.text = status_code, text

    def json(self) -> Any:
        return json.loads(self.text)


@dataclass(frozen=True)
class Post:
    """A POST to a plain HTTP receiver, ready to write: the receiver's address and the request's bytes."""
    address: tuple[str, int]
    data: bytes


def _post_bytes(parts: urllib.parse.SplitResult, body: bytes, headers: dict[str, str]) -> Post | None:
    """The HTTP/1.1 request, as bytes; None when the port is not a port number, or the target, the host or
    a header has a character a request line or header cannot carry (a space, a control character, not ASCII)."""
    address = _address(parts)
    if address is None:
        return None
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = parts.netloc.rsplit("@", 1)[-1]
    fields = {"Host": host, "Accept-Encoding": "identity", **headers, "Content-Length": str(len(body))}
    text = f"POST {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n"
    if not text.isascii() or any(c in _UNSAFE for c in target + host + "".join(k + v for k, v in headers.items())):
        return None
    return Post(address, text.encode("ascii") + body)


_UNSAFE = frozenset(chr(c) for c in (*range(0x21), 0x7F))


class _Kept:
    """A connection to a plain HTTP receiver, kept between requests (with ``TCP_NODELAY``, as
    ``http.client`` makes its own). One made with ``opening`` may still be connecting: ``ready`` says."""

    def __init__(self, sock: socket.socket, opening: bool = False):
        self.sock, self.opening = sock, opening
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    @classmethod
    def connect(cls, address: tuple[str, int]) -> _Kept:
        sock = socket.create_connection(address, TIMEOUT)
        if len(_resolved) >= KEPT_RECEIVERS and address not in _resolved:
            _resolved.clear()
        _resolved[address] = (time.monotonic() + RESOLVED_SECONDS, sock.family, sock.getpeername())
        return cls(sock)

    @classmethod
    def opening_to(cls, address: tuple[str, int]) -> _Kept | None:
        """A connection begun without waiting; None when the receiver's address is not known without a
        lookup (a name no connection of this process resolved lately) or the connection failed at once."""
        known = _known(address)
        if known is None:
            return None
        sock = socket.socket(known[0], socket.SOCK_STREAM)
        sock.setblocking(False)
        if sock.connect_ex(known[1]) not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
            sock.close()
            return None
        return cls(sock, opening=True)

    def ready(self, wait: float) -> bool:
        """Whether it is connected, waiting up to ``wait`` seconds for a connection still opening (then set
        to time out as any other); the connection's failure as an ``OSError``."""
        if not self.opening:
            return True
        poll = select.poll()
        poll.register(self.sock, select.POLLOUT)
        if not poll.poll(wait * 1000):
            return False
        error = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if error:
            raise OSError(error, os.strerror(error))
        self.sock.settimeout(TIMEOUT)
        self.opening = False
        return True

    def answer(self) -> tuple[http.client.HTTPResponse, str]:
        response = http.client.HTTPResponse(self.sock, method="POST")
        try:
            response.begin()
            return response, response.read().decode("utf-8", "replace")
        finally:
            response.close()

    def close(self) -> None:
        self.sock.close()


# A receiver's name, resolved by a connection made to it, is used this long by ``warm`` (which must not wait
# for a lookup); an address is used as it is.
RESOLVED_SECONDS = 60.0
_resolved: dict[tuple[str, int], tuple[float, int, Any]] = {}


def _known(address: tuple[str, int]) -> tuple[int, Any] | None:
    try:
        ip = ipaddress.ip_address(address[0])
    except ValueError:
        found = _resolved.get(address)
        return (found[1], found[2]) if found is not None and found[0] > time.monotonic() else None
    return (socket.AF_INET6, (address[0], address[1], 0, 0)) if ip.version == 6 else (socket.AF_INET, address)


class _Pool:
    """The connections kept to each receiver, shared by this process's threads. A forked child (a
    prefork worker) starts without any: its parent's sockets are not its own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._idle: dict[tuple[str, int], list[_Kept]] = {}

    def take(self, address: tuple[str, int]) -> _Kept | None:
        with self._lock:
            if self._pid != os.getpid():
                self._pid, self._idle = os.getpid(), {}
            idle = self._idle.get(address)
            return idle.pop() if idle else None

    def keep(self, address: tuple[str, int], conn: _Kept) -> None:
        with self._lock:
            idle = self._idle.get(address)
            if idle is None and len(self._idle) < KEPT_RECEIVERS and self._pid == os.getpid():
                idle = self._idle[address] = []
            if idle is not None and len(idle) < KEPT_PER_RECEIVER:
                idle.append(conn)
                return
        conn.close()

    def warm(self, address: tuple[str, int]) -> None:
        with self._lock:
            if self._pid == os.getpid() and self._idle.get(address):
                return
        conn = _Kept.opening_to(address)
        if conn is not None:
            self.keep(address, conn)

    def clear(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()


_kept = _Pool()


@dataclass
class Begun:
    """A POST written, in whole or in part, on a kept connection without waiting (``begin``); whoever
    sends it (``send(..., begun=)``) writes the rest and reads the answer."""
    post: Post
    conn: _Kept
    written: int

    @property
    def whole(self) -> bool:
        return self.written == len(self.post.data)


def begin(post: Post) -> Begun | None:
    """Write ``post`` now on a connection kept to its receiver, as much of it as the socket takes at
    once: never waits, so a receiver that stopped reading costs the caller nothing. None when no
    connection is kept (or the kept one broke): the sender makes the whole POST."""
    conn = _kept.take(post.address)
    if conn is None:
        return None
    try:
        if not conn.ready(0):
            return Begun(post, conn, 0)
        conn.sock.settimeout(0.0)
        try:
            written = conn.sock.send(post.data)
        except BlockingIOError:
            written = 0
        conn.sock.settimeout(TIMEOUT)
    except OSError:
        conn.close()
        return None
    return Begun(post, conn, written)


def warm(kind: str, config: dict[str, Any]) -> None:
    """Begin a connection to ``config``'s receiver, without waiting, when this process keeps none: a
    notification about to be committed then finds it open, the receiver having accepted it meanwhile
    (a plain HTTP receiver at an address, or at a name resolved lately; others: nothing)."""
    if kind == "email":
        return
    parts = _direct(str(config.get("url", "")))
    address = _address(parts) if parts is not None else None
    if address is None:
        return
    try:
        _kept.warm(address)
    except OSError:  # no socket to spare, say: the sender makes its connection itself
        logger.warning("could not open a connection to %s:%s ahead of a notification", *address, exc_info=True)


def _post_direct(post: Post, written: Callable[[], None] | None = None, begun: Begun | None = None) -> _Answer:
    """POST on a kept connection to the receiver (``begun``'s, when the request was begun), or a new
    one. A kept connection the receiver closed meanwhile fails before any answer: the POST is made again
    once, on a new one. ``written`` is called once the request is written, before the answer is awaited."""
    for retry in (False, True):
        conn, offset = (begun.conn, begun.written) if begun is not None and not retry else (None, 0)
        if conn is None and not retry:
            conn = _kept.take(post.address)
        kept = conn is not None
        try:
            if conn is None:
                conn = _Kept.connect(post.address)
            elif not conn.ready(TIMEOUT):
                raise TimeoutError("connecting to the receiver timed out")
            if offset < len(post.data):
                conn.sock.sendall(memoryview(post.data)[offset:])
            if written is not None:
                written()
            response, text = conn.answer()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
            if conn is not None:
                conn.close()
            if not kept:
                raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from None
            continue
        except (OSError, http.client.HTTPException) as exc:
            if conn is not None:
                conn.close()
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from None
        if response.will_close:
            conn.close()
        else:
            _kept.keep(post.address, conn)
        return _Answer(response.status, text)
    raise AssertionError("unreachable")


def _request(kind: str, config: dict[str, Any], secrets: dict[str, Any], message: Message
             ) -> tuple[str, bytes, dict[str, str]]:
    """The URL, body and headers of a webhook kind's POST (signed, for the kinds that sign)."""
    url = str(config.get("url", ""))
    secret = str(secrets.get("secret", ""))
    if kind == "webhook":
        body = json.dumps(message.payload, separators=(",", ":"), default=str).encode()
        return url, body, {"Content-Type": "application/json", **({SIGNATURE_HEADER: sign(secret, body)} if secret
                                                                 else {})}
    data = robot_body(kind, message)
    if secret and kind == "dingtalk":
        ts = str(int(time.time() * 1000))
        mac = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode(
            {"timestamp": ts, "sign": base64.b64encode(mac).decode()})
    if secret and kind == "feishu":
        ts = str(int(time.time()))
        mac = hmac.new(f"{ts}\n{secret}".encode(), b"", hashlib.sha256).digest()
        data = {"timestamp": ts, "sign": base64.b64encode(mac).decode(), **data}
    return url, json.dumps(data, ensure_ascii=False).encode(), {"Content-Type": "application/json"}


def prepare(kind: str, config: dict[str, Any], secrets: dict[str, Any], message: Message) -> Post | None:
    """The POST ``send`` makes, as bytes, when it goes to a plain HTTP receiver on a kept connection;
    None for email, TLS, a proxy or an address a request cannot carry."""
    if kind == "email":
        return None
    url, body, headers = _request(kind, config, secrets, message)
    parts = _direct(url)
    return _post_bytes(parts, body, headers) if parts is not None else None


def _checked(answer: Any) -> int:
    if answer.status_code >= 300:
        raise DeliveryFailed(f"HTTP {answer.status_code}: {answer.text[:200]}", answer.status_code)
    if "errcode" in answer.text[:200]:  # DingTalk and WeCom answer 200 with an error code in the body
        try:
            data = answer.json()
        except ValueError:
            data = {}
        if isinstance(data, dict) and data.get("errcode") not in (0, None):
            raise DeliveryFailed(f"errcode {data.get('errcode')}: {data.get('errmsg', '')}", answer.status_code)
    return answer.status_code


def send(kind: str, config: dict[str, Any], secrets: dict[str, Any], message: Message, *,
         written: Callable[[], None] | None = None, begun: Begun | None = None) -> int | None:
    """Send ``message``; the receiver's status code (None for email), or ``DeliveryFailed``.
    ``written`` is called as soon as a plain HTTP receiver has the whole request, before its answer
    is awaited (others: not at all). ``begun``: this message's request, prepared and begun (``begin``)."""
    if begun is not None:
        return _checked(_post_direct(begun.post, written, begun))
    if kind == "email":
        return _send_email(config, secrets, message)
    url, body, headers = _request(kind, config, secrets, message)
    parts = _direct(url)
    if parts is not None:
        post = _post_bytes(parts, body, headers)
        if post is None:
            raise DeliveryFailed("The receiver's URL has a port that is not a number from 1 to 65535, or a "
                                 "character an HTTP request cannot carry.")
        return _checked(_post_direct(post, written))
    try:
        answer = _http().post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from None
    return _checked(answer)


def _send_email(config: dict[str, Any], secrets: dict[str, Any], message: Message) -> None:
    email = EmailMessage()
    email["Subject"] = message.subject
    email["From"] = config.get("from") or "unimanager@localhost"
    email["To"] = ", ".join(config.get("to") or [])
    email.set_content(message.body)
    try:
        with smtplib.SMTP(config.get("host") or "127.0.0.1", int(config.get("port") or 25), timeout=TIMEOUT) as smtp:
            if config.get("use_tls"):
                smtp.starttls()
            if config.get("username"):
                smtp.login(config["username"], str(secrets.get("password", "")))
            smtp.send_message(email)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from None
    return None
