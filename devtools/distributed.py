"""``make run-distributed``: Unimanager's distributed mode on one machine, without Docker.

PostgreSQL and Redis (Debian's packages) on loopback, a separate Celery worker and beat, daphne, and
cloudsim (the demo's simulated Apsara Stack region), each its own process, as docker-compose.yml
describes them. Data is kept under
``var/distributed/`` so a second run keeps it. Ctrl-C stops everything this started.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from devtools.services import MissingService, start_postgres, start_redis, wait_for_port

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    args = parser.parse_args()

    data = ROOT / "var" / "distributed"
    data.mkdir(parents=True, exist_ok=True)
    try:
        pg = start_postgres(port=int(os.environ.get("UNIMANAGER_PG_PORT", "55432")), datadir=data / "postgres")
    except MissingService as exc:
        print(exc, file=sys.stderr)
        return 2
    redis = start_redis(port=int(os.environ.get("UNIMANAGER_REDIS_PORT", "56379")))
    env = dict(os.environ, DATABASE_URL=pg.url, REDIS_URL=redis.url, UNIMANAGER_DATA_DIR=str(data))
    processes: list[subprocess.Popen] = []
    try:
        sim_port = int(os.environ.get("UNIMANAGER_CLOUDSIM_PORT", "9100"))
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "cloudsim", "--port", str(sim_port), "--snapshot", str(data / "cloudsim.json")],
            cwd=ROOT, env=env))
        wait_for_port(sim_port, timeout=30)
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
        subprocess.run([*manage, "seed_demo"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        celery = [sys.executable, "-m", "celery", "-A", "unimanager"]
        for i in range(args.workers):
            # Lifecycle steps wait on clouds and the database: threads keep several in flight per worker.
            processes.append(subprocess.Popen([*celery, "worker", "--pool=threads", "--concurrency=8",
                                               "-n", f"worker{i + 1}@%h",
                                               "--loglevel=WARNING"], cwd=ROOT, env=env))
        processes.append(subprocess.Popen([*celery, "beat", "--loglevel=WARNING"], cwd=ROOT, env=env))
        processes.append(subprocess.Popen(
            [*manage, "serve", "--host", args.host, "--port", str(args.port)], cwd=ROOT, env=env))
        wait_for_port(args.port, host=args.host, timeout=60)
        print(f"PostgreSQL {pg.url}  Redis {redis.url}  workers: {args.workers}", flush=True)
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        print("a process stopped; shutting down the rest", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for p in processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in processes:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        redis.stop()
        pg.stop()


if __name__ == "__main__":
    sys.exit(main())
