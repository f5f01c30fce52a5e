"""The first calls to a host made side by side open the SDK's HTTP session for it once, not once each."""

from __future__ import annotations

import ssl
import threading

import pytest
from darabonba.core import DaraCore

from apps.clouds.adapters import apsara
from apps.clouds.simulated import sim_adapter
from cloudsim.server import CloudSim


@pytest.fixture
def sim():
    server = CloudSim(port=0, provision_seconds=0.05, regions=["cn-hangzhou"]).start()
    yield server
    server.stop()


def test_first_calls_side_by_side_open_one_session(sim, monkeypatch):
    monkeypatch.setattr(DaraCore, "_sessions", {})
    monkeypatch.setattr(apsara, "_opened_hosts", set())
    contexts: list[int] = []
    default_context = ssl.create_default_context

    def counted(*args, **kwargs):
        contexts.append(1)
        return default_context(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counted)
    adapters = [sim_adapter(sim.endpoint) for _ in range(6)]
    start = threading.Barrier(len(adapters))
    answers: list[object] = []

    def first_call(adapter) -> None:
        start.wait()
        answers.append(adapter.get_resources("ecs.instance", "cn-hangzhou", ["i-none"]))

    threads = [threading.Thread(target=first_call, args=(a,)) for a in adapters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(answers) == len(adapters)
    assert len(contexts) == 1
    assert f"http://{sim.endpoint}" in apsara._opened_hosts
