"""The container files describe the distributed mode correctly. There is no Docker engine in the
test environment, so these read the files: the five services, their health checks and start-up
order, and that every variable the compose file gives the application is one the settings read."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("web", "worker", "beat")
DATA_STORES = ("postgres", "redis")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def settings_variables() -> set[str]:
    """Names of the environment variables ``unimanager/settings.py`` reads."""
    source = (ROOT / "unimanager" / "settings.py").read_text()
    readers = r"(?:os\.environ\.get|os\.getenv|env_bool|env_list|env_int|env_float)\(\s*|os\.environ\["
    return set(re.findall(rf"(?:{readers})[\"']([A-Z][A-Z0-9_]*)[\"']", source))


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the "NAME=value" form
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {name: str(value) for name, value in env.items()}


def command_text(command) -> str:
    return " ".join(command) if isinstance(command, list) else str(command or "")


def test_the_settings_reader_finds_the_known_variables():
    assert {"DATABASE_URL", "REDIS_URL", "UNIMANAGER_SECRET_KEY", "UNIMANAGER_ALLOWED_HOSTS",
            "UNIMANAGER_DEBUG"} <= settings_variables()


def test_the_five_services_exist(services):
    assert set(APP_SERVICES + DATA_STORES) <= set(services)


def test_data_stores_use_the_supported_versions(services):
    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"


@pytest.mark.parametrize("name", APP_SERVICES + DATA_STORES)
def test_every_service_has_a_healthcheck(services, name):
    check = services[name].get("healthcheck")
    assert check and check.get("test"), f"{name} has no healthcheck"
    assert not check.get("disable")
    test = check["test"]
    assert isinstance(test, str) or test[0] in {"CMD", "CMD-SHELL"}


@pytest.mark.parametrize("name", APP_SERVICES)
def test_application_services_wait_for_healthy_postgres_and_redis(services, name):
    depends = services[name].get("depends_on")
    assert isinstance(depends, dict), f"{name}: depends_on needs the long form with conditions"
    for store in DATA_STORES:
        assert depends.get(store, {}).get("condition") == "service_healthy", f"{name} -> {store}"


@pytest.mark.parametrize("name", ("worker", "beat"))
def test_workers_and_beat_start_after_web_has_migrated(services, name):
    assert services[name]["depends_on"].get("web", {}).get("condition") == "service_healthy"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_every_variable_given_to_the_application_is_read_by_the_settings(services, name):
    unknown = set(environment(services[name])) - settings_variables()
    assert not unknown, f"{name} sets variables unimanager/settings.py never reads: {sorted(unknown)}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_the_application_runs_in_the_distributed_mode_against_the_compose_stores(services, name):
    env = environment(services[name])
    assert urlsplit(env["DATABASE_URL"]).scheme.startswith("postgres")
    assert urlsplit(env["DATABASE_URL"]).hostname == "postgres"
    assert urlsplit(env["REDIS_URL"]).scheme == "redis"
    assert urlsplit(env["REDIS_URL"]).hostname == "redis"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_the_secret_key_is_required_not_defaulted(services, name):
    """A default key in a public file would be every installation's key."""
    assert re.fullmatch(r"\$\{UNIMANAGER_SECRET_KEY:\?[^}]+\}", environment(services[name])["UNIMANAGER_SECRET_KEY"])


def test_the_web_healthcheck_asks_the_console_itself(services):
    test = command_text(services["web"]["healthcheck"]["test"])
    assert re.search(r"/(healthz|readyz)\b", test), test


def test_the_web_healthcheck_host_is_always_allowed(services):
    test = command_text(services["web"]["healthcheck"]["test"])
    host = re.search(r"https?://([^:/]+)", test).group(1)
    allowed = environment(services["web"])["UNIMANAGER_ALLOWED_HOSTS"]
    assert host in re.sub(r"\$\{[^}]*\}", "", allowed).split(","), (host, allowed)


def test_worker_and_beat_run_celery(services):
    assert "celery -A unimanager worker" in command_text(services["worker"]["command"])
    assert "celery -A unimanager beat" in command_text(services["beat"]["command"])


def test_web_publishes_the_console_port(services):
    assert any(str(port).endswith(":8000") for port in services["web"]["ports"])


def test_the_image_is_built_from_python_3_11_slim(dockerfile):
    bases = re.findall(r"^FROM\s+(\S+)", dockerfile, flags=re.MULTILINE)
    assert bases and all(base == "python:3.11-slim" for base in bases), bases


def test_the_image_installs_the_front_end_and_the_application(dockerfile):
    assert re.search(r"apt-get install[^\n]*\bnodejs\b[^\n]*\bnpm\b", dockerfile)
    assert re.search(r"COPY package\.json package-lock\.json", dockerfile)
    assert "npm ci" in dockerfile
    assert re.search(r"pip install \.(\s|$)", dockerfile)
    assert "collectstatic --noinput" in dockerfile


def test_collectstatic_does_not_leave_a_generated_secret_key_in_the_image(dockerfile):
    line = next(line for line in dockerfile.splitlines() if "collectstatic" in line)
    assert "UNIMANAGER_SECRET_KEY=" in line


def test_the_image_migrates_then_serves_with_daphne(dockerfile):
    cmd = re.search(r"^CMD\s+(.+)$", dockerfile, flags=re.MULTILINE).group(1)
    script = " ".join(yaml.safe_load(cmd))  # the JSON (exec) form
    assert "daphne -b 0.0.0.0 -p 8000 unimanager.asgi:application" in script
    assert script.index("manage.py migrate") < script.index("daphne")
    assert "exec daphne" in script  # daphne is PID 1 and receives the stop signal


def test_the_image_does_not_run_as_root(dockerfile):
    users = re.findall(r"^USER\s+(\S+)", dockerfile, flags=re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}


def test_the_build_context_leaves_out_local_state():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".git", ".venv", "node_modules", "var"} <= ignored


def test_compose_commands_are_plain_argument_lists(services):
    for name in ("worker", "beat"):
        command = services[name]["command"]
        assert isinstance(command, list) and command == shlex.split(" ".join(command))
