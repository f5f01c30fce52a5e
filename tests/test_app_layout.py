"""Every app has the same files where it has the concern (CONVENTIONS.md, "How that looks here"), so a
reader knows where anything lives. The targets are found, not listed: the apps from the app registry,
the list endpoints from the URL configuration."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.apps import apps as django_apps
from django.urls import URLPattern, URLResolver, get_resolver

ROOT = Path(__file__).resolve().parent.parent


def project_apps() -> list[Any]:
    return [config for config in django_apps.get_app_configs() if config.name.startswith("apps.")]


def has_module(config: Any, name: str) -> bool:
    """``name`` is a module of the app, or a package split by topic (``services/``)."""
    path = Path(config.path)
    return (path / f"{name}.py").exists() or (path / name / "__init__.py").exists()


def api_views() -> Iterator[tuple[str, Any]]:
    """(route, DRF view class) of every route under /api/v1/ served by a view set's list action."""

    def walk(patterns: list[Any], prefix: str) -> Iterator[tuple[str, URLPattern]]:
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern).lstrip("^"))
            else:
                yield prefix + str(p.pattern).lstrip("^").rstrip("$"), p

    for route, pattern in walk(get_resolver().url_patterns, ""):
        actions = getattr(pattern.callback, "actions", None) or {}
        if route.startswith("api/v1/") and actions.get("get") == "list":
            yield route, pattern.callback.cls


def test_the_walks_find_their_targets():
    assert {c.label for c in project_apps()} >= {"core", "organizations", "rbac", "provisioning"}
    assert len(list(api_views())) >= 10


def test_every_app_with_models_writes_in_services_and_reads_in_selectors():
    missing = [f"{config.name}: {name}" for config in project_apps() if list(config.get_models())
               for name in ("services", "selectors") if not has_module(config, name)]
    assert missing == [], "apps without the module of a concern they have"


def test_every_filtered_list_filters_through_its_apps_filters_module():
    wrong = []
    for route, view in api_views():
        app = view.__module__.split(".")[1]
        if getattr(view, "filterset_fields", None):
            wrong.append(f"{route} ({view.__name__}): filterset_fields inline; a FilterSet in apps/{app}/filters.py")
        filterset = getattr(view, "filterset_class", None)
        if filterset is not None and filterset.__module__ != f"apps.{app}.filters":
            wrong.append(f"{route} ({view.__name__}): {filterset.__module__}.{filterset.__name__}")
    assert wrong == [], "\n".join(wrong)
