"""The disaster-recovery API: protection groups and members (live RPO), dry runs and plan runs with their
steps, approvals, backup vaults, plans and jobs. Thin: parse, look up among what the user may read, call
a service, render."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.clouds.models import CloudPlatform
from apps.core.api.base import TenantListViewSet, parsed, visible
from apps.core.errors import InvalidInput
from apps.core.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from apps.core.scoping import authorize
from apps.organizations.models import Organization, Project
from apps.resilience import backups, plans, selectors, services
from apps.resilience.api import serializers as s
from apps.resilience.filters import BackupJobFilter, MemberFilter, RunFilter, StepFilter
from apps.resilience.models import BackupJob, BackupPlan, PlanRun, PlanStep, ProtectedMember, ProtectionGroup, Vault
from apps.resources.models import Resource

ID = r"[0-9a-f]{20}"


def _platform(request: Request, pk: Any, organization: Organization, field: str) -> CloudPlatform:
    """A platform the user may read, or one on which the organization has resources."""
    try:
        platform = CloudPlatform.objects.filter(pk=pk).first()
    except (ValueError, TypeError):
        platform = None
    if platform is None or not (authorize(request.user, "clouds:platform:read", platform) or Resource.objects.filter(
            platform=platform, organization=organization).exists()):
        raise InvalidInput(f"{field} was not found.", detail={field: ["Not found."]})
    return platform


class GroupViewSet(TenantListViewSet, mixins.DestroyModelMixin):
    """Protection groups: an application's resources at a primary site replicated to a secondary site, with
    their live RPO against the target and the plans their state allows."""

    queryset = ProtectionGroup.objects.all()
    serializer_class = s.GroupSerializer
    selector = staticmethod(selectors.group_list)
    lookup_value_regex = rf"pg-{ID}"
    ordering = ("name", "id")

    def get_serializer_class(self):
        return s.GroupDetailSerializer if self.action == "retrieve" else s.GroupSerializer

    def get_queryset(self):
        return selectors.with_live_rpo(super().get_queryset())

    @extend_schema(request=s.GroupCreateSerializer, responses={201: s.GroupDetailSerializer})
    def create(self, request: Request) -> Response:
        data = parsed(s.GroupCreateSerializer, request.data)
        org = visible(Organization.objects.all(), request.user, "resilience:group:read", data["organization"],
                      "organization")
        project = None
        if data["project"]:
            project = Project.objects.filter(pk=data["project"], organization=org).first()
            if project is None:
                raise InvalidInput("project was not found in the organization.", detail={"project": ["Not found."]})
        chosen = []
        if data["resources"]:
            found = {r.pk: r for r in Resource.objects.restrict(request.user, "resources:resource:read").filter(
                pk__in=data["resources"])}
            missing = [pk for pk in data["resources"] if pk not in found]
            if missing:
                raise InvalidInput(f"{len(missing)} resources were not found.", detail={"resources": missing[:20]})
            chosen = [found[pk] for pk in data["resources"]]
        group = services.group_create(
            actor=request.user, organization=org, name=data["name"], description=data["description"],
            project=project, selection=data["selection"], tag_key=data["tag_key"], tag_value=data["tag_value"],
            auto_join=data["auto_join"], resources=chosen,
            primary_platform=_platform(request, data["primary_platform"], org, "primary_platform"),
            primary_region=data["primary_region"], primary_zone=data["primary_zone"],
            secondary_platform=_platform(request, data["secondary_platform"], org, "secondary_platform"),
            secondary_region=data["secondary_region"], secondary_zone=data["secondary_zone"],
            target_rpo_seconds=data["target_rpo_seconds"], target_rto_seconds=data["target_rto_seconds"])
        return Response(s.GroupDetailSerializer(group).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.GroupChangeSerializer, responses=s.GroupSerializer)
    def partial_update(self, request: Request, pk=None) -> Response:
        group = self.get_object()
        data = parsed(s.GroupChangeSerializer, request.data)
        group = services.group_update(actor=request.user, group=group, **data)
        return Response(s.GroupSerializer(group).data)

    def destroy(self, request: Request, pk=None) -> Response:
        services.group_delete(actor=request.user, group=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=s.GroupDetailSerializer)
    @action(detail=True, methods=["post"])
    def refresh(self, request: Request, pk=None) -> Response:
        """Read coverage drift and every member's last recovery point from the cloud now."""
        group = self.get_object()
        services.group_refresh_members(group=group)
        group = services.group_poll(group=group)
        return Response(s.GroupDetailSerializer(group).data)

    @extend_schema(request=s.PlanStartSerializer, responses=s.DryRunSerializer)
    @action(detail=True, methods=["post"], url_path="dry-run")
    def dry_run(self, request: Request, pk=None) -> Response:
        """Every step and cloud call the plan would make, changing nothing."""
        group = self.get_object()
        data = parsed(s.PlanStartSerializer, request.data)
        result = plans.plan_dry_run(actor=request.user, group=group, kind=data["kind"], options=_options(data))
        return Response(result)

    @extend_schema(request=s.PlanStartSerializer, responses={202: s.RunDetailSerializer},
                   parameters=[IDEMPOTENCY_PARAMETER])
    @action(detail=True, methods=["post"])
    @idempotent
    def run(self, request: Request, pk=None) -> Response:
        """Start a drill, switchover, failover, switchback or failback (409 while another plan runs or when the
        group's state does not allow it)."""
        group = self.get_object()
        data = parsed(s.PlanStartSerializer, request.data)
        run = plans.plan_start(actor=request.user, group=group, kind=data["kind"], options=_options(data))
        return Response(s.RunDetailSerializer(run).data, status=status.HTTP_202_ACCEPTED)


def _options(data: dict[str, Any]) -> dict[str, Any]:
    options = dict(data.get("options") or {})
    if options.get("recovery_point") is not None:
        options["recovery_point"] = options["recovery_point"].isoformat()
    if options.get("endpoint") is not None:
        options["endpoint"] = dict(options["endpoint"])
    return options


class MemberViewSet(TenantListViewSet):
    """Members of protection groups with their replication channel and live RPO."""

    queryset = ProtectedMember.objects.all()
    serializer_class = s.ProtectedMemberSerializer
    selector = staticmethod(selectors.member_list)
    lookup_value_regex = rf"pm-{ID}"
    ordering = ("group", "resource_type", "name", "id")
    filterset_class = MemberFilter

    @extend_schema(request=s.TierSerializer, responses=s.ProtectedMemberSerializer)
    def partial_update(self, request: Request, pk=None) -> Response:
        """Change a member's recovery tier."""
        member = self.get_object()
        data = parsed(s.TierSerializer, request.data)
        return Response(s.ProtectedMemberSerializer(services.member_set_tier(actor=request.user, member=member,
                                                                             tier=data["tier"])).data)

    @extend_schema(request=None, responses=s.ProtectedMemberSerializer)
    @action(detail=True, methods=["post"])
    def join(self, request: Request, pk=None) -> Response:
        """Protect a resource that matched the group's selection but was only flagged (drift)."""
        member = services.member_join(actor=request.user, member=self.get_object())
        return Response(s.ProtectedMemberSerializer(member).data)


class RunViewSet(TenantListViewSet):
    """Plan runs (drills and recoveries) with their ordered steps, measured RPO/RTO, evidence and leftovers."""

    queryset = PlanRun.objects.all()
    serializer_class = s.RunSerializer
    selector = staticmethod(selectors.run_list)
    lookup_value_regex = rf"plan-{ID}"
    ordering = ("-started_at", "-id")
    filterset_class = RunFilter

    def get_serializer_class(self):
        return s.RunDetailSerializer if self.action == "retrieve" else s.RunSerializer

    @extend_schema(request=None, responses=s.RunDetailSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk=None) -> Response:
        """Stop the plan: steps not started are skipped; a drill still cleans up."""
        return Response(s.RunDetailSerializer(plans.plan_cancel(actor=request.user, run=self.get_object())).data)


class StepViewSet(TenantListViewSet):
    """Steps of plan runs; an approval step waiting for a person is approved here."""

    queryset = PlanStep.objects.all()
    serializer_class = s.StepSerializer
    selector = staticmethod(selectors.step_list)
    lookup_value_regex = rf"pstep-{ID}"
    ordering = ("run", "seq")
    filterset_class = StepFilter

    @extend_schema(request=None, responses=s.StepSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk=None) -> Response:
        return Response(s.StepSerializer(plans.step_approve(actor=request.user, step=self.get_object())).data)


class VaultViewSet(TenantListViewSet):
    """Backup vaults, local or copying to another region."""

    queryset = Vault.objects.all()
    serializer_class = s.VaultSerializer
    selector = staticmethod(selectors.vault_list)
    lookup_value_regex = rf"vault-{ID}"
    ordering = ("name", "id")

    @extend_schema(request=s.VaultCreateSerializer, responses={201: s.VaultSerializer})
    def create(self, request: Request) -> Response:
        data = parsed(s.VaultCreateSerializer, request.data)
        org = visible(Organization.objects.all(), request.user, "resilience:backup:read", data["organization"],
                      "organization")
        vault = backups.vault_create(actor=request.user, organization=org, name=data["name"],
                                     platform=_platform(request, data["platform"], org, "platform"),
                                     region=data["region"], kind=data["kind"], dest_region=data["dest_region"])
        return Response(s.VaultSerializer(vault).data, status=status.HTTP_201_CREATED)


class BackupPlanViewSet(TenantListViewSet):
    """Backup plans per tenant (ECS disks, RDS, OSS, NAS): periodic ('every <n>h') or manual."""

    queryset = BackupPlan.objects.all()
    serializer_class = s.BackupPlanSerializer
    selector = staticmethod(selectors.backup_plan_list)
    lookup_value_regex = rf"bplan-{ID}"
    ordering = ("name", "id")

    @extend_schema(request=s.BackupPlanCreateSerializer, responses={201: s.BackupPlanSerializer})
    def create(self, request: Request) -> Response:
        data = parsed(s.BackupPlanCreateSerializer, request.data)
        vault = visible(selectors.vault_list(actor=request.user), request.user, "resilience:backup:read",
                        data["vault"], "vault")
        plan = backups.backup_plan_create(actor=request.user, vault=vault, name=data["name"],
                                          source_type=data["source_type"], source_id=data["source_id"],
                                          schedule=data["schedule"], retention_days=data["retention_days"])
        return Response(s.BackupPlanSerializer(plan).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={202: s.BackupJobSerializer}, parameters=[IDEMPOTENCY_PARAMETER])
    @action(detail=True, methods=["post"], url_path="run")
    @idempotent
    def run_now(self, request: Request, pk=None) -> Response:
        job = backups.backup_run(actor=request.user, plan=self.get_object())
        return Response(s.BackupJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class BackupJobViewSet(TenantListViewSet):
    """Backups and restores with their live progress."""

    queryset = BackupJob.objects.all()
    serializer_class = s.BackupJobSerializer
    selector = staticmethod(selectors.backup_job_list)
    lookup_value_regex = rf"bjob-{ID}"
    ordering = ("-created_at", "-id")
    filterset_class = BackupJobFilter

    @extend_schema(request=s.RestoreSerializer, responses={202: s.BackupJobSerializer},
                   parameters=[IDEMPOTENCY_PARAMETER])
    @action(detail=True, methods=["post"])
    @idempotent
    def restore(self, request: Request, pk=None) -> Response:
        """Restore this backup in place or as a new resource ("rebuild")."""
        backup = self.get_object()
        data = parsed(s.RestoreSerializer, request.data)
        job = backups.restore_start(actor=request.user, backup=backup, target=data["target"])
        return Response(s.BackupJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
