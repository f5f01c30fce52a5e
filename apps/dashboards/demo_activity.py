"""The demo moves on its own: in the embedded mode (``make run``), every ``EVERY`` seconds one
instance of the simulated demo region is stopped or started in cloudsim, as someone at the cloud's
own console would, and collected at once (stopping, starting) and again ``SETTLE_SECONDS`` later
(stopped, running). The inventory, the dashboards, the wall screens, quotas and costs that count running
instances follow within a minute of starting the console, without anyone doing anything.

It runs only where all of these hold: the embedded mode, ``UNIMANAGER_DEMO_ACTIVITY`` not ``0``,
and an active cloud platform at cloudsim's address (``CLOUDSIM_ENDPOINT``), which only the demo
creates. At least half of the demo's instances stay running.
"""

from __future__ import annotations

import logging
import os
import random
from typing import Any

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

EVERY = 20
TASK = "apps.dashboards.tasks.demo_activity_task"
SCHEDULE_NAME = "dashboards: demo activity"
INSTANCE = "ecs.instance"
LAST_KEY = "dashboards:demo-activity:last"
# Seconds after a change when it is collected again: cloudsim's start or stop takes one step (2 s).
SETTLE_SECONDS = 5


def enabled() -> bool:
    return settings.MODE == "embedded" and os.environ.get("UNIMANAGER_DEMO_ACTIVITY", "1") != "0"


def demo_platform() -> Any:
    from apps.clouds.models import CloudPlatform

    platforms = CloudPlatform.objects.filter(endpoint=settings.CLOUDSIM_ENDPOINT, is_active=True)
    return platforms.order_by("created_at").first()


def settle(*, platform: Any, adapter: Any = None) -> str | None:
    """Collect the instance changed last (the cloud has finished its start or stop by ``SETTLE_SECONDS``
    after it); returns its cloud id, or ``None`` when there is none."""
    from apps.clouds.adapters import adapter_for
    from apps.resources.services import resource_refresh

    last = cache.get(LAST_KEY)
    if not isinstance(last, dict) or last.get("platform") != platform.pk:
        return None
    resource_refresh(platform=platform, resource_type=INSTANCE, region=last["region"],
                     external_id=last["external_id"], adapter=adapter or adapter_for(platform))
    return last["external_id"]


def step(*, platform: Any, adapter: Any = None, rng: random.Random | None = None) -> dict[str, Any]:
    """One move: collect the instance changed last time, then stop or start another one. Returns what
    was done (``refreshed``, ``changed``, ``action``), for the log and the tests."""
    from apps.clouds.adapters import adapter_for
    from apps.resources.models import Resource
    from apps.resources.services import resource_refresh

    rng = rng or random.Random()
    adapter = adapter or adapter_for(platform)
    done: dict[str, Any] = {"refreshed": settle(platform=platform, adapter=adapter), "changed": None,
                            "action": None}
    rows = list(Resource.objects.filter(platform=platform, type=INSTANCE, deleted=False)
                .values_list("region", "external_id", "status"))
    running = [r for r in rows if r[2].lower() == "running"]
    stopped = [r for r in rows if r[2].lower() == "stopped"]
    if not rows:
        return done
    if stopped and (len(running) - 1 < len(rows) / 2 or rng.random() < 0.5):
        region, external_id, _status = rng.choice(stopped)
        adapter.start(INSTANCE, region, external_id)
        done["action"] = "start"
    elif running and len(running) - 1 >= len(rows) / 2:
        region, external_id, _status = rng.choice(running)
        adapter.stop(INSTANCE, region, external_id)
        done["action"] = "stop"
    else:
        return done
    done["changed"] = external_id
    # Collected at once (stopping or starting) so nobody picks it as running meanwhile, and again
    # next time once the cloud has finished the change.
    resource_refresh(platform=platform, resource_type=INSTANCE, region=region, external_id=external_id,
                     adapter=adapter)
    cache.set(LAST_KEY, {"platform": platform.pk, "region": region, "external_id": external_id}, timeout=EVERY * 10)
    return done


def run() -> dict[str, Any] | None:
    """The periodic task's body: nothing outside the demo (see the module's docstring)."""
    if not enabled():
        return None
    platform = demo_platform()
    if platform is None:
        return None
    done = step(platform=platform)
    logger.info("demo activity on %s: %s", platform.name, done)
    if done["changed"]:
        from apps.dashboards.tasks import demo_activity_settle_task

        demo_activity_settle_task.apply_async(countdown=SETTLE_SECONDS)
    return done


def run_settle() -> str | None:
    """The follow-up task's body: collect the instance changed last, once the cloud has finished."""
    platform = demo_platform() if enabled() else None
    return None if platform is None else settle(platform=platform)


def install_schedule(**kwargs: Any) -> None:
    """Keep the demo activity in the beat schedule after every migration (it does nothing outside
    the embedded demo, so the entry is harmless elsewhere)."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every, _ = IntervalSchedule.objects.get_or_create(every=EVERY, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.update_or_create(name=SCHEDULE_NAME, defaults={"task": TASK, "interval": every,
                                                                         "enabled": True})
