from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.clouds.adapters.base import CloudCallError
from apps.clouds.models import CloudPlatform
from apps.core.api.base import TenantViewSetMixin, parsed, visible
from apps.core.api.schema import results_of
from apps.core.api.serializers import OperationSerializer
from apps.core.errors import Conflict, InvalidInput
from apps.core.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from apps.core.pagination import page_response
from apps.organizations.models import Organization, Project
from apps.provisioning import offers, requests, selectors, services, topology
from apps.provisioning.api import serializers as s
from apps.provisioning.filters import ApprovalPolicyFilter, ChangeRecordFilter, RequestFilter, ScheduleFilter
from apps.provisioning.models import ApprovalPolicy, ChangeRecord, ProvisioningRequest, ScheduledOperation
from apps.resources.api.serializers import ResourceSerializer
from apps.resources.models import Resource

RESOURCE_ID = r"res-[0-9a-f]{28}"
# The form names the first projects; its ``projects_url`` pages and searches them all.
PROJECTS_IN_FORM = 50


def _project(pk) -> Project:
    try:
        project = Project.objects.select_related("organization").filter(pk=pk).first()
    except (ValueError, ValidationError):
        project = None
    if project is None:
        raise InvalidInput("Choose a project you may provision in.", detail={"project": ["not found"]})
    return project


def _platform(pk) -> CloudPlatform:
    platform = CloudPlatform.objects.select_related("organization").filter(pk=pk).first()
    if platform is None:
        raise InvalidInput("Choose a cloud platform.", detail={"platform": ["not found"]})
    return platform


class RequestViewSet(TenantViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Provisioning requests: submit (202; instances are created at once when a policy auto-approves),
    follow the timeline, approve or deny with a comment, cancel while waiting."""

    queryset = ProvisioningRequest.objects.select_related("requester").prefetch_related("changes")
    serializer_class = s.RequestSerializer
    permission_prefix = "provisioning:request"
    lookup_value_regex = r"preq-[0-9a-f]{20}"
    filterset_class = RequestFilter

    def get_serializer_class(self):
        return s.RequestDetailSerializer if self.action != "list" else s.RequestSerializer

    @extend_schema(request=s.RequestCreateSerializer, responses={202: s.RequestDetailSerializer},
                   parameters=[IDEMPOTENCY_PARAMETER])
    @idempotent
    def create(self, request: Request, *args, **kwargs) -> Response:
        data = parsed(s.RequestCreateSerializer, request.data)
        # No transaction here: the service asks the cloud first, then writes in its own.
        row = services.request_create(actor=request.user, project=_project(data["project"]),
                                      platform=_platform(data["platform"]), region=data["region"],
                                      resource_type=data["resource_type"], spec=data["spec"],
                                      count=data["count"], reason=data["reason"])
        return Response(s.RequestDetailSerializer(row).data, status=status.HTTP_202_ACCEPTED)

    def _decide(self, request: Request, verdict: str) -> Response:
        row = self.get_object()
        data = parsed(s.DecisionRequestSerializer, request.data)
        row = services.request_decide(actor=request.user, request=row, verdict=verdict, comment=data["comment"])
        return Response(s.RequestDetailSerializer(row).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=s.DecisionRequestSerializer, responses={202: s.RequestDetailSerializer},
                   parameters=[IDEMPOTENCY_PARAMETER])
    @action(detail=True, methods=["post"])
    @idempotent
    def approve(self, request: Request, pk=None) -> Response:
        """Approve the current level; the last level's approval starts one create operation per instance."""
        return self._decide(request, "approve")

    @extend_schema(request=s.DecisionRequestSerializer, responses={202: s.RequestDetailSerializer})
    @action(detail=True, methods=["post"])
    def deny(self, request: Request, pk=None) -> Response:
        """Deny the request (a comment is required); its quota reservation is released."""
        return self._decide(request, "deny")

    @extend_schema(request=None, responses=s.RequestDetailSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk=None) -> Response:
        row = services.request_cancel(actor=request.user, request=self.get_object())
        return Response(s.RequestDetailSerializer(row).data)


class FormView(APIView):
    """What a request form offers on ``platform`` in ``region``: regions, zones, instance types, disk
    categories (the catalog), images, vSwitches and security groups (the cloud), and the projects the
    platform serves that the user may provision in."""

    @extend_schema(parameters=[OpenApiParameter("platform", str, required=True),
                               OpenApiParameter("region", str, required=False)], responses={200: dict})
    def get(self, request: Request) -> Response:
        platform = _platform(request.query_params.get("platform"))
        region = request.query_params.get("region") or platform.default_region
        projects = list(selectors.project_choices(actor=request.user, platform=platform)
                        .order_by("name", "id")[:PROJECTS_IN_FORM + 1])
        if not projects:
            raise InvalidInput("Choose a cloud platform.", detail={"platform": ["not found"]})
        data = offers.catalog_offers(platform, region)
        try:
            data.update(offers.cloud_offers(platform, region))
        except CloudCallError as exc:
            raise Conflict(f"The cloud cannot be reached ({exc.code}); try again.", code="cloud_unavailable") from None
        data.update(platform=platform.id, region=region, count={"min": 1, "max": requests.MAX_COUNT},
                    projects=s.ProjectChoiceSerializer(projects[:PROJECTS_IN_FORM], many=True).data,
                    projects_url=f"{reverse('provisioning-projects')}?{urlencode({'platform': platform.pk})}",
                    more_projects=len(projects) > PROJECTS_IN_FORM)
        return Response(data)


class EstimateView(APIView):
    """The price of a spec as the request form has it now, from the installed price estimator (the
    billing app's price book): hourly and per month of 730 hours. Nothing is reserved or asked of the
    cloud; a spec field of the wrong type is a 400 naming it."""

    @extend_schema(request=s.EstimateRequestSerializer, responses={200: s.EstimateSerializer})
    def post(self, request: Request) -> Response:
        data = parsed(s.EstimateRequestSerializer, request.data)
        platform = _platform(data["platform"])
        if not selectors.project_choices(actor=request.user, platform=platform).exists():
            raise InvalidInput("Choose a cloud platform.", detail={"platform": ["not found"]})
        found = requests.request_estimate(platform=platform, region=data["region"],
                                          resource_type=data["resource_type"], spec=data["spec"], count=data["count"])
        return Response({"currency": str(found.get("currency") or ""), "hourly": str(found.get("hourly") or ""),
                         "monthly": str(found.get("monthly") or ""), "priced": bool(found)})


class ProjectChoiceView(APIView):
    """The projects ``platform`` serves in which you may request instances, by name, a cursor page
    at a time; ``?q=`` searches names and organizations' names (a request form's project picker)."""

    @extend_schema(parameters=[OpenApiParameter("platform", str, required=True), OpenApiParameter("q", str),
                               OpenApiParameter("cursor", str), OpenApiParameter("page_size", int)],
                   responses=results_of(s.ProjectChoiceSerializer, name="ProjectChoiceList", cursor=True))
    def get(self, request: Request) -> Response:
        platform = _platform(request.query_params.get("platform"))
        projects = selectors.project_choices(actor=request.user, platform=platform)
        q = request.query_params.get("q", "").strip()
        if q:
            projects = projects.filter(Q(name__icontains=q) | Q(organization__name__icontains=q))
        return page_response(projects, request, ("name", "id"), s.ProjectChoiceSerializer)


class InstanceViewSet(TenantViewSetMixin, viewsets.GenericViewSet):
    """Lifecycle operations on inventory resources. Each command answers 202 with the ``Operation``
    (follow it on ``operation:<id>``); a state that does not allow it answers 409."""

    queryset = Resource.objects.select_related("platform")
    serializer_class = ResourceSerializer
    permission_prefix = "resources:resource"
    lookup_value_regex = RESOURCE_ID

    def _start(self, request: Request, verb: str) -> Response:
        resource = self.get_object()
        data = parsed(s.ActionRequestSerializer, request.data)
        change = services.operation_start(actor=request.user, resource=resource, action=verb, params=data["params"],
                                          comment=data["comment"])
        return Response(OperationSerializer(change.operation).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=s.ActionRequestSerializer, responses={202: OperationSerializer},
                   parameters=[IDEMPOTENCY_PARAMETER])
    @action(detail=True, methods=["post"])
    @idempotent
    def start(self, request: Request, pk=None) -> Response:
        return self._start(request, "start")

    @extend_schema(request=s.ActionRequestSerializer, responses={202: OperationSerializer},
                   parameters=[IDEMPOTENCY_PARAMETER])
    @action(detail=True, methods=["post"])
    @idempotent
    def stop(self, request: Request, pk=None) -> Response:
        return self._start(request, "stop")

    @extend_schema(request=s.ActionRequestSerializer, responses={202: OperationSerializer},
                   parameters=[IDEMPOTENCY_PARAMETER])
    @action(detail=True, methods=["post"])
    @idempotent
    def reboot(self, request: Request, pk=None) -> Response:
        return self._start(request, "reboot")

    @extend_schema(request=s.ActionRequestSerializer, responses={202: OperationSerializer},
                   parameters=[IDEMPOTENCY_PARAMETER])
    @action(detail=True, methods=["post"])
    @idempotent
    def resize(self, request: Request, pk=None) -> Response:
        """``params.instance_type``: the new type. An ECS instance must be stopped (409 otherwise)."""
        return self._start(request, "resize")

    @extend_schema(request=s.ActionRequestSerializer, responses={202: OperationSerializer},
                   parameters=[IDEMPOTENCY_PARAMETER])
    @action(detail=True, methods=["post"])
    @idempotent
    def attach(self, request: Request, pk=None) -> Response:
        """Attach a disk (same zone) or associate an EIP: ``params.instance`` is the instance's inventory id."""
        return self._start(request, "attach")

    @extend_schema(request=s.ActionRequestSerializer, responses={202: OperationSerializer},
                   parameters=[IDEMPOTENCY_PARAMETER])
    @action(detail=True, methods=["post"])
    @idempotent
    def detach(self, request: Request, pk=None) -> Response:
        return self._start(request, "detach")

    @extend_schema(request=s.ActionRequestSerializer, responses={202: OperationSerializer},
                   parameters=[IDEMPOTENCY_PARAMETER])
    @action(detail=True, methods=["post"])
    @idempotent
    def release(self, request: Request, pk=None) -> Response:
        return self._start(request, "release")

    @extend_schema(request=s.ModifyRequestSerializer, responses={202: OperationSerializer},
                   parameters=[IDEMPOTENCY_PARAMETER])
    @action(detail=True, methods=["post"])
    @idempotent
    def modify(self, request: Request, pk=None) -> Response:
        """A day-2 change: ``params.operation`` names it and ``params.args`` holds its arguments (see
        ``details`` for the operations the resource's state allows now). Bad arguments: 400 naming
        ``args.<field>``, with no cloud call."""
        resource = self.get_object()
        data = parsed(s.ModifyRequestSerializer, request.data)
        change = services.operation_start(actor=request.user, resource=resource, action="modify",
                                          params=data["params"], comment=data["comment"])
        return Response(OperationSerializer(change.operation).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: s.ResourceDetailsSerializer})
    @action(detail=True, methods=["get"])
    def details(self, request: Request, pk=None) -> Response:
        """The day-2 operations the resource's state allows and what the cloud lists about it (rules,
        listeners and backends, accounts and databases, lifecycle rules)."""
        resource = self.get_object()
        try:
            found = selectors.resource_details(resource=resource)
        except CloudCallError as exc:
            raise Conflict(f"The cloud cannot be reached ({exc.code}); try again.", code="cloud_unavailable") from None
        return Response({**selectors.resource_panel(actor=request.user, resource=resource), "details": found})

    @extend_schema(request=s.BatchRequestSerializer, responses={202: s.BatchResultSerializer},
                   parameters=[IDEMPOTENCY_PARAMETER])
    @action(detail=False, methods=["post"])
    @idempotent
    def batch(self, request: Request) -> Response:
        """One action over a selection: an operation per resource, refusals listed per resource."""
        data = parsed(s.BatchRequestSerializer, request.data)
        rows = list(self.get_queryset().filter(pk__in=data["resources"]))
        missing = set(data["resources"]) - {r.id for r in rows}
        if missing:
            raise InvalidInput("Some resources were not found.", detail={"resources": sorted(missing)})
        result = services.operations_batch(actor=request.user, resources=rows, action=data["action"],
                                           params=data["params"], comment=data["comment"])
        return Response({"operations": OperationSerializer([c.operation for c in result["started"]], many=True).data,
                         "refused": result["refused"]}, status=status.HTTP_202_ACCEPTED)


class ChangeRecordViewSet(TenantViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Every lifecycle operation: who, why, the spec before and after, and its outcome."""

    queryset = ChangeRecord.objects.select_related("actor", "operation")
    serializer_class = s.ChangeRecordSerializer
    permission_prefix = "provisioning:change"
    lookup_value_regex = r"chg-[0-9a-f]{20}"
    filterset_class = ChangeRecordFilter


class PolicyViewSet(TenantViewSetMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin,
                    viewsets.ReadOnlyModelViewSet):
    queryset = ApprovalPolicy.objects.all()
    serializer_class = s.ApprovalPolicySerializer
    permission_prefix = "provisioning:policy"
    lookup_value_regex = r"apol-[0-9a-f]{20}"
    filterset_class = ApprovalPolicyFilter

    def create(self, request: Request, *args, **kwargs) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        org = visible(Organization.objects.all(), request.user, "provisioning:policy:read",
                      data.get("organization"), "organization")
        project = None
        if data.get("project"):
            project = visible(Project.objects.all(), request.user, "organizations:project:read", data["project"],
                              "project")
        policy = services.policy_create(
            actor=request.user, organization=org, name=data.get("name"), project=project,
            service=data.get("service", ""), auto_approve_max_count=data.get("auto_approve_max_count"),
            auto_approve_max_vcpu=data.get("auto_approve_max_vcpu"), levels=data.get("levels"))
        return Response(s.ApprovalPolicySerializer(policy).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, *args, **kwargs) -> Response:
        services.policy_delete(actor=request.user, policy=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class ScheduleViewSet(TenantViewSetMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin,
                      viewsets.ReadOnlyModelViewSet):
    """Operations run at a time (``run_at``) or on a recurring power schedule (``cron``, UTC)."""

    queryset = ScheduledOperation.objects.select_related("resource")
    serializer_class = s.ScheduleSerializer
    permission_prefix = "provisioning:schedule"
    lookup_value_regex = r"sched-[0-9a-f]{20}"
    filterset_class = ScheduleFilter

    @extend_schema(request=s.ScheduleCreateSerializer, responses={201: s.ScheduleSerializer})
    def create(self, request: Request, *args, **kwargs) -> Response:
        """A resource that does not exist and one the caller may not read get the same 400."""
        data = parsed(s.ScheduleCreateSerializer, request.data)
        resource = visible(Resource.objects.all(), request.user, "resources:resource:read", data["resource"],
                           "resource")
        sched = services.schedule_create(actor=request.user, resource=resource, action=data["action"],
                                         run_at=data["run_at"], cron=data["cron"], comment=data["comment"])
        return Response(s.ScheduleSerializer(sched).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, *args, **kwargs) -> Response:
        services.schedule_delete(actor=request.user, schedule=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class TopologyView(APIView):
    """The dependency graph around a resource (``?resource=``) or of a project (``?project=``)."""

    @extend_schema(parameters=[OpenApiParameter("resource", str, description="Exactly one of resource and project."),
                               OpenApiParameter("project", str, description="Exactly one of resource and project.")],
                   responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response(topology.graph_for(actor=request.user, resource_id=request.query_params.get("resource"),
                                           project_id=request.query_params.get("project")))


class RootCauseView(APIView):
    """Shared upstream dependencies of resources that alert or fail together, most shared first."""

    @extend_schema(parameters=[OpenApiParameter("resources", str, required=True,
                                                description="2 to 500 comma-separated resource ids")],
                   responses={200: dict})
    def get(self, request: Request) -> Response:
        ids = [i for i in (request.query_params.get("resources") or "").split(",") if i]
        return Response(topology.root_cause(actor=request.user, resource_ids=ids))
