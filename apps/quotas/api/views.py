"""The quotas API: limits (set, change, remove), the usage tree, what a project may still create,
reservations, drift against the inventory and requests for more. Thin: parse, look up among what
the user may read, call a service, render."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.clouds.models import CloudPlatform
from apps.core.api.base import TenantListViewSet, TenantViewSetMixin, parsed, visible
from apps.core.api.schema import errors, results_of
from apps.core.errors import InvalidInput
from apps.organizations.models import Organization, Project
from apps.quotas import selectors, services
from apps.quotas.api import serializers as s
from apps.quotas.dimensions import dimensions
from apps.quotas.filters import QuotaLimitFilter, QuotaRequestFilter, ReservationFilter
from apps.quotas.models import QuotaLimit, QuotaRequest, Reservation


def _node(request: Request, data: dict, action: str) -> tuple[Organization, Project | None, CloudPlatform | None]:
    org = visible(Organization.objects.all(), request.user, action, data["organization"], "organization")
    project = None
    if data.get("project"):
        project = Project.objects.filter(pk=data["project"], organization=org).first()
        if project is None:
            raise InvalidInput("project was not found in the organization.", detail={"project": ["Not found."]})
    platform = None
    if data.get("platform"):
        platform = visible(CloudPlatform.objects.all(), request.user, "clouds:platform:read", data["platform"],
                           "platform")
    return org, project, platform


class QuotaLimitViewSet(TenantListViewSet, mixins.DestroyModelMixin):
    """Limits of organizations (their whole subtree) and projects per dimension, optionally narrowed to
    a cloud platform and region, with their usage (committed + reserved). ``POST`` sets a limit
    (created, or replaced when the node already has one); the sum of the limits below a limit may
    not exceed it (unless it allows overcommit, by its factor); below usage needs ``force``."""

    queryset = QuotaLimit.objects.select_related("organization", "project")
    serializer_class = s.QuotaLimitSerializer
    filterset_class = QuotaLimitFilter
    ordering = ("depth", "id")
    selector = staticmethod(selectors.limit_list)

    @extend_schema(request=s.LimitWriteSerializer, responses={200: s.QuotaLimitSerializer,
                                                              201: s.QuotaLimitSerializer})
    def create(self, request: Request) -> Response:
        data = parsed(s.LimitWriteSerializer, request.data)
        org, project, platform = _node(request, data, "quotas:limit:read")
        key = services.scope_key(project, platform, data["region"])
        existed = QuotaLimit.objects.filter(organization=org, dimension=data["dimension"], scope_key=key).exists()
        limit = services.limit_set(actor=request.user, organization=org, project=project, platform=platform,
                                   region=data["region"], dimension=data["dimension"], limit=data["limit"],
                                   warning_percent=data["warning_percent"], overcommit=data["overcommit"],
                                   overcommit_factor=data["overcommit_factor"], force=data["force"],
                                   reason=data["reason"])
        return Response(s.QuotaLimitSerializer(limit).data, status=status.HTTP_200_OK if existed else
                        status.HTTP_201_CREATED)

    @extend_schema(request=s.LimitChangeSerializer, responses=s.QuotaLimitSerializer)
    def partial_update(self, request: Request, pk=None) -> Response:
        current = self.get_object()
        data = parsed(s.LimitChangeSerializer, request.data)
        limit = services.limit_set(
            actor=request.user, organization=current.organization, project=current.project,
            platform=current.platform_id, region=current.region, dimension=current.dimension,
            limit=data.get("limit", current.limit),
            warning_percent=data.get("warning_percent", current.warning_percent),
            overcommit=data.get("overcommit", current.overcommit),
            overcommit_factor=data.get("overcommit_factor", current.overcommit_factor), force=data["force"],
            reason=data["reason"])
        return Response(s.QuotaLimitSerializer(limit).data)

    def destroy(self, request: Request, pk=None) -> Response:
        services.limit_delete(actor=request.user, quota_limit=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReservationViewSet(TenantViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Reservations: quota held while a request waits and its instances are created; committed when
    the cloud confirms, released on failure, cancel or denial, and by the sweeper when they expire."""

    queryset = Reservation.objects.all()
    serializer_class = s.ReservationSerializer
    filterset_class = ReservationFilter
    ordering = ("-created_at", "-id")
    lookup_value_regex = r"qres-[0-9a-f]{20}"
    selector = staticmethod(selectors.reservation_list)


class QuotaRequestViewSet(TenantViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Requests for more quota: a tenant asks with a reason; the approvers of the lifecycle's approval
    policy of the parent organization (holders of ``provisioning:request:approve`` there) decide its
    levels in order; the last grant raises the limit under the hierarchy rule, one denial ends it."""

    queryset = QuotaRequest.objects.all()
    serializer_class = s.QuotaRequestSerializer
    filterset_class = QuotaRequestFilter
    ordering = ("-created_at", "-id")
    lookup_value_regex = r"qreq-[0-9a-f]{20}"
    selector = staticmethod(selectors.request_list)

    @extend_schema(request=s.QuotaRequestCreateSerializer, responses={201: s.QuotaRequestSerializer})
    def create(self, request: Request) -> Response:
        data = parsed(s.QuotaRequestCreateSerializer, request.data)
        org = Organization.objects.filter(pk=data["organization"]).first()
        if org is None:
            raise InvalidInput("organization was not found.", detail={"organization": ["Not found."]})
        project = Project.objects.filter(pk=data["project"], organization=org).first() if data["project"] else None
        if data["project"] and project is None:
            raise InvalidInput("project was not found in the organization.", detail={"project": ["Not found."]})
        row = services.quota_request_create(actor=request.user, organization=org, project=project,
                                            dimension=data["dimension"], requested_limit=data["requested_limit"],
                                            reason=data["reason"], platform=data["platform"], region=data["region"])
        return Response(s.QuotaRequestSerializer(row).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.DecideSerializer, responses=s.QuotaRequestSerializer)
    @action(detail=True, methods=["post"])
    def grant(self, request: Request, pk=None) -> Response:
        data = parsed(s.DecideSerializer, request.data)
        row = services.quota_request_decide(actor=request.user, quota_request=self.get_object(), verdict="grant",
                                            comment=data["comment"])
        return Response(s.QuotaRequestSerializer(row).data)

    @extend_schema(request=s.DecideSerializer, responses=s.QuotaRequestSerializer)
    @action(detail=True, methods=["post"])
    def deny(self, request: Request, pk=None) -> Response:
        """Deny the request; a comment saying why is required."""
        data = parsed(s.DecideSerializer, request.data)
        row = services.quota_request_decide(actor=request.user, quota_request=self.get_object(), verdict="deny",
                                            comment=data["comment"])
        return Response(s.QuotaRequestSerializer(row).data)


ORG_PARAM = OpenApiParameter("organization", str, required=True, description="organization id")


class UsageTreeView(APIView):
    @extend_schema(parameters=[ORG_PARAM], responses={200: s.UsageTreeSerializer, **errors(400)})
    def get(self, request: Request) -> Response:
        """Limit, used and free down the hierarchy from one organization: its limits, its projects'
        and each sub-organization's, recursively."""
        org = visible(Organization.objects.all(), request.user, "quotas:limit:read",
                      request.query_params.get("organization"), "organization")
        return Response(s.UsageTreeSerializer(selectors.usage_tree(actor=request.user, organization=org)).data)


class HeadroomView(APIView):
    @extend_schema(parameters=[OpenApiParameter("project", str, required=True),
                               OpenApiParameter("platform", str), OpenApiParameter("region", str)],
                   responses={200: results_of(s.HeadroomSerializer, name="QuotaHeadroomList"), **errors(400)})
    def get(self, request: Request) -> Response:
        """What a project may still create, per dimension: the tightest limit from the root down.
        Open to whoever may read the project's limits or create resources in it."""
        pk = request.query_params.get("project")
        try:
            project = Project.objects.select_related("organization").filter(pk=pk).first() if pk else None
        except (ValueError, ValidationError):
            project = None
        if project is None or not selectors.may_see_headroom(request.user, project):
            raise InvalidInput("project was not found.", detail={"project": ["Not found."]})
        platform = request.query_params.get("platform") or None
        try:
            if platform and not CloudPlatform.objects.filter(pk=platform).exists():
                raise ValidationError("unknown")
        except (ValueError, ValidationError):
            raise InvalidInput("platform was not found.", detail={"platform": ["Not found."]}) from None
        rows = selectors.headroom(project=project, platform_id=platform,
                                  region=request.query_params.get("region", "")[:64])
        return Response({"results": s.HeadroomSerializer(rows, many=True).data})


class DimensionView(APIView):
    @extend_schema(responses=results_of(s.DimensionSerializer, name="QuotaDimensionList"))
    def get(self, request: Request) -> Response:
        """The dimensions a limit may count, from the service catalog."""
        return Response({"results": [{"code": c, "name": n} for c, n in dimensions().items()]})


class DriftView(APIView):
    @extend_schema(responses=results_of(s.DriftSerializer, name="QuotaDriftList"))
    def get(self, request: Request) -> Response:
        """Limits whose recorded committed usage disagrees with the inventory (resources found by
        collection count too), per organization, project and dimension; nothing is changed."""
        ids = {str(pk) for pk in selectors.limit_list(actor=request.user).values_list("pk", flat=True)}
        rows = [d for d in services.usage_reconcile(apply=False) if d["limit"] in ids] if ids else []
        return Response({"results": s.DriftSerializer(rows, many=True).data})



