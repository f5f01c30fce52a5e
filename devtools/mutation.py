"""Mutation testing of the rule modules (``make mutation``).

Each rule module is mutated on its own with mutmut 3, against the tests of the app that exercise it,
so a run fits on a small machine: ``python -m devtools.mutation [module ...] [--max-children N]``.
For every module a work folder ``mutants/<module>/`` holds links to the project and a pyproject that
adds, to the shared ``[tool.mutmut]`` settings, which file to mutate and which tests to run; mutmut
copies the sources into ``mutants/<module>/mutants/`` and runs each mutant in a fork.

The record, ``bench/results/mutation.json``, keeps one entry per module (the last run of it: killed,
survived, timed out, total, score, surviving mutants, commit, duration, machine), so modules can be
run one at a time; the table of every recorded module is printed at the end. A mutant whose tests
never finish (timeout) counts as caught in the score, a mutant no test reaches counts as survived.

``--retest-survivors`` tests again only the last run's survivors, in the module's work folder, once
tests were added for them: the test files are copied in as they are now, mutmut collects the new
tests' coverage, and every other mutant keeps its verdict (tests were added, none removed). It is
refused when the module itself changed since that run; the entry keeps the first run's commit and
adds the re-test's under ``retest``.

``--resume`` tests the mutants a run stopped with ``--partial`` left untested, against the tests as
they are now, and keeps the recorded verdicts of the others, so a long module can be finished over
several sessions (``--until HH:MM`` stops it at a UTC time and records it partial again). It is
refused when the module changed since the recorded run. ``--only GLOB`` (mutant names, e.g.
``*x_build_snapshot__mutmut_*``) adds mutants to test again in the same run (survivors tests were
written for); a record made before the untested mutants' names were kept names them that way.
``--until`` also stops a full run, which is then recorded partial.

``--database postgresql`` runs a module's tests on PostgreSQL instead of SQLite (its PostgreSQL-only
paths: quotas' one-statement reservation, the inventory's set-based apply): a throw-away cluster is
started for the command as the integration tier starts one, the first test session's migrated
database becomes a template, and each mutant's session gets its own database made from it
(CREATE DATABASE ... TEMPLATE). The entry records the database; ``--resume`` and
``--retest-survivors`` use the recorded one. A PostgreSQL run also runs the module's integration-tier
tests named in ``POSTGRESQL_TESTS`` (quotas: the reservation races between processes), with a Redis
for the processes they start; mutmut sees only the calls made in a test's own process, so each of
those tests names the functions its processes run, and the work folder's conftest counts them as
reached in mutmut's stats run. Module-level memos (``CACHES``) are emptied at the start of every
mutant's session: filled by the original code before the fork, they hid the mutants of what they hold.

``--retest-survivors --database D``, D not the recorded run's database, tests the survivors again on D
in a work folder of its own (``mutants/<module>@D``): a module with a path per database has mutants
only one database's run reaches, and a mutant caught on either is counted killed (named in the entry's
``other_database``).

``--only GLOB`` on a full run tests only the mutants named (the paths a run must see first, say) and
records the run partial; ``--resume`` tests the others later.
"""

from __future__ import annotations

import argparse
import calendar
import contextlib
import fcntl
import fnmatch
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.harness import load_average, machine

REPO_DIR = Path(__file__).resolve().parent.parent
WORK_DIR = REPO_DIR / "mutants"
RECORD = REPO_DIR / "bench" / "results" / "mutation.json"
# What a work folder links to: the code the tests import, the files they read, the front-end packages.
LINKED = ("apps", "unimanager", "cloudsim", "templates", "static", "tests", "manage.py", "node_modules", "devtools")

# Rule module -> the test files that exercise it (globs; each module's own ``test_<module>_rules*.py``
# included). mutmut runs, per mutant, only the tests that reach the mutated function; the whole
# selection runs twice first (to learn which test reaches what, then clean). Ordered small to large.
MODULES: dict[str, tuple[str, ...]] = {
    "apps/provisioning/statemachine.py": ("apps/provisioning/tests/test_statemachine_rules*.py",
                                          "apps/provisioning/tests/test_lifecycle.py"),
    "apps/rbac/catalog.py": ("apps/rbac/tests/test_catalog_rules*.py", "apps/rbac/tests/test_pattern_matching.py",
                             "apps/rbac/tests/test_policy_rules.py"),
    "apps/security/signing.py": ("apps/security/tests/test_signing*.py",),
    "apps/core/scoping.py": ("apps/core/tests/test_scoping_rules*.py", "apps/core/tests/test_tenancy.py",
                             "apps/organizations/tests/test_services.py"),
    "apps/core/errors.py": ("apps/core/tests/test_errors*.py", "apps/core/tests/test_parsers.py"),
    "apps/security/audit.py": ("apps/security/tests/test_audit*.py", "apps/security/tests/test_signin.py"),
    "apps/security/authentication.py": ("apps/security/tests/test_authentication_rules*.py",
                                        "apps/security/tests/test_signing.py", "apps/security/tests/test_signin.py",
                                        "apps/security/tests/test_display_tokens.py"),
    # The engine's decisions, explanations, caches and duties; not the catalog's pattern matcher, nor pages.
    # tests/test_engine_rules*.py and the cloud platform scope test: the same rules on rows with a project
    # and a cloud platform (later apps' models, so those tests live in tests/).
    "apps/rbac/engine.py": ("apps/rbac/tests/test_engine_rules*.py", "tests/test_engine_rules*.py",
                            "tests/test_cloud_platform_scope.py", "apps/rbac/tests/test_decisions.py",
                            "apps/rbac/tests/test_explain_*.py", "apps/rbac/tests/test_policy_rules.py",
                            "apps/rbac/tests/test_policy_bounds.py", "apps/rbac/tests/test_profile_cache.py",
                            "apps/rbac/tests/test_separation_of_duties.py", "apps/rbac/tests/test_change_events.py",
                            "apps/rbac/tests/test_api.py"),
    "apps/provisioning/requests.py": ("apps/provisioning/tests/test_requests*.py",
                                      "apps/provisioning/tests/test_approvals.py",
                                      "apps/provisioning/tests/test_request_spec.py",
                                      "apps/provisioning/tests/test_refused_requests.py"),
    # The inventory's sync, refresh and assignment rules: the quick tests only. The property test (a
    # random cloud history, about 18 s) would run for every surviving mutant; the hand-written sync tests
    # cover the same rules (what counts as a change, deleted rows, relations, owners).
    "apps/resources/services.py": ("apps/resources/tests/test_services_rules*.py", "apps/resources/tests/test_sync.py",
                                   "apps/resources/tests/test_sync_apply.py", "apps/resources/tests/test_sync_feed.py",
                                   "apps/resources/tests/test_sync_schedule.py",
                                   "apps/resources/tests/test_resync_unchanged.py", "apps/resources/tests/test_api.py",
                                   "apps/resources/tests/test_services_refresh_batch.py",
                                   "apps/resources/tests/test_collection_breadth.py"),
    # Rating: the hand-computed bills, the properties, tags, bandwidth and estimates.
    "apps/billing/rating.py": ("apps/billing/tests/test_rating_rules*.py",
                               "apps/billing/tests/test_bills_hand_computed.py",
                               "apps/billing/tests/test_properties.py",
                               "apps/billing/tests/test_tags_bandwidth_estimates.py", "apps/billing/tests/test_api.py"),
    # Alert evaluation: validating a rule, the resources it watches, window values, firing and resolving.
    "apps/alerts/rules.py": ("apps/alerts/tests/test_rules_rules*.py", "apps/alerts/tests/test_timed.py",
                             "apps/alerts/tests/test_collection.py", "apps/alerts/tests/test_events.py",
                             "apps/alerts/tests/test_api.py"),
    # Quotas: the reservation and limit rules live in services.py (backend.py only forwards provisioning's
    # calls to it, dimensions.py converts a request into units): the hierarchy check, reserve, commit,
    # release, expiry, limits against usage and their children, requests for more.
    "apps/quotas/services.py": ("apps/quotas/tests/test_services_rules*.py", "apps/quotas/tests/test_services.py",
                                "apps/quotas/tests/test_state_machine.py", "apps/quotas/tests/test_approvals.py",
                                "apps/quotas/tests/test_network_dimensions.py",
                                "apps/quotas/tests/test_provisioning.py", "apps/quotas/tests/test_api.py"),
}

# What quotas' one-statement reservation runs (its PostgreSQL path), in mutmut's names.
_RESERVE_PATH = tuple(f"apps.quotas.services.x_{name}" for name in (
    "quota_reserve", "_ancestor_ids", "_uuid", "_reserve_in_one_statement", "_reserve_statement",
    "_reservation_fields", "_run_prepared", "_crosses", "_limit_from_row", "_first_refusal", "_refusal",
    "_after_reserve", "_crossings", "_holder", "_where", "_topic"))

# Integration-tier tests added to a module's selection on a ``--database postgresql`` run (its
# PostgreSQL-only paths as processes other than the test's run them), each with the module's functions
# that the processes it starts run. mutmut learns which test reaches which function from the calls
# made in the test's own process only; the work folder's conftest adds these, so a mutant of them runs
# these tests too. Quotas' two races of 20 processes are not among them: a process's start costs about
# 5 s of CPU here, and under mutmut (load 10-20 on 2 cores) their workers missed the tests' 180 s
# readiness deadline in the stats run, twice; what only they can tell (the row locks' order) is left to
# the integration tier.
POSTGRESQL_TESTS: dict[str, dict[str, tuple[str, ...]]] = {
    "apps/quotas/services.py": {
        "tests/integration/test_quotas_race.py::test_a_reservation_of_a_sigkilled_worker_is_released_by_the_sweeper":
            _RESERVE_PATH,
    },
}

# Module-level memos a module's tests fill, emptied at the start of every test session: each mutant's
# session is forked from the process that ran mutmut's stats and clean runs, and would otherwise use
# what the original code put there (quotas' cached reservation statements hid every mutant that
# changes the statement's text).
CACHES: dict[str, tuple[str, ...]] = {"apps/quotas/services.py": ("_RESERVE_SQL",)}


def selection(module: str, database: str = "sqlite") -> list[str]:
    """The module's test files and folders that exist now, in a stable order; on PostgreSQL also its
    integration-tier tests (``POSTGRESQL_TESTS``)."""
    found: list[str] = []
    for pattern in MODULES[module]:
        for path in sorted(REPO_DIR.glob(pattern)):
            name = str(path.relative_to(REPO_DIR))
            if name not in found:
                found.append(name)
    if database == "postgresql":
        found += [node for node in POSTGRESQL_TESTS.get(module, {}) if (REPO_DIR / node.split("::")[0]).exists()]
    return found


def work_database(work: Path) -> str:
    """The database a work folder's run uses (``run_module`` writes it)."""
    return (work / "database").read_text() if (work / "database").exists() else "sqlite"


# Written into each work folder's copy (never into the project): every forked mutant would otherwise
# build and migrate its own test database, which costs more than most mutants' tests. The first
# session migrates a file database once and keeps a snapshot; each later session (each mutant)
# starts from a private copy of it. On PostgreSQL (``--database postgresql``) the first session's
# migrated database becomes a template and each later session gets its own database made from it
# (CREATE DATABASE ... TEMPLATE), dropped at its end. Each mutant's tests run fastest first.
FAST_DATABASE_CONFTEST = '''"""Mutation runs: one migrated test database copied per session; fastest tests first."""

import contextlib
import json
import os
import shutil
import signal
import sqlite3
from pathlib import Path

import pytest

SNAPSHOT = Path(__file__).resolve().parent / "var" / "mutation-template.sqlite3"
STATS = Path(__file__).resolve().parent / "mutmut-stats.json"
# Written by the runner: module-level memos to empty per session, functions reached by the processes
# a test starts.
SESSION = Path(__file__).resolve().parent / "mutation-session.json"
# PostgreSQL: the first session migrates BUILD, which is then copied to TEMPLATE.
TEMPLATE, BUILD = "mutation_template", "mutation_build"


def _on_postgresql(settings):
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def _maintenance(sql):
    """One statement on the cluster's maintenance database, outside a transaction; its rows."""
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    with psycopg.connect(host=db["HOST"], port=db["PORT"] or None, user=db["USER"],
                         password=db["PASSWORD"] or None, dbname="postgres", autocommit=True) as conn:
        cursor = conn.execute(sql)
        return cursor.fetchall() if cursor.description else []


def _exists(name):
    return bool(_maintenance(f"SELECT 1 FROM pg_database WHERE datname = '{name}'"))


def _disconnect():
    """Close every connection of this process, the pooled ones too (``close_all`` gives those back to their
    pool, which keeps the session open): a database is copied or dropped only with no session on it."""
    from django.db import connections

    connections.close_all()
    for conn in connections.all(initialized_only=True):
        if conn.alias in getattr(type(conn), "_connection_pools", {}):
            conn.close_pool()


def _session_database():
    return f"mutation_{os.getpid()}"


def _session_settings():
    try:
        return json.loads(SESSION.read_text())
    except (OSError, ValueError):
        return {}


def pytest_sessionstart(session):
    """Every session (every mutant) starts with the mutated module's memos empty: it is forked from
    the process that ran the original code's tests, whose results they hold. The integration-tier
    tests of a PostgreSQL run check REDIS_URL; it is set once the settings are loaded without it, so
    only the processes those tests start run in the distributed mode."""
    import sys

    for module, names in _session_settings().get("caches", {}).items():
        loaded = sys.modules.get(module)
        for name in names if loaded is not None else ():
            getattr(loaded, name).clear()
    if os.environ.get("MUTATION_REDIS_URL") and not os.environ.get("REDIS_URL"):
        from django.conf import settings

        settings.DATABASES  # loaded now, in the embedded mode
        os.environ["REDIS_URL"] = os.environ["MUTATION_REDIS_URL"]
        # The processes those tests start (20 at once) would each compile every module of the copy
        # again: they may keep its bytecode (the copy does not change during a run).
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


@pytest.fixture(autouse=True)
def _reach_of_started_processes(request):
    """In mutmut's stats run, count as reached by this test the functions the processes it starts run
    (mutmut sees only the calls of the test's own process)."""
    reach = _session_settings().get("reach", {}).get(request.node.nodeid.removeprefix("mutants/"))
    if reach:
        from mutmut.mutation.trampoline import get_mutant_under_test

        if get_mutant_under_test() == "stats":
            from mutmut.state import state

            state()._stats.update(reach)


def pytest_collection_modifyitems(session, config, items):
    """mutmut hands each mutant its tests in no particular order and stops at the first failure
    (-x): running them fastest first (durations from mutmut's own stats run) means a mutant a quick
    test catches never waits for a slow one. Tests without a recorded duration run last."""
    try:
        durations = json.loads(STATS.read_text()).get("duration_by_test", {})
    except (OSError, ValueError):
        return
    if durations:
        items.sort(key=lambda item: durations.get(item.nodeid, float("inf")))


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    from django.conf import settings
    from django.db import connections

    if _on_postgresql(settings):
        _disconnect()
        name = BUILD
        if _exists(TEMPLATE):
            name = _session_database()
            _maintenance(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            _maintenance(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
        settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = name
        return
    if not settings.DATABASES["default"]["ENGINE"].endswith(".sqlite3"):  # Django's, or core's around it
        return
    _disconnect()
    name = SNAPSHOT.with_name(f"mutation-{os.getpid()}.sqlite3")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{name}{suffix}").unlink(missing_ok=True)
    if SNAPSHOT.exists():
        shutil.copyfile(SNAPSHOT, name)
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = str(name)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from django.db import connection, connections

    if connection.vendor == "postgresql" and not _exists(TEMPLATE):
        with django_db_blocker.unblock():
            _disconnect()
            _maintenance(f'CREATE DATABASE "{TEMPLATE}" TEMPLATE "{BUILD}"')
    if connection.vendor == "sqlite" and not SNAPSHOT.exists():
        with django_db_blocker.unblock():
            connection.ensure_connection()
            partial = SNAPSHOT.with_suffix(".partial")
            target = sqlite3.connect(partial)
            connection.connection.backup(target)
            target.close()
            os.replace(partial, SNAPSHOT)
    yield


def pytest_sessionfinish(session):
    from django.conf import settings
    from django.db import connections

    _disconnect()
    if _on_postgresql(settings):
        # Never a reason to change the session's verdict: a database left behind goes with the cluster.
        with contextlib.suppress(Exception):
            _maintenance(f'DROP DATABASE IF EXISTS "{_session_database()}" WITH (FORCE)')
        return
    name = SNAPSHOT.with_name(f"mutation-{os.getpid()}.sqlite3")
    if SNAPSHOT.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{name}{suffix}").unlink(missing_ok=True)
'''

DATABASES = ("sqlite", "postgresql")


@contextlib.contextmanager
def database_env(database: str, module: str | None = None) -> Iterator[dict[str, str]]:
    """What mutmut's environment adds for the tests' database: nothing for SQLite (a file per session,
    see the work folder's conftest); for PostgreSQL a throw-away cluster started as the integration
    tier starts it (``devtools.services``), for this one command, and ``DATABASE_URL`` pointing at it;
    when ``module`` has integration-tier tests (``POSTGRESQL_TESTS``), a Redis too for the processes
    they start (``MUTATION_REDIS_URL``, see the work folder's conftest)."""
    if database not in DATABASES:
        raise SystemExit(f"unknown database {database!r}; one of: {', '.join(DATABASES)}")
    if database == "sqlite":
        yield {}
        return
    from devtools.services import MissingService, start_postgres, start_redis

    with contextlib.ExitStack() as stack:
        try:
            service = start_postgres()
            stack.callback(service.stop)
            extra = {"DATABASE_URL": service.url}
            if module in POSTGRESQL_TESTS:
                redis = start_redis()
                stack.callback(redis.stop)
                extra["MUTATION_REDIS_URL"] = redis.url
        except MissingService as exc:
            raise SystemExit(f"PostgreSQL cannot run: {exc}") from exc
        yield extra


STATUS_BY_EXIT_CODE = {1: "killed", 3: "killed", 0: "survived", 5: "not_covered", 33: "not_covered",
                       36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout"}


def slug(module: str) -> str:
    return module.removesuffix(".py").replace("/", ".")


def resolve(name: str) -> str:
    """``statemachine``, ``provisioning/statemachine`` or the full path -> the module's path."""
    matches = [m for m in MODULES if m == name or slug(m) == name or m.removesuffix(".py").endswith("/" + name)]
    if len(matches) != 1:
        raise SystemExit(f"unknown or ambiguous module {name!r}; one of: {', '.join(MODULES)}")
    return matches[0]


def prepare(module: str, deselected: list[str] | None = None, database: str = "sqlite",
            work: Path | None = None) -> Path:
    """A fresh work folder for one module: links to the project and the module's mutmut settings."""
    work = work or WORK_DIR / slug(module)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for name in LINKED:
        (work / name).symlink_to(REPO_DIR / name)
    (work / "database").write_text(database)
    write_settings(work, module, deselected)
    # The copy imports settings from mutants/, whose node_modules must be the project's.
    (work / "mutants").mkdir(exist_ok=True)
    (work / "mutants" / "node_modules").symlink_to(REPO_DIR / "node_modules")
    (work / "mutants" / "conftest.py").write_text(FAST_DATABASE_CONFTEST)
    return work


def write_settings(work: Path, module: str, deselected: list[str] | None = None) -> None:
    """The work folder's pyproject: the project's ``[tool.mutmut]`` plus the module and its tests."""
    pyproject = (REPO_DIR / "pyproject.toml").read_text()
    header = "[tool.mutmut]\n"
    if header not in pyproject:
        raise SystemExit("pyproject.toml has no [tool.mutmut] section")
    settings = dict(tomllib.loads(pyproject)["tool"]["mutmut"])
    database = work_database(work)
    args = list(settings.get("pytest_add_cli_args", []))
    reach = POSTGRESQL_TESTS.get(module, {}) if database == "postgresql" else {}
    if reach and "-m" in args and args[args.index("-m") + 1] == "not integration":
        del args[args.index("-m"):args.index("-m") + 2]  # the selection names the integration tests it runs
    if reach:  # the integration tier's conftest starts its services through devtools
        settings["also_copy"] = [*settings.get("also_copy", []), "devtools"]
    settings["only_mutate"] = [module]
    settings["pytest_add_cli_args"] = [*args, "--reuse-db",
                                       *(arg for test in deselected or () for arg in ("--deselect", test))]
    settings["pytest_add_cli_args_test_selection"] = selection(module, database)
    (work / "mutants").mkdir(parents=True, exist_ok=True)
    (work / "mutants" / "mutation-session.json").write_text(json.dumps({
        "caches": {slug(module): list(CACHES.get(module, ()))},
        "reach": {node: list(functions) for node, functions in reach.items()}}))
    start = pyproject.index(header)
    end = pyproject.find("\n[", start + len(header))
    section = header + "".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items())
    (work / "pyproject.toml").write_text(pyproject[:start] + section + (pyproject[end:] if end >= 0 else ""))


def refresh_tests(work: Path, module: str) -> list[str]:
    """Copy the module's test files as they are now into the work folder's copy (mutmut copies the
    sources once, at the first run); returns those that were new or changed."""
    changed = []
    for name in dict.fromkeys(node.split("::")[0] for node in selection(module, work_database(work))):
        source, target = REPO_DIR / name, work / "mutants" / name
        if not target.exists() or target.read_bytes() != source.read_bytes():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            changed.append(name)
    return changed


def results(work: Path, module: str) -> dict[str, Any]:
    meta = work / "mutants" / (module + ".meta")
    if not meta.exists():
        raise SystemExit(f"mutmut left no results for {module} (see {work / 'mutmut.log'})")
    exit_codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
    by_status: dict[str, list[str]] = {}
    for name, code in sorted(exit_codes.items()):
        status = "not_checked" if code is None else STATUS_BY_EXIT_CODE.get(code, "suspicious")
        by_status.setdefault(status, []).append(name)
    total = len(exit_codes)
    killed = len(by_status.get("killed", ()))
    timeout = len(by_status.get("timeout", ()))
    return {
        "killed": killed,
        "survived": len(by_status.get("survived", ())) + len(by_status.get("not_covered", ())),
        "not_covered": len(by_status.get("not_covered", ())),
        "timed_out": timeout,
        "suspicious": len(by_status.get("suspicious", ())) + len(by_status.get("not_checked", ())),
        "untested": len(by_status.get("not_checked", ())),
        "total": total,
        "score": round((killed + timeout) / total, 3) if total else None,
        "survivors": by_status.get("survived", []) + by_status.get("not_covered", []),
    }


def run_module(module: str, max_children: int, deselected: list[str] | None = None,
               database: str = "sqlite", until: float | None = None, first: list[str] | None = None) -> dict[str, Any]:
    """A full run of one module; stopped at ``until`` (a time.time()) if given, and then recorded
    partial (as ``--partial`` would), so ``--resume`` finishes it later. With ``first`` (mutant name
    globs) only those mutants are tested, and the run is recorded partial with the others untested."""
    work = prepare(module, deselected, database)
    log = work / "mutmut.log"
    started, load_at_start = time.time(), load_average()
    only = f" (only {' '.join(first)})" if first else ""
    print(f"{module}: mutating{only} against {' '.join(selection(module, database))} on {database} (log: "
          f"{log.relative_to(REPO_DIR)})", flush=True)
    finished = run_mutmut(work, log, max_children, list(first or ()), until, database, module)
    duration = time.time() - started
    if not finished or untested_names(work, module):
        entry = record_partial(module)
        return {**entry, "deselected": list(deselected or ()), "max_children": max_children,
                "load_avg_1m_at_start": load_at_start}
    source = (REPO_DIR / module).read_bytes()
    git_state = subprocess.run(["git", "status", "--porcelain", "--", module], cwd=REPO_DIR,
                               capture_output=True, text=True).stdout.strip()
    found = results(work, module)
    found.pop("untested")
    return {
        "module": module,
        "tests": selection(module, database),
        "deselected": list(deselected or ()),
        "database": database,
        **found,
        "survivor_diffs": survivor_diffs(work, found["survivors"]),
        "commit": machine()["git_commit"],
        "module_changed_since_commit": bool(git_state),
        "module_sha256": hashlib.sha256(source).hexdigest()[:16],
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration_s": round(duration, 1),
        "max_children": max_children,
        "load_avg_1m_at_start": load_at_start,
    }


def retest_survivors(module: str, max_children: int, entry: dict[str, Any],
                     only: list[str] | None = None, until: float | None = None) -> dict[str, Any]:
    """Test again only the survivors of the module's last run (those ``only`` names, if given: the
    ones new tests were written for), in its work folder, against the test files as they are now (new
    tests first get their coverage stats, as mutmut does for new tests); every other mutant keeps its
    verdict. Stopped at ``until`` (a time.time()) if given: the survivors not re-tested by then stay
    survivors. Refused when the module changed since that run."""
    work = WORK_DIR / slug(module)
    source = (REPO_DIR / module).read_bytes()
    if not (work / "mutants" / (module + ".meta")).exists():
        raise SystemExit(f"{module}: no work folder to re-test in; run it first")
    if hashlib.sha256(source).hexdigest()[:16] != entry.get("module_sha256"):
        raise SystemExit(f"{module} changed since its last run; run it again in full")
    deselected = entry.get("deselected") or []
    write_settings(work, module, deselected)
    changed = refresh_tests(work, module)
    names = [n for n in entry["survivors"] if not only or any(fnmatch.fnmatch(n, pattern) for pattern in only)]
    kept = [n for n in entry["survivors"] if n not in names]
    meta_path = work / "mutants" / (module + ".meta")
    known = json.loads(meta_path.read_text())["exit_code_by_key"]
    # A survivor this work folder has already seen caught (an earlier re-test) is not run again.
    to_run = [n for n in names if STATUS_BY_EXIT_CODE.get(known.get(n)) not in ("killed", "timeout")]
    log = work / "mutmut-retest.log"
    started, load_at_start = time.time(), load_average()
    print(f"{module}: re-testing {len(to_run)} of {len(names)} survivors (changed test files: "
          f"{' '.join(changed) or 'none'})", flush=True)
    finished = True
    if to_run:
        finished = run_mutmut(work, log, max_children, to_run, until, entry.get("database", "sqlite"), module)
    # mutmut forgets the other mutants' verdicts when the test selection changes: they are taken
    # from the entry (the first run's), the re-tested ones from the work folder. A survivor the run
    # did not reach before ``until`` stays a survivor.
    meta = json.loads(meta_path.read_text())["exit_code_by_key"]
    status = {name: "not_checked" if meta.get(name) is None else STATUS_BY_EXIT_CODE.get(meta[name], "suspicious")
              for name in names}
    if not finished:
        status = {name: "survived" if v == "not_checked" else v for name, v in status.items()}
    unsure = sum(v in ("suspicious", "not_checked") for v in status.values())
    killed = entry["killed"] + sum(v == "killed" for v in status.values())
    timed_out = entry["timed_out"] + sum(v == "timeout" for v in status.values())
    survivors = sorted(kept + [n for n, v in status.items() if v in ("survived", "not_covered")])
    found = {"killed": killed, "survived": len(survivors),
             "not_covered": sum(v == "not_covered" for v in status.values())
             + sum(STATUS_BY_EXIT_CODE.get(known.get(n)) == "not_covered" for n in kept), "timed_out": timed_out,
             "suspicious": entry.get("suspicious", 0) + unsure,
             "total": entry["total"], "score": round((killed + timed_out) / entry["total"], 3),
             "survivors": survivors}
    if entry.get("partial"):
        # A partial run's score is over the mutants it tested (its untested ones stay untested).
        found.update(score=round((killed + timed_out) / entry["tested"], 3),
                     score_of_all=round((killed + timed_out) / entry["total"], 3))
    git_state = subprocess.run(["git", "status", "--porcelain", "--", module], cwd=REPO_DIR,
                               capture_output=True, text=True).stdout.strip()
    return {
        **entry,
        "tests": selection(module, entry.get("database", "sqlite")),
        **found,
        "survivor_diffs": survivor_diffs(work, found["survivors"]),
        "retest": {"survivors_retested": len(names), "run_again": len(to_run), "changed_test_files": changed,
                   "finished": finished,
                   "not_reached": sorted(n for n in to_run if meta.get(n) is None) if not finished else [],
                   "only": list(only or ()),
                   "commit": machine()["git_commit"], "started_at": time.strftime(
                       "%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)), "duration_s": round(time.time() - started, 1),
                   "max_children": max_children, "load_avg_1m_at_start": load_at_start},
        "module_changed_since_commit": bool(git_state),
    }


def retest_on_other_database(module: str, max_children: int, entry: dict[str, Any], database: str,
                             only: list[str] | None = None, aside: bool = False) -> dict[str, Any]:
    """Test the survivors of the module's recorded run again with the tests on the other database, in
    a work folder of its own (``mutants/<module>@<database>``). A module with a path per database (the
    quotas reservation and the resources apply are one statement on PostgreSQL and Python on SQLite)
    has mutants that only one database's run reaches: a mutant the selected tests catch on either
    database is caught. The ones caught here are counted killed (or timed out) and named in the entry's
    ``other_database``; the rest stay survivors. Refused when the module changed since the run.

    With ``aside`` the database may be the recorded one: the survivors are re-tested in that work
    folder of its own while the module's own folder is busy (a resume running in it), and the verdicts
    found there are recorded once the resume has recorded its own."""
    recorded = entry.get("database", "sqlite")
    if database == recorded and not aside:
        raise SystemExit(f"{module}: its recorded run used {database}; use --retest-survivors without --database")
    source = (REPO_DIR / module).read_bytes()
    if hashlib.sha256(source).hexdigest()[:16] != entry.get("module_sha256"):
        raise SystemExit(f"{module} changed since its last run; run it again in full")
    names = [n for n in entry["survivors"] if not only or any(fnmatch.fnmatch(n, pattern) for pattern in only)]
    work = WORK_DIR / f"{slug(module)}@{database}"
    meta_path = work / "mutants" / (module + ".meta")
    if meta_path.exists():
        write_settings(work, module, entry.get("deselected") or [])
        refresh_tests(work, module)
    else:
        prepare(module, entry.get("deselected") or [], database, work)
    known = json.loads(meta_path.read_text())["exit_code_by_key"] if meta_path.exists() else {}
    to_run = [n for n in names if STATUS_BY_EXIT_CODE.get(known.get(n)) not in ("killed", "timeout")]
    log = work / "mutmut-retest.log"
    started, load_at_start = time.time(), load_average()
    print(f"{module}: re-testing {len(to_run)} of {len(names)} survivors of the {recorded} run on {database}",
          flush=True)
    if to_run:
        with database_env(database, module) as extra, log.open("w") as out:
            env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **extra}
            done = subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(max_children),
                                   *to_run], cwd=work, stdout=out, stderr=subprocess.STDOUT, env=env)
        if done.returncode != 0:
            raise SystemExit(f"mutmut failed on {module} (exit {done.returncode}); see {log}")
    meta = json.loads(meta_path.read_text())["exit_code_by_key"]
    status = {name: STATUS_BY_EXIT_CODE.get(meta.get(name), "not_checked") for name in names}
    caught = sorted(n for n, v in status.items() if v in ("killed", "timeout"))
    main_meta = WORK_DIR / slug(module) / "mutants" / (module + ".meta")
    main_codes = json.loads(main_meta.read_text())["exit_code_by_key"] if main_meta.exists() else {}
    killed = entry["killed"] + sum(status[n] == "killed" for n in caught)
    timed_out = entry["timed_out"] + sum(status[n] == "timeout" for n in caught)
    survivors = [n for n in entry["survivors"] if n not in caught]
    not_covered = max(0, entry.get("not_covered", 0)
                      - sum(STATUS_BY_EXIT_CODE.get(main_codes.get(n)) == "not_covered" for n in caught))
    tested = entry.get("tested", entry["total"]) if entry.get("partial") else entry["total"]
    found = {"killed": killed, "timed_out": timed_out, "survived": len(survivors), "survivors": survivors,
             "not_covered": not_covered, "score": round((killed + timed_out) / tested, 3) if tested else None,
             "survivor_diffs": {n: d for n, d in (entry.get("survivor_diffs") or {}).items() if n not in caught}}
    if entry.get("partial"):
        found["score_of_all"] = round((killed + timed_out) / entry["total"], 3)
    return {
        **entry,
        **found,
        "other_database": [*entry.get("other_database", ()), {
            "database": database, "aside": aside, "survivors_retested": len(names), "run_again": len(to_run),
            "caught": len(caught), "caught_mutants": caught, "only": list(only or ()),
            "commit": machine()["git_commit"],
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "duration_s": round(time.time() - started, 1), "max_children": max_children,
            "load_avg_1m_at_start": load_at_start}],
    }


def untested_names(work: Path, module: str) -> list[str]:
    """The mutants the work folder's run has not tested (yet)."""
    meta = json.loads((work / "mutants" / (module + ".meta")).read_text())["exit_code_by_key"]
    return sorted(name for name, code in meta.items() if code is None)


def run_mutmut(work: Path, log: Path, max_children: int, names: list[str], until: float | None,
               database: str = "sqlite", module: str | None = None) -> bool:
    """``mutmut run`` on the named mutants in the work folder, stopped at ``until`` (a time.time()) if
    given: the verdicts so far are kept in the work folder. True when it ran to its end."""
    with database_env(database, module) as extra, log.open("w") as out:
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **extra}
        # Its own process group, so the mutant being tested stops with it (a run started in the
        # background ignores Ctrl-C, so it is stopped with SIGTERM; mutmut saves each verdict as it comes).
        process = subprocess.Popen([sys.executable, "-m", "mutmut", "run", "--max-children", str(max_children),
                                    *names], cwd=work, stdout=out, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)
        try:
            code = process.wait(timeout=None if until is None else max(until - time.time(), 1))
        except subprocess.TimeoutExpired:
            _stop(process)
            return False
        except BaseException:
            # Ctrl-C, or the runner stopped with SIGTERM (see main): mutmut and its mutant stop with it.
            _stop(process)
            raise
    if code != 0:
        raise SystemExit(f"mutmut failed in {work} (exit {code}); see {log}")
    return True


def _stop(process: subprocess.Popen) -> None:
    """Stop ``mutmut run`` and the mutant it is testing (its process group); verdicts so far are kept."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def resume(module: str, max_children: int, entry: dict[str, Any], only: list[str],
           until: float | None) -> dict[str, Any]:
    """Test the mutants a partial run left untested, against the tests as they are now; every mutant
    the run tested keeps its recorded verdict. Refused when the module changed since that run.

    The untested mutants are the entry's ``not_checked_mutants``; an entry made before those were
    kept needs ``only`` (mutant name globs covering at least every untested mutant). Mutants ``only``
    names that the run had tested (survivors to re-test in the same run, say) are tested again, and
    their recorded verdicts (the survivors among them by name, the others counted as killed) are
    replaced by the new ones."""
    if not entry.get("partial"):
        raise SystemExit(f"{module}: its recorded run is complete; nothing to resume")
    source = (REPO_DIR / module).read_bytes()
    if hashlib.sha256(source).hexdigest()[:16] != entry.get("module_sha256"):
        raise SystemExit(f"{module} changed since its recorded run; run it again in full")
    names = list(entry.get("not_checked_mutants") or ())
    if not names and not only:
        raise SystemExit(f"{module}: the record does not name its untested mutants; name them with --only GLOB")
    work = WORK_DIR / slug(module)
    meta_path = work / "mutants" / (module + ".meta")
    database = entry.get("database", "sqlite")
    if meta_path.exists():
        write_settings(work, module, entry.get("deselected") or [])
        changed = refresh_tests(work, module)
    else:
        prepare(module, entry.get("deselected") or [], database)
        changed = [name for name in selection(module, database) if name not in entry.get("tests", ())]
    log = work / "mutmut-resume.log"
    started, load_at_start = time.time(), load_average()
    again = f", and {len(only)} more named by --only" if only else ""
    print(f"{module}: resuming {len(names)} of {entry['not_checked']} untested{again} (test files new or changed "
          f"since: {' '.join(changed) or 'none'})", flush=True)
    finished = run_mutmut(work, log, max_children, [*names, *only], until, database, module)
    meta = json.loads(meta_path.read_text())["exit_code_by_key"]
    names = sorted(set(names) | {n for n in meta if any(fnmatch.fnmatch(n, pattern) for pattern in only)})
    if len(names) < entry["not_checked"]:
        raise SystemExit(f"{module}: {len(names)} mutants named, fewer than the {entry['not_checked']} untested")
    covered = set(names)
    # The mutants named that the recorded run had tested: its survivors among them by name, the
    # rest killed (or timed out, if more than the killed) -- replaced by the verdicts of this run.
    tested_before = len(names) - entry["not_checked"]
    survived_before = covered & set(entry["survivors"])
    caught_before = tested_before - len(survived_before)
    killed_before = min(caught_before, entry["killed"])
    status = {name: "not_checked" if meta.get(name) is None else STATUS_BY_EXIT_CODE.get(meta[name], "suspicious")
              for name in names}
    killed = entry["killed"] - killed_before + sum(v == "killed" for v in status.values())
    timed_out = (entry["timed_out"] - (caught_before - killed_before)
                 + sum(v == "timeout" for v in status.values()))
    survivors = sorted([n for n in entry["survivors"] if n not in covered]
                       + [n for n, v in status.items() if v in ("survived", "not_covered")])
    not_checked = sorted(n for n, v in status.items() if v == "not_checked")
    suspicious = entry.get("suspicious", 0) + sum(v == "suspicious" for v in status.values())
    total = entry["total"]
    tested = total - len(not_checked)
    found = {"killed": killed, "survived": len(survivors),
             "not_covered": sum(v == "not_covered" for v in status.values()), "timed_out": timed_out,
             "suspicious": suspicious, "total": total, "survivors": survivors,
             "score": round((killed + timed_out) / tested, 3) if tested else None}
    if not_checked:
        found.update(partial=True, not_checked=len(not_checked), not_checked_mutants=not_checked, tested=tested,
                     score_of_all=round((killed + timed_out) / total, 3))
    previous = [*entry.get("resumed", ())]
    out = {key: value for key, value in entry.items()
           if key not in ("partial", "not_checked", "not_checked_mutants", "tested", "score_of_all")}
    git_state = subprocess.run(["git", "status", "--porcelain", "--", module], cwd=REPO_DIR,
                               capture_output=True, text=True).stdout.strip()
    return {
        **out,
        "tests": selection(module, database),
        **found,
        "survivor_diffs": survivor_diffs(work, found["survivors"]),
        "resumed": [*previous, {
            "untested_before": entry["not_checked"], "named": len(names), "tested_again": tested_before,
            "finished": finished, "changed_test_files": changed, "commit": machine()["git_commit"],
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "duration_s": round(time.time() - started, 1), "max_children": max_children,
            "load_avg_1m_at_start": load_at_start}],
        "module_changed_since_commit": bool(git_state),
    }


def record_partial(module: str) -> dict[str, Any]:
    """The entry of a run stopped before its end (the machine's time ran out): the mutants mutmut
    tested so far, from the work folder as it stands. The untested ones are counted as
    ``not_checked``; ``score`` is over the tested ones and ``score_of_all`` over every mutant (the
    untested counted as survivors). The commit is the one checked out when the run started."""
    work = WORK_DIR / slug(module)
    found = results(work, module)
    not_checked = found.pop("untested")
    found["suspicious"] -= not_checked
    not_checked_names = untested_names(work, module)
    tested = found["total"] - not_checked
    started = (work / "pyproject.toml").stat().st_mtime
    commit = subprocess.run(["git", "rev-list", "-1", f"--before={int(started)}", "HEAD"], cwd=REPO_DIR,
                            capture_output=True, text=True).stdout.strip()
    source = (REPO_DIR / module).read_bytes()
    return {
        "module": module,
        "tests": selection(module, work_database(work)),
        "deselected": [],
        "database": work_database(work),
        **found,
        "partial": True,
        "not_checked": not_checked,
        "not_checked_mutants": not_checked_names,
        "tested": tested,
        "score": round((found["killed"] + found["timed_out"]) / tested, 3) if tested else None,
        "score_of_all": round((found["killed"] + found["timed_out"]) / found["total"], 3) if found["total"] else None,
        "survivor_diffs": survivor_diffs(work, found["survivors"]),
        "commit": commit,
        "module_changed_since_commit": bool(subprocess.run(
            ["git", "diff", "--quiet", commit, "--", module], cwd=REPO_DIR).returncode),
        "module_sha256": hashlib.sha256(source).hexdigest()[:16],
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration_s": round(time.time() - started, 1),
        "max_children": None,
        "load_avg_1m_at_start": None,
        "load_avg_1m_at_record": load_average(),
    }


def load_record() -> dict[str, Any]:
    if RECORD.exists():
        return json.loads(RECORD.read_text())
    return {"benchmark": "mutation", "modules": {}}


def write_record(record: dict[str, Any]) -> None:
    order = list(MODULES)
    modules = dict(sorted(record["modules"].items(),
                          key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))
    out = {
        "benchmark": "mutation",
        "title": "mutation testing of the rule modules (mutmut 3), each against the tests that exercise it",
        "tool": f"mutmut {_mutmut_version()}",
        "score": "(killed + timed out) / total; a mutant no test reaches counts as survived",
        "machine": machine(),
        "modules": modules,
    }
    RECORD.parent.mkdir(parents=True, exist_ok=True)
    RECORD.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")


def store(module: str, entry: dict[str, Any]) -> dict[str, Any]:
    """Write one module's entry into the record as it is on disk now (under a lock), so runs of other
    modules going on at the same time keep theirs; return the record written."""
    RECORD.parent.mkdir(parents=True, exist_ok=True)
    with open(RECORD.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        record = load_record()
        record["modules"][module] = entry
        write_record(record)
    return record


# Prints each named mutant's diff (what ``mutmut show`` prints after its first line) as one JSON object,
# in one process: ``mutmut show`` per survivor cost a Python start and a read of the mutated module
# each (about 4 minutes for 400 survivors under load, 0.1 s each this way).
_DIFFS = """
import json, sys
from mutmut.mutation.diff_apply import find_mutant, get_diff_for_mutant
path, diffs = None, {}
for name in json.load(sys.stdin):
    try:
        path = path or find_mutant(name).path
        diffs[name] = get_diff_for_mutant(name, path=path)
    except Exception:
        diffs[name] = None
json.dump(diffs, sys.stdout)
"""


def survivor_diffs(work: Path, names: list[str]) -> dict[str, str]:
    """Each surviving mutant's change, as the lines mutmut removed and added."""
    done = subprocess.run([sys.executable, "-c", _DIFFS], cwd=work, input=json.dumps(names), capture_output=True,
                          text=True)
    try:
        found: dict[str, str | None] = json.loads(done.stdout) if done.returncode == 0 else {}
    except ValueError:
        found = {}
    diffs: dict[str, str] = {}
    for name in names:
        shown = found.get(name)
        if shown is None:  # mutmut's own command, one process per mutant
            shown = subprocess.run([sys.executable, "-m", "mutmut", "show", name], cwd=work, capture_output=True,
                                   text=True).stdout
        lines = [line.strip() for line in shown.splitlines()
                 if line[:1] in "+-" and not line.startswith(("+++", "---"))]
        diffs[name] = " | ".join(lines)[:400]
    return diffs


def _utc_today(hhmm: str) -> float:
    """HH:MM (UTC, today) -> a time.time() value."""
    hours, minutes = (int(part) for part in hhmm.split(":"))
    return calendar.timegm(time.gmtime()[:3] + (hours, minutes, 0, 0, 0, 0))


def _mutmut_version() -> str:
    from importlib.metadata import version

    return version("mutmut")


def table(record: dict[str, Any]) -> str:
    header = ["module", "killed", "survived", "timed out", "total", "score", "duration", "commit"]
    def name(module: str, r: dict[str, Any]) -> str:
        databases = dict.fromkeys([r.get("database", "sqlite"), *(o["database"] for o in r.get("other_database", ()))])
        return module + ("" if list(databases) == ["sqlite"] else f" ({' + '.join(databases)})")

    rows = [[name(m, r), str(r["killed"]), str(r["survived"]), str(r["timed_out"]),
             str(r["total"]) + (f" ({r['tested']} tested)" if r.get("partial") else ""),
             "-" if r["score"] is None else f"{r['score']:.1%}", f"{r['duration_s']:.0f} s",
             (r["commit"] or "?")[:10] + ("+" if r["module_changed_since_commit"] else "")]
            for m, r in record["modules"].items()]
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(header)]

    def render(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    return "\n".join([render(header), render(["-" * w for w in widths]), *(render(row) for row in rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="rule modules to run (default: all, one after another)")
    parser.add_argument("--max-children", type=int, default=1, help="mutants tested at once (default 1)")
    parser.add_argument("--deselect", action="append", default=[], metavar="NODEID",
                        help="leave out one test of the selection (recorded; e.g. a test another change breaks)")
    parser.add_argument("--database", choices=DATABASES,
                        help="the tests' database for a full run (default sqlite; postgresql starts a throw-away "
                             "cluster; --resume uses the recorded run's). With --retest-survivors, another database "
                             "than the recorded run's: the survivors are tested again on it, and those caught there "
                             "count as killed (a module with a path per database)")
    parser.add_argument("--table", action="store_true", help="print the recorded table and stop")
    parser.add_argument("--retest-survivors", action="store_true",
                        help="test again only the survivors of the named modules' last runs, with the tests as they "
                             "are now (the module itself unchanged)")
    parser.add_argument("--resume", action="store_true",
                        help="test the mutants the named modules' partial runs left untested, keeping the other "
                             "verdicts (the module itself unchanged)")
    parser.add_argument("--only", action="append", default=[], metavar="GLOB",
                        help="with --resume: mutants to test again too (e.g. '*x_build_snapshot__mutmut_*'); for a "
                             "record that does not name its untested mutants, globs covering them. On a full run: "
                             "test only these mutants, and record the run partial (--resume tests the rest). With "
                             "--retest-survivors: only the survivors these name")
    parser.add_argument("--until", metavar="HH:MM",
                        help="stop at this UTC time today and record the run partial (with --resume: again; with "
                             "--retest-survivors: the survivors not re-tested by then stay survivors)")
    parser.add_argument("--aside", action="store_true",
                        help="with --retest-survivors: re-test in a work folder of its own "
                             "(mutants/<module>@<database>), e.g. while a resume runs in the module's own; the "
                             "verdicts found there are recorded")
    parser.add_argument("--partial", action="store_true",
                        help="record the named modules' runs as they stand (stopped before their end) and stop")
    args = parser.parse_args(argv)
    # SIGTERM (how a background run is stopped) unwinds like Ctrl-C: mutmut and a PostgreSQL started for
    # the run are stopped too; the verdicts so far stay in the work folder (record them with --partial).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    record = load_record()
    if args.database and args.resume:
        for module in [resolve(name) for name in args.modules]:
            recorded = record["modules"].get(module, {}).get("database", "sqlite")
            if recorded != args.database:
                raise SystemExit(f"{module}: its recorded run used {recorded}; run it again in full on {args.database}")
    if args.partial:
        for module in [resolve(name) for name in args.modules]:
            entry = record_partial(module)
            record = store(module, entry)
            print(f"  partial: tested {entry['tested']} of {entry['total']}: killed {entry['killed']}, survived "
                  f"{entry['survived']}, timed out {entry['timed_out']}, score {entry['score']:.1%} of those tested",
                  flush=True)
    elif args.resume:
        until = _utc_today(args.until) if args.until else None
        for module in [resolve(name) for name in args.modules]:
            if module not in record["modules"]:
                raise SystemExit(f"{module} has no recorded run to resume")
            entry = resume(module, args.max_children, record["modules"][module], args.only, until)
            record = store(module, entry)
            left = f", {entry['not_checked']} still untested" if entry.get("partial") else ""
            print(f"  killed {entry['killed']}, survived {entry['survived']}, timed out {entry['timed_out']}, "
                  f"total {entry['total']}{left}, score {entry['score']:.1%}", flush=True)
    elif args.retest_survivors:
        for module in [resolve(name) for name in args.modules]:
            if module not in record["modules"]:
                raise SystemExit(f"{module} has no recorded run to re-test")
            entry = record["modules"][module]
            if args.aside or (args.database and args.database != entry.get("database", "sqlite")):
                entry = retest_on_other_database(module, args.max_children, entry,
                                                 args.database or entry.get("database", "sqlite"), args.only,
                                                 aside=args.aside)
            else:
                entry = retest_survivors(module, args.max_children, entry, args.only,
                                         _utc_today(args.until) if args.until else None)
            record = store(module, entry)
            print(f"  killed {entry['killed']}, survived {entry['survived']}, timed out {entry['timed_out']}, "
                  f"total {entry['total']}, score {entry['score']:.1%}", flush=True)
    elif not args.table:
        for module in [resolve(name) for name in args.modules] or list(MODULES):
            until = _utc_today(args.until) if args.until else None
            entry = run_module(module, args.max_children, args.deselect, args.database or "sqlite", until, args.only)
            record = store(module, entry)
            left = f", {entry['not_checked']} untested" if entry.get("partial") else ""
            print(f"  killed {entry['killed']}, survived {entry['survived']}, timed out {entry['timed_out']}, "
                  f"total {entry['total']}{left}, score {entry['score']:.1%} in {entry['duration_s']:.0f} s",
                  flush=True)
    print(table(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
