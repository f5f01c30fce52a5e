"""Readiness checks: the database, the broker and the channel layer, each with a short time limit."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db import connection

TIMEOUT = 1.5


def _timed(fn) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        detail = fn()
        ok = True
    except Exception as exc:  # a readiness probe reports failures, it does not raise them
        ok, detail = False, f"{type(exc).__name__}: {exc}"[:300]
    return {"ok": ok, "detail": detail, "ms": round((time.perf_counter() - started) * 1000, 1)}


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def _redis_ping(url: str) -> str:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT)
    try:
        client.ping()
    finally:
        client.close()
    return "redis"


def _broker() -> str:
    if settings.MODE == "embedded":
        return "in-process (memory)"
    return _redis_ping(settings.CELERY_BROKER_URL)


def _channel_layer() -> str:
    backend = settings.CHANNEL_LAYERS["default"]["BACKEND"]
    if backend.endswith("InMemoryChannelLayer"):
        return "in-memory"
    return _redis_ping(settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0])


LABELS = {"database": "Database", "broker": "Task broker", "channel_layer": "Event channel"}


def check_all() -> dict[str, dict[str, Any]]:
    checks = {"database": _timed(_database), "broker": _timed(_broker), "channel_layer": _timed(_channel_layer)}
    for name, check in checks.items():
        check["label"] = LABELS[name]
    return checks
