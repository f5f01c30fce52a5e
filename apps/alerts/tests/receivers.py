"""Real local receivers for notification tests and the benchmark: an HTTP server that checks the
webhook signature, and an SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from apps.alerts.channels import SIGNATURE_HEADER, verify_signature


class HttpReceiver:
    """Records every POST (with ``at``, its ``time.perf_counter()`` on arrival); ``status_for`` maps a
    path to the status it answers (default 200). ``wait_for`` blocks until a condition on what was
    received holds, without polling."""

    def __init__(self, secret: str = "", status_for: dict[str, int] | None = None, hold_first: str = ""):
        self.secret = secret
        self.status_for = status_for or {}
        self.received: list[dict[str, Any]] = []
        self.arrived = threading.Condition()
        # ``hold_first``: the first POST to that path is read and then left unanswered (and unrecorded)
        # until ``release()``, as a receiver whose sender died before it could be told "done".
        self.hold_first, self.held, self.released = hold_first, threading.Event(), threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server interface
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                at = time.perf_counter()
                if receiver.hold_first and self.path == receiver.hold_first and not receiver.held.is_set():
                    receiver.held.set()
                    receiver.released.wait(timeout=120)
                    self.close_connection = True
                    return
                signature = self.headers.get(SIGNATURE_HEADER, "")
                status = receiver.status_for.get(self.path.split("?")[0], 200)
                entry = {"path": self.path, "body": json.loads(body or b"null"), "signature": signature,
                         "signature_ok": bool(signature) and verify_signature(receiver.secret, signature, body),
                         "at": at}
                # recorded before the answer: a sender told 200 finds its request in ``received``
                with receiver.arrived:
                    receiver.received.append(entry)
                    receiver.arrived.notify_all()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "12")
                self.end_headers()
                self.wfile.write(b'{"ok": true}')
                self.wfile.flush()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, condition: Callable[[list[dict[str, Any]]], Any], timeout: float) -> Any:
        """The first true value of ``condition(received)`` within ``timeout`` seconds, else None."""
        with self.arrived:
            return self.arrived.wait_for(lambda: condition(self.received), timeout=timeout) or None

    def release(self) -> None:
        self.released.set()

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


class SmtpReceiver:
    """An SMTP server on a free loopback port (aiosmtpd); ``messages`` holds each one received with
    its envelope (``from``, ``to``) and the parsed ``message``."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        receiver = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd
                receiver.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                          "message": message_from_bytes(envelope.original_content
                                                                        or envelope.content)})
                return "250 OK: queued"

        with socket.socket() as probe:  # a free port: the controller checks its server by connecting to it
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()
