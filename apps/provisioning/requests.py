"""Provisioning requests: validation against what the cloud offers, the quota and price hooks,
approval policies and decisions, and launching one create operation per instance.

Rules enforced here:
- the requester needs ``<service>:<kind>:create`` on the project; the project must be one the
  platform serves (the platform's organization or below it, or listed on the platform);
- the spec is checked against the catalog first (region, zone, instance type, count, disk) with no
  cloud call, then against the cloud's images, vSwitches and security groups; nothing is reserved
  or created for a refused request;
- the most specific active policy decides: auto-approval under its thresholds, else its levels in
  order, each needing any one or all of its approvers; a requester never approves their own request
  and a person decides at most one level of a request; a level's role counts only when held on a
  scope containing the request (never the same role held on another organization); one denial ends
  the request and releases its quota reservation.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from apps.clouds.adapters.base import CloudCallError
from apps.clouds.models import CloudPlatform, Region
from apps.clouds.services import platform_check_create
from apps.core.errors import Conflict, Forbidden, InvalidInput, Refused
from apps.core.events import emit
from apps.core.scoping import authorize
from apps.organizations.models import Project
from apps.provisioning import checks, hooks, offers, specs
from apps.provisioning.lifecycle import change_create, permission_for
from apps.provisioning.models import ApprovalDecision, ApprovalPolicy, ProvisioningRequest, RequestEvent

APPROVE = "provisioning:request:approve"
MAX_COUNT = 20


def _event(request: ProvisioningRequest, kind: str, message: str, actor: Any = None) -> None:
    RequestEvent.objects.create(request=request, kind=kind, message=message[:500],
                                actor=actor if getattr(actor, "is_authenticated", False) else None)
    emit(request.organization_id, request.topic, {"event": "request_changed", "id": request.id,
                                                  "status": request.status, "kind": kind})


def platform_serves(platform: CloudPlatform, project: Project) -> bool:
    org_path = platform.organization.path
    return project.organization.path.startswith(org_path) or platform.projects.filter(pk=project.pk).exists()


def validate_spec(*, platform: CloudPlatform, region: Any, spec: Any, count: Any,
                  resource_type: str = "ecs.instance", actor: Any = None) -> dict[str, Any]:
    """The cleaned spec, or ``InvalidInput`` naming every bad field. The spec is parsed by its
    type's serializer first; catalog checks come next and need no cloud call; only a spec that
    passes them is checked against the cloud's lists."""
    errors: dict[str, Any] = {}
    try:
        typed = specs.spec_parse(resource_type=resource_type, spec=spec)
    except InvalidInput as exc:
        errors.update(exc.detail)
        typed = {}
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_COUNT:
        errors["count"] = [f"an integer from 1 to {MAX_COUNT}"]
    if not isinstance(region, str) or not Region.objects.filter(platform=platform, region_id=region,
                                                                 enabled=True).exists():
        errors["region"] = [f"{platform.name} has no enabled region {region!r}"]
    if typed and resource_type not in specs.COUNTABLE and count != 1 and "count" not in errors:
        errors["count"] = [f"one {resource_type} per request"]
    if not typed or "region" in errors:
        raise InvalidInput("The request is not valid; see detail.", detail=errors)
    offered = offers.catalog_offers(platform, region)
    if resource_type != "ecs.instance":
        return _validate_other(platform=platform, region=region, resource_type=resource_type, typed=typed,
                               count=count, offered=offered, actor=actor, errors=errors)
    types = {t["code"]: t for t in offered["instance_types"]}
    itype, zone = typed["instance_type"], typed["zone"]
    if itype not in types:
        errors["instance_type"] = [f"{itype!r} is not an instance type {platform.name} offers in {region}"]
    if zone not in offered["zones"]:
        errors["zone"] = [f"{zone!r} is not a zone of {region} on {platform.name}"]
    disk = typed.get("system_disk_category")
    disks = {d["code"]: d for d in offered["disk_categories"]}
    if disk is not None and (disk not in disks or (disks[disk]["zones"] and zone not in disks[disk]["zones"])):
        errors["system_disk_category"] = [f"{disk!r} is not offered in {zone}"]
    if errors:
        raise InvalidInput("The request is not valid; see detail.", detail=errors)
    try:
        cloud = offers.cloud_offers(platform, region)
    except CloudCallError as exc:
        raise Conflict(f"The cloud cannot be reached to check the request ({exc.code}); try again.",
                       code="cloud_unavailable") from None
    vswitches = {v["id"]: v for v in cloud["vswitches"]}
    groups = {g["id"]: g for g in cloud["security_groups"]}
    images = {i["id"] for i in cloud["images"]}
    if images and typed["image_id"] not in images:
        errors["image_id"] = [f"{typed['image_id']!r} is not an image of {region}"]
    vsw = vswitches.get(typed["vswitch_id"])
    if vsw is None:
        errors["vswitch_id"] = [f"{typed['vswitch_id']!r} is not an available vSwitch of {region}"]
    elif vsw["zone"] != zone:
        errors["vswitch_id"] = [f"the vSwitch is in {vsw['zone']}, not {zone}"]
    sg = groups.get(typed["security_group_id"])
    if sg is None:
        errors["security_group_id"] = [f"{typed['security_group_id']!r} is not a security group of {region}"]
    elif vsw is not None and sg["vpc_id"] and sg["vpc_id"] != vsw["vpc_id"]:
        errors["security_group_id"] = ["the security group is in another VPC than the vSwitch"]
    if errors:
        raise InvalidInput("The request is not valid; see detail.", detail=errors)
    try:  # the cloud's own check (DryRun) of the whole count, where it offers one; nothing is created
        platform_check_create(platform=platform, region=region, resource_type=resource_type, params=typed,
                              count=count)
    except CloudCallError as exc:
        if not exc.transient:  # a check that could not run is no refusal: the create is checked again
            raise Refused(f"{platform.name} refused the request: {exc.code}: {exc.message}", code="cloud_refused",
                          detail={"cloud": {"code": exc.code, "message": exc.message}}) from None
    return {**typed, "vcpu": types[itype]["vcpu"], "memory_mib": types[itype]["memory_mib"]}


def _validate_other(*, platform: CloudPlatform, region: str, resource_type: str, typed: dict[str, Any], count: int,
                    offered: dict[str, Any], actor: Any, errors: dict[str, Any]) -> dict[str, Any]:
    """The rules of every type but an ECS instance (``checks``): catalog first, then the cloud's lists,
    then the cloud's own DryRun where the type has one."""
    extra = checks.catalog_check(platform=platform, region=region, resource_type=resource_type, typed=typed,
                                 offered=offered, actor=actor, errors=errors)
    if errors:
        raise InvalidInput("The request is not valid; see detail.", detail=errors)
    try:
        cloud = offers.cloud_offers(platform, region)
        checks.cloud_check(platform=platform, region=region, resource_type=resource_type, typed=typed, cloud=cloud,
                           errors=errors)
    except CloudCallError as exc:
        raise Conflict(f"The cloud cannot be reached to check the request ({exc.code}); try again.",
                       code="cloud_unavailable") from None
    if errors:
        raise InvalidInput("The request is not valid; see detail.", detail=errors)
    clean = {**typed, **extra}
    try:
        platform_check_create(platform=platform, region=region, resource_type=resource_type,
                              params={**checks.cloud_params(resource_type, clean, cloud), "name": clean.get("name")},
                              count=count)
    except CloudCallError as exc:
        if not exc.transient:
            raise Refused(f"{platform.name} refused the request: {exc.code}: {exc.message}", code="cloud_refused",
                          detail={"cloud": {"code": exc.code, "message": exc.message}}) from None
    return clean


def policy_for(*, organization: Any, project: Any, service: str) -> ApprovalPolicy | None:
    """The most specific active policy: of the project before the organization's, of the service before any."""
    candidates = ApprovalPolicy.objects.filter(organization=organization, is_active=True).filter(
        Q(project=project) | Q(project__isnull=True)).filter(Q(service=service) | Q(service=""))
    ranked = sorted(candidates, key=lambda p: (p.project_id is None, p.service == "", p.created_at))
    return ranked[0] if ranked else None


DEFAULT_LEVELS = [{"mode": "any", "roles": [], "users": []}]


def _auto_approves(policy: ApprovalPolicy | None, count: int, vcpu: int) -> bool:
    if policy is None:
        return False
    if not policy.levels:
        return True
    if policy.auto_approve_max_count is None and policy.auto_approve_max_vcpu is None:
        return False
    return ((policy.auto_approve_max_count is None or count <= policy.auto_approve_max_count) and
            (policy.auto_approve_max_vcpu is None or count * vcpu <= policy.auto_approve_max_vcpu))


def request_create(*, actor: Any, project: Any, platform: Any, region: str, spec: Any, count: Any,
                   reason: str = "", resource_type: str = "ecs.instance") -> ProvisioningRequest:
    """Check the request, then reserve its quota, record it and apply its policy in one transaction.

    The checks ask the cloud, so they run before that transaction opens (callers must not open one
    around this either): a slow cloud must never hold the database's write lock."""
    if resource_type not in specs.SPECS:
        raise Refused(f"Requests can ask for {', '.join(sorted(specs.SPECS))} so far.", code="unsupported_service")
    if not isinstance(project, Project):
        raise InvalidInput("Choose a project you belong to.", detail={"project": ["not found"]})
    probe = ProvisioningRequest(organization=project.organization, project=project, platform=platform)
    if not authorize(actor, permission_for(resource_type, "create"), probe):
        raise InvalidInput("Choose a project you may provision in.", detail={"project": ["not found"]})
    if not platform_serves(platform, project) or not platform.is_active:
        raise InvalidInput("This cloud platform does not serve the project.", detail={"platform": ["not available"]})
    if not isinstance(reason, str) or len(reason) > 500:
        raise InvalidInput("reason is at most 500 characters.", detail={"reason": ["too long"]})
    clean = validate_spec(platform=platform, region=region, spec=spec, count=count, resource_type=resource_type,
                          actor=actor)
    estimate = hooks.price_estimate(platform=platform, region=region, resource_type=resource_type,
                                    spec=checks.estimate_spec(resource_type, clean), count=count)
    amounts = checks.amounts(resource_type, clean, count)
    try:
        return _record(actor=actor, project=project, platform=platform, region=region, clean=clean, count=count,
                       reason=reason, resource_type=resource_type, amounts=amounts, estimate=estimate)
    except Refused as exc:
        if exc.code == "quota_exceeded":
            hooks.quota_refused(organization=project.organization, project=project, resource_type=resource_type,
                                error=exc)
        raise


def _record(*, actor: Any, project: Any, platform: Any, region: str, clean: dict[str, Any], count: int, reason: str,
            resource_type: str, amounts: dict[str, int], estimate: dict[str, Any]) -> ProvisioningRequest:
    """Reserve the quota, record the request and apply its policy, in one transaction."""
    with transaction.atomic():
        reservation = hooks.quota_backend().reserve(organization=project.organization, project=project,
                                                    resource_type=resource_type, amounts=amounts,
                                                    platform=platform, region=region)
        policy = policy_for(organization=project.organization, project=project, service=resource_type.split(".")[0])
        levels = list(policy.levels) if policy is not None else DEFAULT_LEVELS
        request = ProvisioningRequest.objects.create(
            organization=project.organization, project=project, platform=platform, region=region,
            resource_type=resource_type, spec=clean, count=count, reason=reason, requester=actor, policy=policy,
            levels=levels, quota_reservation=reservation or "", price_estimate=estimate)
        _event(request, "submitted", f"Requested {checks.summary(resource_type, clean, count)}"
               + (f": {reason}" if reason else ""), actor)
        if _auto_approves(policy, count, clean.get("vcpu", 0)):
            request.status = ProvisioningRequest.Status.APPROVED
            request.decided_at = timezone.now()
            request.save(update_fields=["status", "decided_at", "updated_at"])
            _event(request, "approved", f"Approved automatically by policy {policy.name}")
            _launch(request, actor)
        else:
            _event(request, "waiting", _level_text(request))
    return request


def _level_text(request: ProvisioningRequest) -> str:
    level = request.levels[request.level]
    who = [*(f"role {r}" for r in level.get("roles", [])), *(f"user {u}" for u in level.get("users", []))]
    approvers = ", ".join(who) if who else "an approver"
    mode = "all of" if level.get("mode") == "all" and who else "any of"
    return f"Waiting for level {request.level + 1} of {len(request.levels)}: {mode} {approvers}"


def _launch(request: ProvisioningRequest, actor: Any) -> None:
    spec, rtype = request.spec, request.resource_type
    if rtype == "ecs.instance":
        params = {k: spec[k] for k in ("instance_type", "image_id", "zone", "vswitch_id", "security_group_id",
                                       "system_disk_category", "system_disk_gib", "tags") if k in spec}
    else:
        params = checks.cloud_params(rtype, spec)
        if rtype == "ecs.disk" and spec.get("instance"):
            params["attach_to"] = spec["instance"]  # attached once the disk is available (lifecycle)
    for n in range(request.count):
        base = spec.get("name") or ("instance" if rtype == "ecs.instance" else rtype.split(".")[1])
        name = base if request.count == 1 else f"{base}-{n + 1}"
        change_create(organization=request.organization, project=request.project, platform=request.platform,
                      action="create", resource_type=rtype, region=request.region,
                      actor=request.requester or actor, name=name, params=params, request=request,
                      comment=request.reason or f"Provisioning request {request.id}")
    request.status = ProvisioningRequest.Status.PROVISIONING
    request.save(update_fields=["status", "updated_at"])
    noun = "instance" if rtype == "ecs.instance" else rtype
    _event(request, "provisioning", f"Creating {request.count} {noun}{'s' if request.count > 1 else ''}")


def _holds_role(user: Any, roles: list[str], request: ProvisioningRequest) -> bool:
    """Whether a grant that reaches ``user`` gives one of ``roles`` on a scope containing the
    request: the whole platform, its organization or an ancestor, its project, its cloud platform,
    or its cloud service. The same role held on another organization does not count."""
    from apps.rbac.engine import roles_held

    return bool(set(roles) & roles_held(user, request, service=request.resource_type.split(".", 1)[0]))


def _decided_before(user: Any, request: ProvisioningRequest) -> bool:
    return ApprovalDecision.objects.filter(request=request, approver_id=getattr(user, "pk", None)).exists()


def eligible(user: Any, request: ProvisioningRequest) -> bool:
    """Whether ``user`` may decide the request's current level now: a person decides at most one
    level of a request, and never their own."""
    if request.status != ProvisioningRequest.Status.PENDING or not authorize(user, APPROVE, request):
        return False
    if request.requester_id == getattr(user, "pk", None) or _decided_before(user, request):
        return False
    level = request.levels[request.level]
    users, roles = [str(u) for u in level.get("users", [])], level.get("roles", [])
    if not users and not roles:
        return True
    return str(user.pk) in users or (bool(roles) and _holds_role(user, roles, request))


def _level_complete(request: ProvisioningRequest) -> bool:
    level = request.levels[request.level]
    approvals = ApprovalDecision.objects.filter(request=request, level=request.level,
                                                verdict=ApprovalDecision.Verdict.APPROVE).select_related("approver")
    if level.get("mode") != "all":
        return approvals.exists()
    approvers = [d.approver for d in approvals]
    ids = {str(a.pk) for a in approvers}
    users_ok = all(str(u) in ids for u in level.get("users", []))
    roles_ok = all(any(_holds_role(a, [r], request) for a in approvers) for r in level.get("roles", []))
    return users_ok and roles_ok and bool(approvers)


def _locked_request(request: ProvisioningRequest) -> ProvisioningRequest:
    return ProvisioningRequest.objects.select_for_update().select_related("platform", "project").get(pk=request.pk)


@transaction.atomic
def request_decide(*, actor: Any, request: ProvisioningRequest, verdict: str, comment: str = ""
                   ) -> ProvisioningRequest:
    if verdict not in ApprovalDecision.Verdict.values:
        raise InvalidInput("verdict is approve or deny.", detail={"verdict": ["approve or deny"]})
    if not isinstance(comment, str) or len(comment) > 500:
        raise InvalidInput("comment is at most 500 characters.", detail={"comment": ["too long"]})
    if verdict == "deny" and not comment.strip():
        raise InvalidInput("Say why the request is denied.", detail={"comment": ["required when denying"]})
    request = _locked_request(request)
    if request.status != ProvisioningRequest.Status.PENDING:
        raise Conflict(f"The request is already {request.get_status_display().lower()}.", code="request_decided")
    if not authorize(actor, APPROVE, request):
        raise Forbidden("You may not decide provisioning requests here.")
    if request.requester_id == actor.pk:
        raise Forbidden("You cannot decide your own request.", code="own_request")
    if _decided_before(actor, request):
        raise Conflict("You have already decided a level of this request; another approver decides this one.",
                       code="already_decided")
    if not eligible(actor, request):
        raise Forbidden("You are not an approver of this level.", code="not_an_approver")
    try:
        with transaction.atomic():
            ApprovalDecision.objects.create(request=request, level=request.level, approver=actor, verdict=verdict,
                                            comment=comment)
    except IntegrityError:
        raise Conflict("You have already decided a level of this request.", code="already_decided") from None
    who = actor.get_username()
    if verdict == "deny":
        request.status = ProvisioningRequest.Status.DENIED
        request.decided_at = timezone.now()
        request.save(update_fields=["status", "decided_at", "updated_at"])
        hooks.quota_settle(request.quota_reservation, part={"count": request.count}, succeeded=False)
        _event(request, "denied", f"Denied by {who}: {comment}", actor)
        return request
    _event(request, "approval", f"Level {request.level + 1} approved by {who}" + (f": {comment}" if comment else ""),
           actor)
    if not _level_complete(request):
        return request
    if request.level + 1 < len(request.levels):
        request.level += 1
        request.save(update_fields=["level", "updated_at"])
        _event(request, "waiting", _level_text(request))
        return request
    request.status = ProvisioningRequest.Status.APPROVED
    request.decided_at = timezone.now()
    request.save(update_fields=["status", "decided_at", "updated_at"])
    _event(request, "approved", "Approved", actor)
    _launch(request, actor)
    return request


@transaction.atomic
def request_cancel(*, actor: Any, request: ProvisioningRequest) -> ProvisioningRequest:
    request = _locked_request(request)
    if request.requester_id != actor.pk and not authorize(actor, APPROVE, request):
        raise Forbidden("Only the requester or an approver may cancel a request.")
    if request.status != ProvisioningRequest.Status.PENDING:
        raise Conflict("Only a request waiting for approval can be cancelled.", code="request_decided")
    request.status = ProvisioningRequest.Status.CANCELLED
    request.save(update_fields=["status", "updated_at"])
    hooks.quota_settle(request.quota_reservation, part={"count": request.count}, succeeded=False)
    _event(request, "cancelled", f"Cancelled by {actor.get_username()}", actor)
    return request


# -- policies --------------------------------------------------------------------------------------------

def _clean_policy(*, organization: Any, name: Any, project: Any, service: Any, auto_approve_max_count: Any,
                  auto_approve_max_vcpu: Any, levels: Any) -> None:
    from apps.rbac.models import Role

    errors: dict[str, list[str]] = {}
    if not isinstance(name, str) or not name.strip() or len(name) > 128:
        errors["name"] = ["1 to 128 characters"]
    if project is not None and project.organization_id != organization.pk:
        errors["project"] = ["must belong to the organization"]
    if not isinstance(service, str) or len(service) > 32:
        errors["service"] = ["a service code such as ecs, or empty for every service"]
    for field, value in (("auto_approve_max_count", auto_approve_max_count),
                         ("auto_approve_max_vcpu", auto_approve_max_vcpu)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100000):
            errors[field] = ["empty or an integer from 0 to 100000"]
    if not isinstance(levels, list) or len(levels) > 5:
        errors["levels"] = ["a list of at most 5 levels"]
    else:
        for i, level in enumerate(levels):
            if not isinstance(level, dict) or level.get("mode", "any") not in ("any", "all") \
                    or not isinstance(level.get("roles", []), list) or not isinstance(level.get("users", []), list):
                errors[f"levels[{i}]"] = ['{"mode": "any"|"all", "roles": [role keys], "users": [user ids]}']
                continue
            missing = set(level.get("roles", [])) - set(Role.objects.filter(
                key__in=level.get("roles", [])).values_list("key", flat=True))
            if missing:
                errors[f"levels[{i}].roles"] = [f"unknown roles: {', '.join(sorted(map(str, missing)))}"]
    if errors:
        raise InvalidInput("The policy is not valid; see detail.", detail=errors)


@transaction.atomic
def policy_create(*, actor: Any, organization: Any, name: str, project: Any = None, service: str = "",
                  auto_approve_max_count: int | None = None, auto_approve_max_vcpu: int | None = None,
                  levels: list[dict[str, Any]] | None = None) -> ApprovalPolicy:
    levels = DEFAULT_LEVELS if levels is None else levels
    if not authorize(actor, "provisioning:policy:write", ApprovalPolicy(organization=organization, project=project)):
        raise Forbidden()
    _clean_policy(organization=organization, name=name, project=project, service=service,
                  auto_approve_max_count=auto_approve_max_count, auto_approve_max_vcpu=auto_approve_max_vcpu,
                  levels=levels)
    policy = ApprovalPolicy.objects.create(
        organization=organization, name=name.strip(), project=project, service=service,
        auto_approve_max_count=auto_approve_max_count, auto_approve_max_vcpu=auto_approve_max_vcpu,
        levels=[{"mode": lv.get("mode", "any"), "roles": list(lv.get("roles", [])),
                 "users": [str(u) for u in lv.get("users", [])]} for lv in levels])
    emit(organization.pk, f"approval_policy:{policy.id}", {"event": "created", "id": str(policy.id),
                                                          "name": policy.name, "before": None, "after": policy.levels})
    return policy


@transaction.atomic
def policy_delete(*, actor: Any, policy: ApprovalPolicy) -> None:
    if not authorize(actor, "provisioning:policy:write", policy):
        raise Forbidden()
    org_id, policy_id, before = policy.organization_id, policy.id, {"name": policy.name, "levels": policy.levels}
    policy.delete()
    emit(org_id, f"approval_policy:{policy_id}", {"event": "deleted", "id": str(policy_id), "name": before["name"],
                                                  "before": before, "after": None})



def request_estimate(*, platform: CloudPlatform, region: str, resource_type: str, spec: Any, count: int
                     ) -> dict[str, Any]:
    """The price estimator's answer for a spec as a form has it now: typed fields only (a 400 names a
    field of the wrong type), the class's vCPUs and memory from the catalog, no cloud call."""
    typed = specs.spec_parse(resource_type=resource_type, spec=spec)
    if resource_type == "ecs.instance":
        found = offers.Flavor.objects.filter(platform=platform, region=region, kind="instance_type",
                                             code=typed.get("instance_type")).first()
        typed.update(vcpu=(found.vcpu or 0) if found else 0, memory_mib=(found.memory_mib or 0) if found else 0)
    elif resource_type in ("rds.instance", "redis.instance"):
        code = typed.get("db_class") or typed.get("cache_class")
        kind = "rds_class" if resource_type == "rds.instance" else "redis_class"
        found = offers.Flavor.objects.filter(platform=platform, region=region, kind=kind, code=code).first()
        typed.update(vcpu=(found.vcpu or 0) if found else 0, memory_mib=(found.memory_mib or 0) if found else 0)
        if resource_type == "redis.instance":
            typed.pop("vcpu")
    return hooks.price_estimate(platform=platform, region=region, resource_type=resource_type,
                                spec=checks.estimate_spec(resource_type, typed), count=count)
