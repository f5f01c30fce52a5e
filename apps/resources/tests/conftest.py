"""Fixtures of the inventory tests: a cloudsim region in a thread, a platform pointing at it, people."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from cloudsim.server import CloudSim
from tests.fixtures import api_as, fast_passwords, rbac_scoping  # noqa: F401 (fixtures; api_as for the tests)


class Control:
    """cloudsim's unsigned control endpoint."""

    def __init__(self, sim: CloudSim):
        self.base = f"http://{sim.endpoint}/_cloudsim"

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())

    def post(self, path: str, body: Any = None) -> Any:
        return self.call("POST", path, body or {})

    def get(self, path: str) -> Any:
        return self.call("GET", path)


@pytest.fixture(scope="session")
def sim():
    server = CloudSim(port=0, provision_seconds=0.05, regions=["cn-hangzhou", "cn-shanghai"]).start()
    yield server
    server.stop()


@pytest.fixture
def control(sim) -> Control:
    ctl = Control(sim)
    ctl.post("/reset")
    ctl.post("/config", {"provision_seconds": 0.05})
    return ctl


@pytest.fixture
def people(db):
    from tests import factories as f

    hq = f.org("HQ")
    other = f.org("Other")
    root = f.user("root", hq, is_superuser=True)
    return {"hq": hq, "other": other, "root": root}


@pytest.fixture
def platform(people, sim, control):
    from apps.clouds.tests.factories import platform as make_platform

    return make_platform(people["hq"], endpoint=sim.endpoint, name="Sim")
