"""Real local receivers for notification tests: an HTTP server that checks the webhook signature, and
a small SMTP server on loopback (aiosmtpd is not installed here; this one speaks enough SMTP for
``smtplib``: HELO/EHLO, MAIL, RCPT, DATA, QUIT)."""

from __future__ import annotations

import json
import socketserver
import threading
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from apps.alerts.channels import SIGNATURE_HEADER, verify_signature


class HttpReceiver:
    """Records every POST; ``status_for`` maps a path to the status it answers (default 200)."""

    def __init__(self, secret: str = "", status_for: dict[str, int] | None = None):
        self.secret = secret
        self.status_for = status_for or {}
        self.received: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server interface
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                signature = self.headers.get(SIGNATURE_HEADER, "")
                receiver.received.append({
                    "path": self.path, "body": json.loads(body or b"null"), "signature": signature,
                    "signature_ok": bool(signature) and verify_signature(receiver.secret, signature, body)})
                status = receiver.status_for.get(self.path.split("?")[0], 200)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}')

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SmtpReceiver:
    def __init__(self) -> None:
        self.messages: list[Any] = []
        receiver = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self) -> None:
                self.reply("220 loopback SMTP ready")
                envelope: dict[str, Any] = {"to": []}
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    command = line.decode(errors="replace").strip()
                    verb = command.split(" ", 1)[0].upper()
                    if verb in ("HELO", "EHLO"):
                        self.reply("250 loopback")
                    elif verb == "MAIL":
                        envelope["from"] = command.split(":", 1)[1].strip()
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        envelope["to"].append(command.split(":", 1)[1].strip())
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 End data with <CR><LF>.<CR><LF>")
                        data = b""
                        while True:
                            chunk = self.rfile.readline()
                            if chunk in (b".\r\n", b".\n", b""):
                                break
                            data += chunk[1:] if chunk.startswith(b"..") else chunk
                        receiver.messages.append({**envelope, "message": message_from_bytes(data)})
                        self.reply("250 OK: queued")
                    elif verb == "QUIT":
                        self.reply("221 Bye")
                        return
                    else:
                        self.reply("250 OK")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
