"""Start and stop the real services Unimanager's distributed mode needs, on loopback, without Docker.

Used by ``make run-distributed``, the integration test tier and the benchmarks. PostgreSQL 15 and
Redis come from Debian's packages; when they are missing and we run as root they are installed
with apt-get, otherwise ``MissingService`` says exactly what to install.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

PG_BIN = Path(os.environ.get("UNIMANAGER_PG_BIN", "/usr/lib/postgresql/15/bin"))
DEBIAN_PACKAGES = {"postgresql": PG_BIN / "initdb", "redis-server": Path("/usr/bin/redis-server"),
                   "chromium": Path("/usr/bin/chromium")}


class MissingService(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing answered on {host}:{port} within {timeout:.0f}s")


def ensure_packages(*names: str) -> None:
    """Install the Debian packages among ``names`` that are missing (as root), or explain."""
    missing = [n for n in names if not DEBIAN_PACKAGES[n].exists()]
    if not missing:
        return
    if os.geteuid() != 0:
        raise MissingService(
            "The integration tier needs Debian packages that are not installed: "
            + ", ".join(missing) + f". Install them with: sudo apt-get install -y {' '.join(missing)}"
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env,
                   stdout=subprocess.DEVNULL)


@dataclass
class Service:
    name: str
    url: str
    port: int
    process: subprocess.Popen | None = None
    workdir: Path | None = None
    cleanup: list = field(default_factory=list)
    remove_workdir: bool = False

    def stop(self) -> None:
        for fn in reversed(self.cleanup):
            with contextlib.suppress(Exception):
                fn()
        self.cleanup.clear()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.remove_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def start_postgres(port: int | None = None, dbname: str = "unimanager", datadir: Path | None = None) -> Service:
    """A throw-away PostgreSQL cluster on loopback (fsync off: test and demo data only)."""
    ensure_packages("postgresql")
    for tool in ("psql", "createdb"):
        if shutil.which(tool) is None:
            raise MissingService(f"{tool} is not on PATH; install Debian's postgresql-client")
    port = port or free_port()
    base = Path(datadir or tempfile.mkdtemp(prefix="unimanager-pg-"))
    base.mkdir(parents=True, exist_ok=True)
    data = base / "data"
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    if not (data / "PG_VERSION").exists():
        subprocess.run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                                     "-E", "UTF8", "--no-sync"]), check=True, stdout=subprocess.DEVNULL)
    log = base / "postgres.log"
    process = subprocess.Popen(
        _as_postgres([str(PG_BIN / "postgres"), "-D", str(data), "-p", str(port), "-c", "listen_addresses=127.0.0.1",
                      "-c", f"unix_socket_directories={base}", "-c", "fsync=off", "-c", "synchronous_commit=off",
                      "-c", "full_page_writes=off", "-c", "max_connections=300"]),
        stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )
    service = Service("postgresql", f"postgres://postgres@127.0.0.1:{port}/{dbname}", port, process, base,
                      remove_workdir=datadir is None)
    try:
        _wait_postgres(port, base, process)
        exists = subprocess.run(
            _as_postgres([str(shutil.which("psql")), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-tAc",
                          f"SELECT 1 FROM pg_database WHERE datname='{dbname}'"]),
            check=True, capture_output=True, text=True).stdout.strip()
        if not exists:
            subprocess.run(_as_postgres([str(shutil.which("createdb")), "-h", "127.0.0.1", "-p", str(port),
                                         "-U", "postgres", dbname]), check=True)
    except Exception:
        service.stop()
        raise
    return service


def _wait_postgres(port: int, base: Path, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise MissingService(f"PostgreSQL exited: see {base / 'postgres.log'}")
        ready = subprocess.run(_as_postgres([str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)]),
                               capture_output=True)
        if ready.returncode == 0:
            return
        time.sleep(0.2)
    raise TimeoutError(f"PostgreSQL did not become ready on port {port}")


def start_redis(port: int | None = None) -> Service:
    """A Redis server on loopback with no persistence, answering PING before this returns."""
    ensure_packages("redis-server")
    port = port or free_port()
    workdir = Path(tempfile.mkdtemp(prefix="unimanager-redis-"))
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir), "--daemonize", "no", "--loglevel", "warning"],
        stdout=(workdir / "redis.log").open("ab"), stderr=subprocess.STDOUT,
    )
    service = Service("redis", f"redis://127.0.0.1:{port}/0", port, process, workdir, remove_workdir=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            # A taken port makes redis exit; only its log says so.
            raise MissingService(f"redis-server exited: {(workdir / 'redis.log').read_text()[-500:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            if s.recv(16).startswith(b"+PONG"):
                return service
        time.sleep(0.1)
    service.stop()
    raise TimeoutError(f"Redis did not answer PING on port {port}")


@contextlib.contextmanager
def distributed_services() -> Iterator[tuple[Service, Service]]:
    pg = start_postgres()
    try:
        redis = start_redis()
    except Exception:
        pg.stop()
        raise
    try:
        yield pg, redis
    finally:
        redis.stop()
        pg.stop()
