"""Fixtures of the integration tier: real daphne, Celery worker processes and Chromium.

This tier runs under ``python -m devtools.integration``, which starts PostgreSQL and Redis and sets
``DATABASE_URL``/``REDIS_URL`` before Django loads. The test database created by pytest-django is
shared with the server and worker processes started here, so tests that create data use
``transaction=True`` (committed rows are visible to the other processes).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from devtools.services import free_port, wait_for_port
from tests.openapi_contract import CONTRACT_LOG_ENV

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
]


def _flush_retrying_deadlocks() -> None:
    """The distributed stack's daphne and worker processes stay up between tests and keep reading the
    test database (beat tasks, the reconciler). The flush at the end of a transactional test takes its
    table locks one by one, so a worker's query holding one table and waiting for another can deadlock
    with it; PostgreSQL then ends the flush. Try the flush again (the worker's query has finished by
    then) instead of failing a test that passed."""
    from django.core.management.base import CommandError
    from django.db import OperationalError
    from django.test import TransactionTestCase

    original = TransactionTestCase._fixture_teardown

    def teardown(self) -> None:
        for attempt in range(5):
            try:
                return original(self)
            except (CommandError, OperationalError) as exc:
                cause = exc.__cause__ if isinstance(exc, CommandError) else exc
                if attempt == 4 or "deadlock detected" not in str(cause):
                    raise
                time.sleep(0.2 * (attempt + 1))

    TransactionTestCase._fixture_teardown = teardown


_flush_retrying_deadlocks()


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.integration)


@dataclass
class Server:
    url: str
    env: dict[str, str]
    processes: list[subprocess.Popen]
    logs: list[Path]

    def log_tail(self, n: int = 3000) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-n:]}" for p in self.logs if p.exists())


def _spawn(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(processes: list[subprocess.Popen]) -> None:
    for p in processes:
        if p.poll() is None:
            p.terminate()
    for p in processes:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)


def _wait_http(url: str, timeout: float, processes: list[subprocess.Popen], server: Server) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in processes:
            if p.poll() is not None:
                raise RuntimeError(f"a server process exited early:\n{server.log_tail()}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s:\n{server.log_tail()}")


def database_url_for(name: str) -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


# Server processes start through this module, which checks their API responses against the OpenAPI
# document and appends each mismatch to CONTRACT_LOG (see tests.openapi_contract).
CHECKED = "tests.integration.checked_server"
CONTRACT_LOG = ARTIFACTS / "contract-violations.jsonl"


@pytest.fixture(scope="session", autouse=True)
def _fresh_contract_log() -> None:
    """An empty log, named in the environment every server process of the session inherits."""
    CONTRACT_LOG.parent.mkdir(parents=True, exist_ok=True)
    CONTRACT_LOG.write_text("")
    os.environ[CONTRACT_LOG_ENV] = str(CONTRACT_LOG)


@pytest.fixture(autouse=True)
def _server_responses_match_the_document(_fresh_contract_log) -> Iterator[None]:
    """Fails the test during which a server process answered the API outside the OpenAPI document."""
    start = CONTRACT_LOG.stat().st_size
    yield
    with CONTRACT_LOG.open(encoding="utf-8") as log:
        log.seek(start)
        found = [json.loads(line)["problem"] for line in log.read().splitlines() if line.strip()]
    if found:
        pytest.fail("API responses of a server process that the OpenAPI document does not describe:\n"
                    + "\n".join(found), pytrace=False)


@pytest.fixture(scope="session")
def services_env() -> dict[str, str]:
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        pytest.fail("the integration tier runs under `python -m devtools.integration` (make test), which "
                    "starts PostgreSQL and Redis and sets DATABASE_URL and REDIS_URL", pytrace=False)
    return dict(os.environ)


@pytest.fixture(scope="session")
def distributed_stack(services_env, django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Server]:
    """daphne serving the test database, and a separate Celery worker process."""
    from django.db import connection

    env = dict(services_env)
    env["DATABASE_URL"] = database_url_for(connection.settings_dict["NAME"])
    env.pop("UNIMANAGER_EMBEDDED_WORKER", None)
    # The stack lives for the whole session: its worker takes only the tasks its own daphne publishes, never
    # those of a test that starts (and kills) workers of its own on the same Redis.
    env["UNIMANAGER_TASK_QUEUE"] = "itest-stack"
    logs = tmp_path_factory.mktemp("distributed")
    port = free_port()
    worker_log, web_log = logs / "worker.log", logs / "daphne.log"
    worker = _spawn([sys.executable, "-m", "celery", "-A", "unimanager", "worker", "--pool=solo", "--concurrency=1",
                     "--loglevel=INFO", "--without-heartbeat", "--without-mingle", "--without-gossip",
                     "-n", f"itest-{port}@%h"], env, worker_log)
    web = _spawn([sys.executable, "-m", CHECKED, "daphne", "-b", "127.0.0.1", "-p", str(port),
                  "unimanager.asgi:application"], env, web_log)
    server = Server(f"http://127.0.0.1:{port}", env, [worker, web], [web_log, worker_log])
    try:
        wait_for_port(port, timeout=60)
        _wait_http(f"{server.url}/healthz", 60, server.processes, server)
        yield server
    finally:
        _stop(server.processes)


@pytest.fixture(scope="session")
def embedded_server(tmp_path_factory) -> Iterator[Server]:
    """``manage.py serve`` in the embedded mode (SQLite, in-process worker), as `make run` starts it."""
    data = tmp_path_factory.mktemp("embedded")
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["UNIMANAGER_DATA_DIR"] = str(data)
    for step in (["migrate", "--noinput", "-v0"], ["seed_demo"]):
        subprocess.run([sys.executable, "manage.py", *step], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
    port = free_port()
    log = data / "serve.log"
    process = _spawn([sys.executable, "-m", CHECKED, "manage.py", "serve", "--port", str(port)], env, log)
    server = Server(f"http://127.0.0.1:{port}", env, [process], [log])
    try:
        _wait_http(f"{server.url}/healthz", 60, server.processes, server)
        yield server
    finally:
        _stop(server.processes)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)", pytrace=False)
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()


def screenshot(page, name: str) -> Path:
    path = ARTIFACTS / "screenshots" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_until(page, expression: str, arg=None, timeout: float = 30000):
    """``page.wait_for_function`` for pages under the console's Content-Security-Policy: Playwright runs
    that one's expression with ``eval``, which the policy refuses without 'unsafe-eval', so this polls
    ``page.evaluate`` (compiled by the browser's devtools, outside the page's policy) instead."""
    deadline = time.monotonic() + timeout / 1000
    while True:
        value = page.evaluate(expression, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"still false after {timeout / 1000:.0f}s: {expression}")
        page.wait_for_timeout(100)


def sign_in(page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/signin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/signin/" not in url, timeout=15000)
