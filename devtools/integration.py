"""Run the integration test tier on real services: ``python -m devtools.integration [pytest args]``.

Starts PostgreSQL 15 and Redis on loopback, points the settings at them through ``DATABASE_URL`` and
``REDIS_URL`` (settings are read at start-up, so they are set before pytest starts), runs the tests
marked ``integration`` and stops everything afterwards. Daphne, Celery workers, the embedded-mode
server and Chromium are started by the tests' own fixtures.
"""

from __future__ import annotations

import os
import subprocess
import sys

from devtools.services import MissingService, distributed_services, ensure_packages


def main(argv: list[str]) -> int:
    try:
        ensure_packages("postgresql", "redis-server", "chromium")
        with distributed_services() as (pg, redis):
            env = dict(os.environ)
            env.update({
                "DATABASE_URL": pg.url,
                "REDIS_URL": redis.url,
                "DJANGO_ALLOW_ASYNC_UNSAFE": "true",
                "UNIMANAGER_INTEGRATION": "1",
            })
            cmd = [sys.executable, "-m", "pytest", "-m", "integration", "-p", "no:randomly", *argv]
            result = subprocess.run(cmd, env=env)
            # pytest exits 5 when it collected nothing: for this tier that is a failure, not a pass.
            return 1 if result.returncode == 5 else result.returncode
    except MissingService as exc:
        print(f"integration tier cannot run: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
