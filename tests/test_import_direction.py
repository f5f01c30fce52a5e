"""Dependencies between apps point one way (DESIGN.md §2).

An app never imports a later app — not at module level, not lazily inside a function, not by a
dotted string handed to an importer — and never reaches into ``unimanager`` (settings aside): start-up
wiring lives there and calls down, not the other way round. App code never imports the test suite.

App tests obey the same order, with two allowances: they may import ``tests.*`` (the shared factories
and fixtures, ``tests.factories`` gathering every app's builders) and ``unimanager.*`` (the assembled
project: its ASGI application, URLs and Celery app). A test that exercises several apps lives under
``tests/``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. Apps not built yet keep their place so the rule holds the day they land.
ORDER = [
    "core", "organizations", "rbac", "security", "clouds", "resources", "provisioning",
    "quotas", "billing", "alerts", "dashboards", "resilience",
]
RANK = {name: i for i, name in enumerate(ORDER)}
ALLOWED_PROJECT_MODULES = ("unimanager.settings",)
_DOTTED = re.compile(r"^(apps\.\w+|unimanager)(\.\w+)+$")


def imported_names(source: str) -> list[tuple[int, str]]:
    """Every module a source file names: imports at any depth and dotted strings naming a module."""
    names: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append((node.lineno, node.module))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _DOTTED.match(node.value):
            names.append((node.lineno, node.value))
    return names


def violations(app: str, source: str, *, test_module: bool = False) -> list[str]:
    """The names in ``source`` (a module of ``app``; a test module when ``test_module``) that point the
    wrong way."""
    found = []
    for line, name in imported_names(source):
        parts = name.split(".")
        if parts[0] == "apps" and len(parts) > 1 and parts[1] in RANK and RANK[parts[1]] > RANK[app]:
            found.append(f"{line}: {app} -> {name}")
        elif parts[0] == "unimanager" and not (test_module or name.startswith(ALLOWED_PROJECT_MODULES)):
            found.append(f"{line}: {app} -> {name}")
        elif parts[0] == "tests" and not test_module:
            found.append(f"{line}: {app} -> {name}")
    return found


def is_test_module(path: Path) -> bool:
    return "tests" in path.relative_to(ROOT / "apps").parts


def app_modules() -> list[tuple[str, Path]]:
    modules = []
    for path in sorted((ROOT / "apps").rglob("*.py")):
        app = path.relative_to(ROOT / "apps").parts[0]
        if app in RANK:
            modules.append((app, path))
    return modules


def test_every_app_module_imports_only_apps_below_it():
    wrong = []
    for app, path in app_modules():
        found = violations(app, path.read_text(), test_module=is_test_module(path))
        wrong.extend(f"{path.relative_to(ROOT)}:{v}" for v in found)
    assert wrong == [], "imports against the dependency order:\n" + "\n".join(wrong)


def test_the_walk_covers_every_app_package():
    apps_on_disk = {p.name for p in (ROOT / "apps").iterdir() if (p / "apps.py").exists()}
    assert apps_on_disk, "no app found"
    assert apps_on_disk <= set(RANK), f"apps missing from the dependency order: {apps_on_disk - set(RANK)}"
    assert {app for app, _ in app_modules()} == apps_on_disk


@pytest.mark.parametrize("source, expected", [
    ("from apps.provisioning.models import Request\n", ["1: resources -> apps.provisioning.models"]),
    ("import apps.billing.services\n", ["1: resources -> apps.billing.services"]),
    ("def f():\n    from apps.provisioning import tasks\n", ["2: resources -> apps.provisioning"]),
    ("TASK = 'apps.provisioning.tasks.run'\n", ["1: resources -> apps.provisioning.tasks.run"]),
    ("from unimanager.celery import app\n", ["1: resources -> unimanager.celery"]),
    ("from tests import factories\n", ["1: resources -> tests"]),
    ("from apps.clouds.models import CloudPlatform\nfrom apps.core.errors import NotFound\n", []),
    ("from unimanager.settings import BASE_DIR\nfrom django.conf import settings\n", []),
    ("MESSAGE = 'apps.provisioning is a later app'\n", []),
])
def test_the_check_catches_a_deliberately_wrong_import(source, expected):
    assert violations("resources", source) == expected


@pytest.mark.parametrize("source, expected", [
    ("from apps.provisioning.tests.factories import request\n", ["1: resources -> apps.provisioning.tests.factories"]),
    ("from apps.provisioning.tests.conftest import world\n", ["1: resources -> apps.provisioning.tests.conftest"]),
    ("def f():\n    from apps.provisioning.models import ChangeRecord\n", ["2: resources -> apps.provisioning.models"]),
    ("from tests import factories as f\nfrom tests.fixtures import api_as\n", []),
    ("from unimanager.asgi import application\nfrom unimanager.celery import app\n", []),
    ("from apps.clouds.tests.factories import platform\n", []),
])
def test_a_test_module_may_use_the_shared_factories_and_the_project_but_no_later_app(source, expected):
    assert violations("resources", source, test_module=True) == expected


def test_test_modules_are_told_apart_from_app_code():
    assert is_test_module(ROOT / "apps" / "resources" / "tests" / "test_sync.py")
    assert is_test_module(ROOT / "apps" / "resources" / "tests" / "conftest.py")
    assert not is_test_module(ROOT / "apps" / "resources" / "services.py")
