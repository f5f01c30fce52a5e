"""A URL longer than the server accepts is answered 414 URI Too Long (a header line over the limit,
431) by the real daphne, instead of a connection closed without a word."""

from __future__ import annotations

import socket
import sys

import pytest

from devtools.services import free_port
from tests.integration.conftest import Server, _spawn, _stop, _wait_http, database_url_for


@pytest.fixture
def daphne_server(services_env, django_db_setup, tmp_path):
    from django.db import connection

    env = dict(services_env, DATABASE_URL=database_url_for(connection.settings_dict["NAME"]))
    port = free_port()
    log = tmp_path / "daphne.log"
    web = _spawn([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "unimanager.asgi:application"],
                 env, log)
    server = Server(f"http://127.0.0.1:{port}", env, [web], [log])
    try:
        _wait_http(f"{server.url}/healthz", 60, server.processes, server)
        yield port
    finally:
        _stop(server.processes)


def raw_get(port: int, target: str, headers: str = "") -> bytes:
    """The server's whole answer to one GET sent over a plain socket (b"" if it only closed)."""
    request = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading everything; its answer is still there
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_a_70_kb_url_is_answered_414(daphne_server):
    answer = raw_get(daphne_server, "/healthz?q=" + "a" * 70_000)
    assert answer.startswith(b"HTTP/1.1 414 "), answer[:200]


def test_an_over_long_header_line_is_answered_431(daphne_server):
    answer = raw_get(daphne_server, "/healthz", headers=f"X-Padding: {'a' * 70_000}\r\n")
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]


def test_a_url_within_the_limit_is_served(daphne_server):
    answer = raw_get(daphne_server, "/healthz?q=" + "a" * 8_000)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
