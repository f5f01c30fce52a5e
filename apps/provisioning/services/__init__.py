"""Writes of the provisioning app, split by topic:

- ``apps.provisioning.requests``: provisioning requests, approval policies and decisions;
- ``apps.provisioning.lifecycle``: operations on resources, run by Celery in short steps, and the
  reconciler that resumes or ends operations whose worker died;
- ``apps.provisioning.schedules``: operations run at a time or on a recurring schedule.

Callers outside those modules (views, tasks, later apps) import the services from here, so they need
not know the split; the topic modules import one another directly.
"""

from apps.provisioning.lifecycle import (
    lifecycle_finish,
    lifecycle_finish_group,
    lifecycle_poll,
    lifecycle_run,
    lifecycle_run_many,
    lifecycle_step,
    operation_start,
    operations_batch,
    reconcile,
)
from apps.provisioning.requests import policy_create, policy_delete, request_cancel, request_create, request_decide
from apps.provisioning.schedules import schedule_create, schedule_delete, schedule_run

__all__ = [
    "lifecycle_finish", "lifecycle_finish_group", "lifecycle_poll", "lifecycle_run", "lifecycle_run_many",
    "lifecycle_step", "operation_start", "operations_batch", "policy_create", "policy_delete", "reconcile",
    "request_cancel", "request_create", "request_decide", "schedule_create", "schedule_delete", "schedule_run",
]
