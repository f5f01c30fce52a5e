import time

import pytest

from tests.fixtures import fast_passwords, rbac_scoping  # noqa: F401 (fixtures)


@pytest.fixture(autouse=True)
def live_dashboards_settle():
    """A test ends only once the live dashboards' held notices were sent and their values computed:
    nothing of one test may touch the database during the next one's set-up."""
    yield
    from apps.dashboards import live

    deadline = time.monotonic() + 10
    while live.coalescer.timers and time.monotonic() < deadline:
        time.sleep(0.02)
    live.worker.drain(timeout=5)
