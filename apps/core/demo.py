"""The demo data registry: each app adds its part; ``manage.py seed_demo`` loads them all in order.

Seeders are idempotent, so running the command again keeps existing data and adds what is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(order=True)
class DemoSeeder:
    order: int
    name: str = field(compare=True)
    run: Callable[[], None] = field(compare=False)
    sign_ins: list[tuple[str, str, str]] = field(compare=False, default_factory=list)


_seeders: dict[str, DemoSeeder] = {}


def register_demo(*, order: int, sign_ins: list[tuple[str, str, str]] | None = None):
    """Register a seeder; ``sign_ins`` lists (role, username, password) it creates."""

    def wrap(fn: Callable[[], None]) -> Callable[[], None]:
        name = f"{fn.__module__}.{fn.__name__}"
        _seeders[name] = DemoSeeder(order, name, fn, list(sign_ins or []))
        return fn

    return wrap


def seeders() -> list[DemoSeeder]:
    """Every app's seeders, in order; an app's ``demo`` module is found without its ``apps.py`` naming it."""
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("demo")
    return sorted(_seeders.values())


def demo_sign_ins() -> list[tuple[str, str, str]]:
    return [s for seeder in seeders() for s in seeder.sign_ins]
