"""One moto server (the AWS APIs on loopback) for a whole test session, loaded by the root ``conftest.py``.

A module that talks to AWS asks for ``moto_server`` through a module-scoped fixture that calls
``moto_reset`` first, so each module starts from an empty account exactly as it did with a server of
its own, without paying for a server process per module.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator

import pytest

from devtools.services import free_port, wait_for_port


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """``host:port`` of the session's moto server, started on first use."""
    port = free_port()
    exe = shutil.which("moto_server", path=os.path.dirname(sys.executable)) or "moto_server"
    proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=30)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # a busy machine: stop it the hard way
            proc.kill()
            proc.wait(timeout=10)


def moto_reset(endpoint: str) -> str:
    """Forget everything every service of the moto server at ``endpoint`` holds; returns ``endpoint``."""
    request = urllib.request.Request(f"http://{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200, response.status
    return endpoint
