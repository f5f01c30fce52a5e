"""How a notification reaches each kind of contact point: the wire format and the transport.

Webhooks get JSON. The generic webhook is signed: ``X-Unimanager-Signature: t=<unix time>,v1=<hex>``
where ``<hex>`` is HMAC-SHA256 of ``"<t>.<body>"`` under the contact point's secret, so a receiver
checks the sender and refuses replays older than its tolerance (``verify_signature``). The
collaborative tools get their own robot formats (DingTalk and Feishu sign with their own schemes
when a secret is set). Email goes over SMTP. Every call has a short timeout: a dead receiver costs
its own delivery a few seconds and never holds the others.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import http.client
import json
import smtplib
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import httpx

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
# client on a connection kept by each sending thread: measured here, 0.17 ms of CPU per POST against
# httpx's 0.56, on the path of every notification. TLS and proxies (``HTTP_PROXY``...) keep httpx.
_plain = threading.local()


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


class _Answer:
    def __init__(self, status_code: int, text: str):
        self.status_code, self.text = status_code, text

    def json(self) -> Any:
        return json.loads(self.text)


def _post_direct(parts: urllib.parse.SplitResult, body: bytes, headers: dict[str, str],
                 written: Callable[[], None] | None = None) -> _Answer:
    """POST on this thread's kept connection to the receiver, or a new one. A kept connection the
    receiver closed meanwhile fails before any answer: the POST is made again once, on a new one.
    ``written`` is called once the request is written, before the answer is awaited."""
    held: dict[tuple[str, int], http.client.HTTPConnection] = _plain.__dict__.setdefault("connections", {})
    address = (parts.hostname or "", parts.port or 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = parts.netloc.rsplit("@", 1)[-1]
    for fresh in (address not in held, True):
        conn = held.pop(address, None) if not fresh else None
        if conn is None:
            conn = http.client.HTTPConnection(*address, timeout=TIMEOUT)
        try:
            conn.request("POST", target, body=body, headers={"Host": host, **headers})
            if written is not None:
                written()
            answer = conn.getresponse()
            text = answer.read().decode("utf-8", "replace")
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
            conn.close()
            if fresh:
                raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from None
            continue
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from None
        if answer.will_close or len(held) >= KEPT_CONNECTIONS:
            conn.close()
        else:
            held[address] = conn
        return _Answer(answer.status, text)
    raise AssertionError("unreachable")


# Connections kept per sending thread (one per receiver's address).
KEPT_CONNECTIONS = 16


def _post(url: str, body: bytes, headers: dict[str, str], written: Callable[[], None] | None = None) -> int:
    headers = {"Content-Type": "application/json", **headers}
    parts = _direct(url)
    if parts is not None:
        answer: Any = _post_direct(parts, body, headers, written)
    else:
        try:
            answer = _http().post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from None
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
         written: Callable[[], None] | None = None) -> int | None:
    """Send ``message``; the receiver's status code (None for email), or ``DeliveryFailed``.
    ``written`` is called as soon as a plain HTTP receiver has the whole request, before its answer
    is awaited (others: not at all)."""
    if kind == "email":
        return _send_email(config, secrets, message)
    url = str(config.get("url", ""))
    secret = str(secrets.get("secret", ""))
    if kind == "webhook":
        body = json.dumps(message.payload, separators=(",", ":"), default=str).encode()
        headers = {SIGNATURE_HEADER: sign(secret, body)} if secret else {}
        return _post(url, body, headers, written)
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
    return _post(url, json.dumps(data, ensure_ascii=False).encode(), {}, written)


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
