from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.clouds import selectors, services
from apps.clouds.adapters import adapter_types
from apps.clouds.api import serializers as s
from apps.clouds.filters import PlatformFilter
from apps.clouds.models import CloudPlatform, Flavor, PlatformService, Region, Zone
from apps.core.api.base import TenantViewSetMixin, parsed, visible
from apps.organizations.models import Organization, Project

PLATFORM_ID = r"cp-[0-9a-f]{20}"


def _projects(request: Request, ids: list) -> list[Project]:
    return [visible(Project.objects.all(), request.user, "organizations:project:read", pk, "projects") for pk in ids]


class PlatformViewSet(TenantViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                      viewsets.GenericViewSet):
    """Registered cloud platforms. Credentials are write-only: they are stored encrypted and never returned."""

    queryset = CloudPlatform.objects.prefetch_related(Prefetch("projects", queryset=Project.objects.only("id")))
    serializer_class = s.PlatformSerializer
    filterset_class = PlatformFilter
    permission_prefix = "clouds:platform"
    lookup_value_regex = PLATFORM_ID
    ordering = ("name", "id")

    @extend_schema(request=s.PlatformCreateSerializer, responses={201: s.PlatformSerializer})
    def create(self, request: Request) -> Response:
        data = parsed(s.PlatformCreateSerializer, request.data)
        org = visible(Organization.objects.all(), request.user, "organizations:organization:read",
                      data.pop("organization"), "organization")
        projects = _projects(request, data.pop("projects"))
        platform = services.platform_create(actor=request.user, organization=org, projects=projects, **data)
        return Response(s.PlatformSerializer(platform).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.PlatformUpdateSerializer, responses=s.PlatformSerializer)
    def partial_update(self, request: Request, pk=None) -> Response:
        platform = self.get_object()
        data = parsed(s.PlatformUpdateSerializer, request.data)
        if "projects" in data:
            data["projects"] = _projects(request, data["projects"])
        platform = services.platform_update(actor=request.user, platform=platform, **data)
        return Response(s.PlatformSerializer(platform).data)

    def destroy(self, request: Request, pk=None) -> Response:
        services.platform_delete(actor=request.user, platform=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=s.ConnectivitySerializer)
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk=None) -> Response:
        """Connect with the stored credentials, discover regions and zones, record the health."""
        return Response(services.platform_test(actor=request.user, platform=self.get_object()))

    @extend_schema(responses=s.RegionSerializer(many=True))
    @action(detail=True, methods=["get"])
    def regions(self, request: Request, pk=None) -> Response:
        rows = Region.objects.filter(platform=self.get_object()).prefetch_related(
            Prefetch("zones", queryset=Zone.objects.only("id", "region_id", "zone_id")))
        return Response({"results": s.RegionSerializer(rows, many=True).data})

    @extend_schema(request=s.RegionToggleSerializer, responses=s.RegionSerializer)
    @action(detail=True, methods=["post"], url_path="regions/enable")
    def enable_region(self, request: Request, pk=None) -> Response:
        """Turn collection of one region on or off."""
        platform = self.get_object()
        data = parsed(s.RegionToggleSerializer, request.data)
        region = services.region_set_enabled(actor=request.user, platform=platform, region_id=data["region"],
                                             enabled=data["enabled"])
        return Response(s.RegionSerializer(region).data)

    @extend_schema(responses=s.PlatformServiceSerializer(many=True))
    @action(detail=True, methods=["get"])
    def services(self, request: Request, pk=None) -> Response:
        """The services this platform offers, with its own names for them."""
        rows = PlatformService.objects.filter(platform=self.get_object()).select_related("service")
        return Response({"results": s.PlatformServiceSerializer(rows, many=True).data})

    @extend_schema(request=s.ServiceToggleSerializer, responses=s.PlatformServiceSerializer)
    @action(detail=True, methods=["post"], url_path="services/enable")
    def enable_service(self, request: Request, pk=None) -> Response:
        """Switch collection of one service on or off (a switched-off service is not collected)."""
        platform = self.get_object()
        data = parsed(s.ServiceToggleSerializer, request.data)
        row = services.platform_service_set_enabled(actor=request.user, platform=platform, service=data["service"],
                                                    enabled=data["enabled"])
        row = PlatformService.objects.select_related("service").get(pk=row.pk)
        return Response(s.PlatformServiceSerializer(row).data)

    @extend_schema(responses=s.FlavorSerializer(many=True), parameters=[
        OpenApiParameter("region", str),
        OpenApiParameter("kind", str, description="instance_type, disk_category, rds_class, ...")])
    @action(detail=True, methods=["get"])
    def flavors(self, request: Request, pk=None) -> Response:
        """Specs discovered per region: instance types (vCPU, memory), disk categories, database classes."""
        rows = Flavor.objects.filter(platform=self.get_object())
        if request.query_params.get("region"):
            rows = rows.filter(region=request.query_params["region"])
        if request.query_params.get("kind"):
            rows = rows.filter(kind=request.query_params["kind"])
        return Response({"results": s.FlavorSerializer(rows[:2000], many=True).data})


class CatalogViewSet(viewsets.GenericViewSet):
    """The unified service catalog: categories -> services -> resource types (the same for every cloud)."""

    pagination_class = None

    def get_queryset(self):
        return Region.objects.none()

    @extend_schema(responses={200: dict})
    def list(self, request: Request) -> Response:
        return Response({"results": selectors.catalog_tree()})


class CloudTypeViewSet(viewsets.GenericViewSet):
    """The cloud types this installation can manage, with what each adapter supports."""

    pagination_class = None

    def get_queryset(self):
        return Region.objects.none()

    @extend_schema(responses={200: dict})
    def list(self, request: Request) -> Response:
        return Response({"results": [
            {"type": name, "display_name": cls.display_name, "capabilities": cls.capabilities.as_dict()}
            for name, cls in sorted(adapter_types().items())
        ]})
