"""The alerts API: alerts and their handling, rules, silences, contact points, routes, templates,
deliveries, the inbox, metrics, and ingestion in Alertmanager's formats. Thin: parse, look up among
what the user may read, call a service, render."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.alerts import metrics, selectors, services, templating
from apps.alerts.api import serializers as s
from apps.alerts.filters import AlertFilter, AlertRuleFilter, DeliveryFilter
from apps.alerts.models import (
    Alert,
    AlertRule,
    ContactPoint,
    Delivery,
    InboxMessage,
    InspectionRun,
    MessageTemplate,
    NotificationRoute,
    Silence,
)
from apps.core.api.base import TenantViewSetMixin, parsed, seen, visible
from apps.core.api.schema import errors
from apps.core.errors import Forbidden, InvalidInput
from apps.core.scoping import restrict
from apps.organizations.models import Organization, User
from apps.resources.models import Resource
from apps.security.authentication import NonceWithWrites, nonce_claim
from apps.security.models import AccessKey

ORG_READ = "organizations:organization:read"
ID = r"{}-[0-9a-f]{{20}}"


def _org(request: Request, value: Any) -> Organization:
    return visible(Organization.objects.all(), request.user, ORG_READ, value, "organization")


class AlertViewSet(TenantViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Alerts of rules, events and outside senders. Filter by ``state``, ``severity``, ``source``,
    ``rule``, ``organization``, ``platform``, ``resource``; ``active=true`` for firing and pending."""

    queryset = Alert.objects.select_related("assignee", "acknowledged_by")
    serializer_class = s.AlertSerializer
    filterset_class = AlertFilter
    ordering = ("-state_changed_at", "-id")
    lookup_value_regex = ID.format("alert")
    selector = staticmethod(selectors.alert_list)

    def get_queryset(self):
        return super().get_queryset().select_related("assignee", "acknowledged_by")

    @extend_schema(responses=s.SeverityCountsSerializer)
    @action(detail=False, methods=["get"])
    def summary(self, request: Request) -> Response:
        """Firing alerts by severity (silenced and inhibited ones left out), and the topics to follow."""
        return Response(selectors.severity_counts(actor=request.user))

    @extend_schema(responses=s.AlertHistorySerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filterset_class=None)
    def history(self, request: Request, pk=None) -> Response:
        rows = self.get_object().history.select_related("actor").order_by("at", "id")[:1000]
        return Response(s.AlertHistorySerializer(rows, many=True).data)

    @extend_schema(request=s.AcknowledgeSerializer, responses=s.AlertSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk=None) -> Response:
        alert = self.get_object()
        data = parsed(s.AcknowledgeSerializer, request.data)
        alert = services.alert_acknowledge(actor=request.user, alert=alert, comment=data["comment"])
        return Response(s.AlertSerializer(alert).data)

    @extend_schema(request=s.AlertAssignSerializer, responses=s.AlertSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk=None) -> Response:
        alert = self.get_object()
        data = parsed(s.AlertAssignSerializer, request.data)
        assignee = None
        if data["assignee"] is not None:
            assignee = User.objects.filter(pk=data["assignee"], is_active=True).first()
            if assignee is None:
                raise InvalidInput("assignee was not found.", detail={"assignee": ["Not found."]})
        return Response(s.AlertSerializer(services.alert_assign(actor=request.user, alert=alert,
                                                                assignee=assignee)).data)

    @extend_schema(request=s.CommentSerializer, responses={201: s.AlertHistorySerializer})
    @action(detail=True, methods=["post"])
    def comment(self, request: Request, pk=None) -> Response:
        alert = self.get_object()
        data = parsed(s.CommentSerializer, request.data)
        entry = services.alert_comment(actor=request.user, alert=alert, text=data["text"])
        return Response(s.AlertHistorySerializer(entry).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ResolveSerializer, responses=s.AlertSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk=None) -> Response:
        alert = self.get_object()
        data = parsed(s.ResolveSerializer, request.data)
        alert = services.alert_resolve(actor=request.user, alert=alert, reason=data["reason"])
        return Response(s.AlertSerializer(alert).data)


class AlertRuleViewSet(TenantViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                       mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Threshold rules (a metric's aggregation over a window against a threshold, for a duration) and
    event rules (operation failed, sync failed, platform unreachable, quota and budget thresholds,
    resources deleted outside the console)."""

    queryset = AlertRule.objects.all()
    serializer_class = s.AlertRuleSerializer
    filterset_class = AlertRuleFilter
    ordering = ("-created_at", "-id")
    lookup_value_regex = ID.format("arule")
    selector = staticmethod(selectors.rule_list)

    def get_queryset(self):
        return super().get_queryset().annotate(firing_count=Count("alerts", filter=Q(alerts__state="firing")))

    @extend_schema(request=s.AlertRuleCreateSerializer, responses={201: s.AlertRuleSerializer})
    def create(self, request: Request) -> Response:
        data = parsed(s.AlertRuleCreateSerializer, request.data)
        org = _org(request, data.pop("organization"))
        rule = services.rule_create(actor=request.user, organization=org, data=data)
        return Response(s.AlertRuleSerializer(rule).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.AlertRuleWriteSerializer, responses=s.AlertRuleSerializer)
    def partial_update(self, request: Request, pk=None) -> Response:
        rule = self.get_object()
        data = parsed(s.AlertRuleWriteSerializer, request.data, partial=True)
        rule = services.rule_update(actor=request.user, rule=rule, data=data)
        return Response(s.AlertRuleSerializer(rule).data)

    def destroy(self, request: Request, pk=None) -> Response:
        services.rule_delete(actor=request.user, rule=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class SilenceViewSet(TenantViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Silences: alerts whose labels match every matcher are not notified in the silence's window."""

    queryset = Silence.objects.all()
    serializer_class = s.SilenceSerializer
    ordering = ("-created_at", "-id")
    lookup_value_regex = ID.format("silence")
    selector = staticmethod(selectors.silence_list)

    @extend_schema(request=s.SilenceCreateSerializer, responses={201: s.SilenceSerializer})
    def create(self, request: Request) -> Response:
        data = parsed(s.SilenceCreateSerializer, request.data)
        silence = services.silence_create(actor=request.user, organization=_org(request, data["organization"]),
                                          matchers=data["matchers"], starts_at=data["starts_at"],
                                          ends_at=data["ends_at"], comment=data["comment"])
        return Response(s.SilenceSerializer(silence).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=s.SilenceSerializer)
    @action(detail=True, methods=["post"])
    def expire(self, request: Request, pk=None) -> Response:
        silence = services.silence_expire(actor=request.user, silence=self.get_object())
        return Response(s.SilenceSerializer(silence).data)


class ContactPointViewSet(TenantViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                          mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Where notifications go: email (SMTP), a signed JSON webhook, DingTalk, WeCom, Feishu, Slack,
    Teams, or the in-app inbox. Secrets are stored encrypted and never returned."""

    queryset = ContactPoint.objects.all()
    serializer_class = s.ContactPointSerializer
    ordering = ("-created_at", "-id")
    lookup_value_regex = ID.format("contact")
    selector = staticmethod(selectors.contact_point_list)

    @extend_schema(request=s.ContactPointCreateSerializer, responses={201: s.ContactPointSerializer})
    def create(self, request: Request) -> Response:
        data = parsed(s.ContactPointCreateSerializer, request.data)
        cp = services.contact_point_create(actor=request.user, organization=_org(request, data["organization"]),
                                           name=data["name"], kind=data["kind"], config=data["config"],
                                           secrets=data["secrets"])
        return Response(s.ContactPointSerializer(cp).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, pk=None) -> Response:
        services.contact_point_delete(actor=request.user, contact_point=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={202: s.DeliverySerializer})
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk=None) -> Response:
        """Send a test notification through the delivery path (retries and the delivery log included)."""
        from django.db import transaction

        from apps.alerts.notify import _enqueue, deliver
        from apps.core.scoping import require

        cp = self.get_object()
        require(request.user, services.CONTACT_WRITE, cp)
        with transaction.atomic():
            out = deliver(cp, subject="Unimanager test notification", body="This is a test of a contact point.",
                          payload={"version": "1", "status": "test", "alerts": []}, event_type="test")
            for d in out:
                _enqueue(d)
        row = out[0] if out else cp.deliveries.order_by("-created_at").first()
        return Response(s.DeliverySerializer(row).data, status=status.HTTP_202_ACCEPTED)


class RouteViewSet(TenantViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin,
                   viewsets.GenericViewSet):
    """Notification routes, tried by ascending priority: matchers, contact points, grouping, timing."""

    queryset = NotificationRoute.objects.all()
    serializer_class = s.RouteSerializer
    ordering = ("priority", "id")
    lookup_value_regex = ID.format("route")
    selector = staticmethod(selectors.route_list)

    def get_queryset(self):
        return super().get_queryset().prefetch_related("contact_points")

    @extend_schema(request=s.RouteCreateSerializer, responses={201: s.RouteSerializer})
    def create(self, request: Request) -> Response:
        data = parsed(s.RouteCreateSerializer, request.data)
        org = _org(request, data["organization"])
        points = restrict(ContactPoint.objects.filter(organization=org), request.user, selectors.CONTACT_READ)
        found = {cp.pk: cp for cp in points.filter(pk__in=data["contact_points"])}
        if set(data["contact_points"]) - set(found):
            raise InvalidInput("contact_points: not found.", detail={"contact_points": ["Not found."]})
        escalate_to = None
        if data["escalate_to"]:
            escalate_to = points.filter(pk=data["escalate_to"]).first()
            if escalate_to is None:
                raise InvalidInput("escalate_to: not found.", detail={"escalate_to": ["Not found."]})
        route = services.route_create(
            actor=request.user, organization=org, name=data["name"], contact_points=list(found.values()),
            matchers=data["matchers"], group_by=data["group_by"], priority=data["priority"],
            group_wait_seconds=data["group_wait_seconds"], group_interval_seconds=data["group_interval_seconds"],
            repeat_interval_seconds=data["repeat_interval_seconds"],
            escalate_after_seconds=data["escalate_after_seconds"], escalate_to=escalate_to,
            continue_matching=data["continue_matching"])
        return Response(s.RouteSerializer(route).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, pk=None) -> Response:
        services.route_delete(actor=request.user, route=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class TemplateViewSet(TenantViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin,
                      viewsets.GenericViewSet):
    """Message templates, one per organization and event type, in a sandboxed template language: a
    template reads only its variables; anything else is a 400 naming ``subject`` or ``body``."""

    queryset = MessageTemplate.objects.all()
    serializer_class = s.TemplateSerializer
    ordering = ("-created_at", "-id")
    lookup_value_regex = ID.format("tmpl")
    selector = staticmethod(selectors.template_list)

    @extend_schema(request=s.TemplateSaveSerializer, responses={201: s.TemplateSerializer})
    def create(self, request: Request) -> Response:
        data = parsed(s.TemplateSaveSerializer, request.data)
        tmpl = services.template_save(actor=request.user, organization=_org(request, data["organization"]),
                                      name=data["name"], event_type=data["event_type"], subject=data["subject"],
                                      body=data["body"])
        return Response(s.TemplateSerializer(tmpl).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, pk=None) -> Response:
        services.template_delete(actor=request.user, template=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=s.TemplatePreviewSerializer, responses=s.TemplatePreviewResultSerializer)
    @action(detail=False, methods=["post"])
    def preview(self, request: Request) -> Response:
        """Render a template against sample variables (the live preview of the editor)."""
        data = parsed(s.TemplatePreviewSerializer, request.data)
        subject, body = templating.check(data["subject"], data["body"], data["event_type"])
        return Response({"subject": subject, "body": body})


class InspectionViewSet(TenantViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                        viewsets.GenericViewSet):
    """Inspection reports (stopped instances, unattached disks and EIPs, collection and metrics lag,
    unhealthy platforms); ``create`` inspects an organization now."""

    queryset = InspectionRun.objects.all()
    serializer_class = s.InspectionRunSerializer
    ordering = ("-started_at", "-id")
    lookup_value_regex = ID.format("insp")
    selector = staticmethod(selectors.inspection_list)

    @extend_schema(request=s.InspectionStartSerializer, responses={201: s.InspectionRunSerializer})
    def create(self, request: Request) -> Response:
        from apps.alerts.inspections import inspection_run

        data = parsed(s.InspectionStartSerializer, request.data)
        run = inspection_run(actor=request.user, organization=_org(request, data["organization"]))
        return Response(s.InspectionRunSerializer(run).data, status=status.HTTP_201_CREATED)


class DeliveryViewSet(TenantViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The delivery log: each notification to each contact point, its tries and its outcome."""

    queryset = Delivery.objects.all()
    serializer_class = s.DeliverySerializer
    filterset_class = DeliveryFilter
    ordering = ("-created_at", "-id")
    lookup_value_regex = ID.format("dlv")
    selector = staticmethod(selectors.delivery_list)


class InboxViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Your in-app messages, newest first."""

    queryset = InboxMessage.objects.all()
    serializer_class = s.InboxMessageSerializer
    ordering = ("-created_at", "-id")
    lookup_value_regex = ID.format("msg")

    def get_queryset(self):
        return selectors.inbox_list(actor=self.request.user)

    @extend_schema(request=None, responses=s.InboxMessageSerializer)
    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk=None) -> Response:
        message: InboxMessage = self.get_object()
        return Response(s.InboxMessageSerializer(services.inbox_mark_read(actor=request.user, message=message)).data)


# -- metrics -----------------------------------------------------------------------------------------------

RANGE_PARAMS = [
    OpenApiParameter("metric", str, required=True),
    OpenApiParameter("start", OpenApiTypes.DATETIME, description="Default: an hour before end"),
    OpenApiParameter("end", OpenApiTypes.DATETIME, description="Default: now"),
    OpenApiParameter("resolution", str, enum=["raw", "5m", "1h"], description="Default: by the range's length"),
]


def _time(request: Request, name: str, default: datetime) -> datetime:
    raw = request.query_params.get(name)
    if not raw:
        return default
    value = parse_datetime(raw)
    if value is None:
        raise InvalidInput(f"{name} is not a time.", detail={name: ["An ISO 8601 time."]})
    return value if value.tzinfo else timezone.make_aware(value)


def _range(request: Request) -> tuple[str, datetime, datetime, str | None]:
    metric = request.query_params.get("metric", "")
    if metric not in metrics.known_metrics():
        raise InvalidInput("Unknown metric.", detail={"metric": ["Unknown metric; see the metric catalog."]})
    end = _time(request, "end", timezone.now())
    start = _time(request, "start", end - timedelta(hours=1))
    return metric, start, end, request.query_params.get("resolution") or None


def _metric_resources(request: Request):
    return restrict(Resource.objects.all(), request.user, "alerts:metric:read")


class MetricSeriesView(APIView):
    """Points of one metric for one resource, or for the resources of a ``platform``/``project``/``tag``
    (at most 50 series)."""

    @extend_schema(parameters=[OpenApiParameter("resource", str), OpenApiParameter("platform", str),
                               OpenApiParameter("project", OpenApiTypes.UUID), OpenApiParameter("tag", str),
                               *RANGE_PARAMS], responses={200: s.MetricSeriesSerializer, **errors(404)})
    def get(self, request: Request) -> Response:
        metric, start, end, resolution = _range(request)
        resources = _scoped(request, _metric_resources(request))
        rid = request.query_params.get("resource")
        if rid:
            resources = resources.filter(pk=rid)
            if not resources.exists():
                from apps.core.errors import NotFound

                raise NotFound("Resource not found.")
        ids = list(resources.order_by("id").values_list("id", flat=True)[:50])
        return Response(metrics.series(resources=Resource.objects.filter(pk__in=ids), metric=metric, start=start,
                                       end=end, resolution=resolution))


def _scoped(request: Request, qs):
    p = request.query_params
    if p.get("platform"):
        qs = qs.filter(platform_id=p["platform"])
    if p.get("project"):
        try:
            qs = qs.filter(project_id=p["project"])
        except Exception:  # noqa: BLE001 - a malformed id
            raise InvalidInput("project is not an id.", detail={"project": ["Not an id."]}) from None
    if p.get("tag"):
        key, _, value = p["tag"].partition("=")
        qs = qs.filter(**{f"tags__{key}": value}) if key.isidentifier() else qs.none()
    return qs


class MetricAggregateView(APIView):
    """One value of a metric per group (``resource``, ``platform``, ``project``, ``organization``,
    ``service``, ``region`` or ``tag:<key>``) with ``aggregation`` avg, max or min."""

    @extend_schema(parameters=[OpenApiParameter("group_by", str, required=True),
                               OpenApiParameter("aggregation", str, enum=["avg", "max", "min"]),
                               OpenApiParameter("platform", str), OpenApiParameter("project", OpenApiTypes.UUID),
                               OpenApiParameter("tag", str), *RANGE_PARAMS],
                   responses=s.MetricAggregateSerializer)
    def get(self, request: Request) -> Response:
        metric, start, end, resolution = _range(request)
        group_by = request.query_params.get("group_by", "")
        aggregation = request.query_params.get("aggregation", "avg")
        rows = metrics.aggregate(resources=_scoped(request, _metric_resources(request)), metric=metric, start=start,
                                 end=end, group_by=group_by, aggregation=aggregation, resolution=resolution)
        return Response({"metric": metric, "group_by": group_by, "aggregation": aggregation, "results": rows})


class MetricCatalogView(APIView):
    """The metrics collected per resource type, and the collection interval."""

    @extend_schema(responses=s.MetricCatalogSerializer)
    def get(self, request: Request) -> Response:
        return Response({"types": metrics.metric_catalog(), "collect_seconds": metrics.COLLECT_SECONDS})


# -- ingestion ---------------------------------------------------------------------------------------------

ExternalAlert = inline_serializer("ExternalAlert", fields={
    "labels": serializers.DictField(child=serializers.CharField()),
    "annotations": serializers.DictField(child=serializers.CharField(), required=False),
    "startsAt": serializers.DateTimeField(required=False),
    "endsAt": serializers.DateTimeField(required=False),
    "generatorURL": serializers.CharField(required=False),
    "status": serializers.CharField(required=False),
})
WebhookBody = inline_serializer("AlertmanagerWebhook", fields={
    "version": serializers.CharField(required=False), "status": serializers.CharField(required=False),
    "receiver": serializers.CharField(required=False), "groupKey": serializers.CharField(required=False),
    "alerts": ExternalAlert.__class__(many=True),
})


class _IngestView(NonceWithWrites, APIView):
    """The request's nonce is recorded in the ingestion's own transaction (see ``NonceWithWrites``)."""

    def _ingest(self, request: Request, alerts: Any) -> Response:
        key = request.auth
        if not isinstance(key, AccessKey):
            # What a Prometheus sends is signed by a key; a browser session has no business here.
            raise Forbidden("Sign this request with an AccessKey.", detail={"authorization": ["AccessKey only."]})
        named = request.query_params.get("organization")
        if named:
            org = _org(request, named)
        elif key.organization_id is not None:
            # The key's own organization, read with the key (and held with it): no query of its own.
            org = seen(key.organization, request.user, ORG_READ, "organization")
        else:
            raise InvalidInput("organization is required for this key.", detail={"organization": ["Required."]})
        done = services.external_alerts_receive(actor=request.user, organization=org, alerts=alerts,
                                                nonce=nonce_claim(request))
        firing = sum(1 for a in done if a.state == Alert.State.FIRING)
        return Response({"received": len(alerts), "firing": firing, "resolved": len(done) - firing})


class IngestAlertsView(_IngestView):
    """Alertmanager's ``POST /api/v2/alerts`` body (a list of alerts), signed with an AccessKey. Alerts
    go to the key's organization (or ``?organization=``) and through its silences, routes and groups."""

    @extend_schema(request=ExternalAlert.__class__(many=True), parameters=[OpenApiParameter("organization",
                                                                                            OpenApiTypes.UUID)],
                   responses=s.IngestedSerializer)
    def post(self, request: Request) -> Response:
        return self._ingest(request, request.data)


class IngestWebhookView(_IngestView):
    """Alertmanager's webhook body (``{"version": "4", "alerts": [...], ...}``), signed with an AccessKey."""

    @extend_schema(request=WebhookBody, parameters=[OpenApiParameter("organization", OpenApiTypes.UUID)],
                   responses=s.IngestedSerializer)
    def post(self, request: Request) -> Response:
        body = request.data
        if not isinstance(body, dict):
            raise InvalidInput("The body must be Alertmanager's webhook object.", detail={"alerts": ["Required."]})
        return self._ingest(request, body.get("alerts"))
