"""Real Unimanager deployments on loopback for benchmarks, and a signed-in HTTP session.

``deployment("embedded")`` migrates and seeds a fresh SQLite database in a temporary data directory
and runs ``manage.py serve`` (daphne with the Celery worker inside). ``deployment("distributed")``
starts PostgreSQL and Redis (``devtools.services``), then daphne and a separate Celery worker
process. Every process started here is stopped when the ``with`` block ends, whatever ends it.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import REPO_DIR
from devtools.services import distributed_services, free_port, wait_for_port

DEMO_ADMIN = ("admin", "unimanager-admin")
BIN_DIR = Path(sys.executable).parent
# Variables of the caller's shell that would point a deployment at something else.
FOREIGN_ENV = ("DATABASE_URL", "REDIS_URL", "UNIMANAGER_SQLITE_PATH", "UNIMANAGER_DATA_DIR",
               "UNIMANAGER_DEBUG", "UNIMANAGER_EMBEDDED_WORKER")

# As the distributed deployment runs them (make run-distributed, docker-compose.yml): lifecycle steps
# wait on the cloud and the database, so a worker runs several at once on threads.
WORKER_POOL = ("--pool=threads", "--concurrency=8")


class DeploymentError(RuntimeError):
    pass


@dataclass
class Processes:
    """The processes one deployment started, each logging to a file in ``workdir``."""

    workdir: Path
    started: list[tuple[str, subprocess.Popen, Path]] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = self.workdir / f"{name}.log"
        with log.open("ab") as out:
            # A session of its own: Ctrl-C reaches only the benchmark, which then stops these in order.
            process = subprocess.Popen(argv, cwd=REPO_DIR, env=env, stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        self.started.append((name, process, log))
        return process

    def check(self) -> None:
        for name, process, log in self.started:
            if process.poll() is not None:
                raise DeploymentError(f"{name} exited with {process.returncode}:\n{_tail(log)}")

    def stop(self) -> None:
        """Terminate every started process still running (newest first), killing any that lingers."""
        for _name, process, _log in reversed(self.started):
            if process.poll() is None:
                process.terminate()
        for _name, process, _log in reversed(self.started):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


@dataclass
class Deployment:
    mode: str
    port: int
    redis_url: str | None
    processes: Processes

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/"

    def sign_in(self, username: str = DEMO_ADMIN[0], password: str = DEMO_ADMIN[1]) -> Session:
        session = Session(self.base_url)
        session.sign_in(username, password)
        return session


class Session:
    """A signed-in browser-like HTTP client: session cookie, CSRF token, JSON API calls."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.jar if c.name == name), None)

    @property
    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)

    def sign_in(self, username: str, password: str) -> None:
        self._open("GET", "/signin/")
        form = urllib.parse.urlencode({"username": username, "password": password,
                                       "csrfmiddlewaretoken": self.cookie("csrftoken") or ""}).encode()
        self._open("POST", "/signin/", form, {"Content-Type": "application/x-www-form-urlencoded"})
        if not self.cookie("sessionid"):
            raise DeploymentError(f"signing in as {username} did not give a session cookie")

    def get_json(self, path: str) -> tuple[int, Any]:
        return self._json("GET", path)

    def post_json(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        return self._json("POST", path, json.dumps(body).encode(), {"Content-Type": "application/json"})

    def _json(self, method: str, path: str, data: bytes | None = None,
              headers: dict[str, str] | None = None) -> tuple[int, Any]:
        status, body = self._open(method, path, data, {"Accept": "application/json", **(headers or {})})
        return status, json.loads(body) if body else None

    def _open(self, method: str, path: str, data: bytes | None = None,
              headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers={
            "Referer": self.base_url + path, "X-CSRFToken": self.cookie("csrftoken") or "", **(headers or {})})
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _tool(name: str) -> str:
    candidate = BIN_DIR / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if not found:
        raise DeploymentError(f"{name} is not installed next to {sys.executable} nor on PATH")
    return found


def _environment(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_ENV}
    env.update(DJANGO_SETTINGS_MODULE="unimanager.settings", UNIMANAGER_DATA_DIR=str(data_dir),
               UNIMANAGER_LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1", **extra)
    return env


def _manage(env: dict[str, str], *args: str) -> None:
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO_DIR, env=env, capture_output=True,
                            text=True, timeout=300, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise DeploymentError(f"manage.py {' '.join(args)} failed:\n{(result.stdout + result.stderr)[-3000:]}")


def _wait_healthy(deployment: Deployment, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        deployment.processes.check()
        try:
            wait_for_port(deployment.port, timeout=1)
            if Session(deployment.base_url).get_json("/healthz")[0] == 200:
                return
        except (TimeoutError, OSError):
            pass
        if time.monotonic() > deadline:
            raise DeploymentError(f"the {deployment.mode} deployment did not answer /healthz in {timeout:.0f}s")
        time.sleep(0.2)


@contextlib.contextmanager
def deployment(mode: str) -> Iterator[Deployment]:
    """A migrated, seeded, serving deployment of ``mode`` that is torn down on exit."""
    workdir = Path(tempfile.mkdtemp(prefix=f"unimanager-bench-{mode}-"))
    processes = Processes(workdir)
    try:
        if mode == "embedded":
            env = _environment(workdir / "data")
            _manage(env, "migrate", "--noinput")
            _manage(env, "seed_demo")
            port = free_port()
            processes.start("serve", [sys.executable, "manage.py", "serve", "--port", str(port)], env)
            current = Deployment(mode, port, None, processes)
            _wait_healthy(current)
            yield current
        elif mode == "distributed":
            with distributed_services() as (pg, redis):
                env = _environment(workdir / "data", DATABASE_URL=pg.url, REDIS_URL=redis.url)
                _manage(env, "migrate", "--noinput")
                _manage(env, "seed_demo")
                port = free_port()
                try:
                    processes.start("worker", [_tool("celery"), "-A", "unimanager", "worker", *WORKER_POOL,
                                               "--loglevel=WARNING", "--without-gossip", "--without-mingle",
                                               "--hostname", f"bench-{port}@127.0.0.1"], env)
                    processes.start("daphne", [_tool("daphne"), "-b", "127.0.0.1", "-p", str(port),
                                               "unimanager.asgi:application"], env)
                    current = Deployment(mode, port, redis.url, processes)
                    _wait_healthy(current)
                    yield current
                finally:
                    # The server and worker go before the database and broker they hold open.
                    processes.stop()
        else:
            raise ValueError(f"unknown mode {mode!r}")
    except Exception:
        # What the servers said is usually the explanation; the logs go with the work directory.
        for name, _process, log in processes.started:
            print(f"--- last lines of {name} ({mode}) ---\n{_tail(log)}", file=sys.stderr)
        raise
    finally:
        processes.stop()
        shutil.rmtree(workdir, ignore_errors=True)
