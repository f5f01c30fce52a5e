"""/readyz reports each dependency, and a stopped Redis as not ready, quickly, instead of hanging."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request

import pytest

from devtools.services import free_port, start_redis
from tests.integration.conftest import Server, _spawn, _stop, _wait_http, database_url_for


def get_json(url: str, timeout: float = 15) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.django_db(transaction=True)
def test_readyz_reports_a_stopped_redis_as_not_ready(services_env, django_db_setup, tmp_path):
    from django.db import connection

    redis = start_redis()
    env = dict(services_env, REDIS_URL=redis.url, DATABASE_URL=database_url_for(connection.settings_dict["NAME"]))
    port = free_port()
    log = tmp_path / "daphne.log"
    web = _spawn([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "unimanager.asgi:application"],
                 env, log)
    server = Server(f"http://127.0.0.1:{port}", env, [web], [log])
    try:
        _wait_http(f"{server.url}/healthz", 60, server.processes, server)
        status, body = get_json(f"{server.url}/readyz")
        assert status == 200, body
        assert body["mode"] == "distributed"
        assert {k for k, v in body["checks"].items() if v["ok"]} == {"database", "broker", "channel_layer"}

        redis.stop()
        # Bounded by the client's timeout: a /readyz that hangs on the dead Redis fails here with a timeout.
        status, body = get_json(f"{server.url}/readyz", timeout=10)
        assert status == 503
        assert body["status"] == "not_ready"
        assert body["checks"]["database"]["ok"] is True
        assert body["checks"]["broker"]["ok"] is False
        assert body["checks"]["channel_layer"]["ok"] is False
        # Liveness is not readiness: the process itself is still alive.
        assert get_json(f"{server.url}/healthz")[0] == 200
    finally:
        _stop(server.processes)
        redis.stop()
