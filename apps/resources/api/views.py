from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.clouds.adapters.base import CloudCallError
from apps.clouds.selectors import platform_get
from apps.core.api.base import TenantViewSetMixin, parsed, visible
from apps.core.api.serializers import OperationSerializer
from apps.core.errors import Conflict, InvalidInput
from apps.core.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from apps.core.scoping import restrict
from apps.organizations.models import Organization, Project
from apps.resources import selectors, services
from apps.resources.api import serializers as s
from apps.resources.api.pagination import ResourcePagination
from apps.resources.filters import AssignmentRuleFilter, ResourceFilter, SyncRunFilter
from apps.resources.models import AssignmentRule, Resource, SyncRun

RESOURCE_ID = r"res-[0-9a-f]{28}"


class ResourceViewSet(TenantViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """The inventory across clouds. Lists are keyset-paginated newest first; live resources only unless
    ``?deleted=true``; ``?count=true`` adds the total (a COUNT, so only when asked)."""

    queryset = Resource.objects.select_related("platform")
    serializer_class = s.ResourceSerializer
    filterset_class = ResourceFilter
    permission_prefix = "resources:resource"
    pagination_class = ResourcePagination
    lookup_value_regex = RESOURCE_ID
    ordering = ("-id",)

    def get_queryset(self):
        qs = super().get_queryset()
        if self.action == "list" and "deleted" not in self.request.query_params:
            qs = qs.filter(deleted=False)
        return qs

    @extend_schema(responses={200: dict})
    @action(detail=True, methods=["get"])
    def relations(self, request: Request, pk=None) -> Response:
        """Typed relations: what this resource points at (VPC, vSwitch, instance...) and what points at it."""
        return Response(selectors.resource_relations(actor=request.user, resource=self.get_object()))

    @extend_schema(request=None, responses=s.ResourceSerializer)
    @action(detail=True, methods=["post"])
    def refresh(self, request: Request, pk=None) -> Response:
        """Collect this one resource from its cloud now."""
        resource = self.get_object()
        self.require("operate", resource)
        try:
            row = services.resource_refresh(platform=resource.platform, resource_type=resource.type,
                                            region=resource.region, external_id=resource.external_id)
        except CloudCallError as exc:
            raise Conflict(f"The cloud answered {exc.code}: {exc.message}", code="cloud_error",
                           detail=exc.as_dict()) from None
        return Response(s.ResourceSerializer(Resource.objects.select_related("platform").get(pk=row.pk)).data)

    @extend_schema(request=s.AssignSerializer, responses=s.ResourceSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk=None) -> Response:
        """Assign to an organization (and project), or ``{"organization": null}`` to unassign."""
        resource = self.get_object()
        self.require("write", resource)
        data = parsed(s.AssignSerializer, request.data)
        org = (visible(Organization.objects.all(), request.user, "organizations:organization:read",
                       data["organization"], "organization") if data["organization"] else None)
        project = (visible(Project.objects.all(), request.user, "organizations:project:read", data["project"],
                           "project") if data.get("project") else None)
        row = services.resource_assign(actor=request.user, resource=resource, organization=org, project=project)
        return Response(s.ResourceSerializer(row).data)


class SyncRunViewSet(TenantViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Inventory syncs, newest first. ``POST`` starts a full sync of a platform (202 with its operation;
    409 while one runs); follow it live on ``operation:<id>``."""

    queryset = SyncRun.objects.all()
    serializer_class = s.SyncRunSerializer
    filterset_class = SyncRunFilter
    permission_prefix = "resources:sync"
    lookup_value_regex = r"sync-[0-9a-f]{20}"
    ordering = ("-started_at", "-id")

    @extend_schema(request=s.SyncStartSerializer, responses={202: s.SyncStartedSerializer},
                   parameters=[IDEMPOTENCY_PARAMETER])
    @idempotent
    def create(self, request: Request) -> Response:
        data = parsed(s.SyncStartSerializer, request.data)
        try:
            platform = platform_get(actor=request.user, platform_id=data["platform"])
        except Exception:  # noqa: BLE001 - a missing or invisible platform is a field error
            raise InvalidInput("platform was not found.", detail={"platform": ["Not found."]}) from None
        with transaction.atomic():
            run = services.sync_start(actor=request.user, platform=platform)
        return Response({"sync": s.SyncRunSerializer(run).data, "operation": OperationSerializer(run.operation).data},
                        status=status.HTTP_202_ACCEPTED)


class AssignmentRuleViewSet(TenantViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                            mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Rules assigning collected resources to organizations and projects by tag, resource group or VPC."""

    queryset = AssignmentRule.objects.all()
    serializer_class = s.AssignmentRuleSerializer
    permission_prefix = "resources:rule"
    lookup_value_regex = r"rule-[0-9a-f]{20}"
    ordering = ("-created_at", "-id")
    filterset_class = AssignmentRuleFilter

    @extend_schema(request=s.AssignmentRuleCreateSerializer, responses={201: s.AssignmentRuleSerializer})
    def create(self, request: Request) -> Response:
        data = parsed(s.AssignmentRuleCreateSerializer, request.data)
        try:
            platform = platform_get(actor=request.user, platform_id=data["platform"])
        except Exception:  # noqa: BLE001
            raise InvalidInput("platform was not found.", detail={"platform": ["Not found."]}) from None
        org = visible(Organization.objects.all(), request.user, "organizations:organization:read",
                      data["organization"], "organization")
        project = (visible(Project.objects.all(), request.user, "organizations:project:read", data["project"],
                           "project") if data.get("project") else None)
        with transaction.atomic():
            rule = services.assignment_rule_create(actor=request.user, platform=platform, match=data["match"],
                                                   key=data["key"], value=data["value"], organization=org,
                                                   project=project, priority=data["priority"])
            if data["apply_now"]:
                services.resources_reassign(platform=platform)
        return Response(s.AssignmentRuleSerializer(rule).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, pk=None) -> Response:
        rule = self.get_object()
        with transaction.atomic():
            services.assignment_rule_delete(actor=request.user, rule=rule)
            services.resources_reassign(platform=rule.platform)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UsageView(APIView):
    """Counts and capacity in use (vCPU, memory MiB, storage GiB) of live resources the user may see,
    grouped by up to three of platform, region, zone, service, type, status, organization, project.
    Takes the resource list's filters (``?platform=&service=&q=`` ...)."""

    @extend_schema(parameters=[OpenApiParameter("group_by", str, description="comma-separated dimensions")],
                   responses={200: dict})
    def get(self, request: Request) -> Response:
        qs = restrict(Resource.objects.all(), request.user, "resources:usage:read")
        filtered = ResourceFilter(request.query_params, queryset=qs)
        if not filtered.is_valid():
            raise InvalidInput("The filters are not valid.", detail=filtered.errors)
        group_by = [g.strip() for g in request.query_params.get("group_by", "platform").split(",") if g.strip()]
        rows = selectors.usage(queryset=filtered.qs, group_by=group_by)
        totals = {k: sum(r[k] for r in rows) for k in ("count", "vcpu", "memory_mib", "storage_gib")}
        return Response({"group_by": group_by, "totals": totals, "results": rows})
