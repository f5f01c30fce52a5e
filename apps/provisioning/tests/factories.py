"""Objects of the provisioning app for the tenant isolation and audit walks."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from django.utils import timezone

from apps.core.models import Operation
from apps.organizations.models import Project
from apps.provisioning.models import (
    ApprovalPolicy,
    ChangeRecord,
    ProvisioningRequest,
    ScheduledOperation,
    Script,
    ScriptRun,
    ScriptRunTarget,
)
from apps.resources.tests.factories import isolation_objects as inventory_objects
from apps.resources.tests.factories import resource

_seq = itertools.count(1)
# A spec as the API stores it once accepted (typed, defaults and the instance type's size filled in).
STORED_SPEC = {"instance_type": "ecs.g6.large", "image_id": "centos_7_9_x64_20G_alibase_20230919.vhd",
               "zone": "cn-hangzhou-a", "vswitch_id": "vsw-stored", "security_group_id": "sg-stored", "name": "web",
               "system_disk_gib": 40, "tags": {}, "vcpu": 2, "memory_mib": 8192}


def isolation_objects(org: Any) -> list[Any]:
    n = next(_seq)
    platform = inventory_objects(org)[0]
    project = Project.objects.create(organization=org, name=f"provisioning-{n}")
    row = resource(platform, organization=org, project=project)
    request = ProvisioningRequest.objects.create(organization=org, project=project, platform=platform,
                                                 region="cn-hangzhou", spec=STORED_SPEC,
                                                 levels=[{"mode": "any", "roles": [], "users": []}])
    policy = ApprovalPolicy.objects.create(organization=org, name=f"policy {n}")
    op = Operation.objects.create(organization=org, kind="ecs.instance.stop", status=Operation.Status.SUCCEEDED)
    now = timezone.now()
    change = ChangeRecord.objects.create(organization=org, project=project, platform=platform, operation=op,
                                         resource=row, action="stop", resource_type=row.type, region=row.region,
                                         external_id=row.external_id, client_token=f"iso-{org.pk}-{n}",
                                         phase=ChangeRecord.Phase.DONE, deadline=now + timedelta(minutes=5),
                                         heartbeat_at=now)
    sched = ScheduledOperation.objects.create(organization=org, project=project, resource=row, action="stop",
                                              cron="0 20 * * 1-5")
    script = Script.objects.create(organization=org, project=project, name=f"script {n}", content="hostname")
    run_op = Operation.objects.create(organization=org, kind="ecs.instance.command", status=Operation.Status.SUCCEEDED)
    run = ScriptRun.objects.create(organization=org, project=project, operation=run_op, script=script, name=script.name,
                                   language="shell", content="hostname", phase=ScriptRun.Phase.DONE,
                                   deadline=now + timedelta(minutes=5), heartbeat_at=now)
    ScriptRunTarget.objects.create(run=run, resource=row, platform=platform, region=row.region,
                                   instance_id=row.external_id, name=row.name, status="success", exit_code=0,
                                   output="web-1\n")
    return [row, request, policy, change, sched, script, run]
