"""The dashboards API: dashboards (create, save as a new version, restore, share, import, export,
delete), the data of their widgets, and the catalog of widget kinds, queries and templates.
Thin: parse, look up among what the user may read, call a service, render."""

from __future__ import annotations

import json

from django.contrib.auth import get_user_model
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.base import TenantListViewSet, parsed
from apps.core.errors import InvalidInput
from apps.core.scoping import restrict
from apps.core.widgets import QueryFailed, queries, widget_kinds
from apps.dashboards import predefined, selectors, services, source_services
from apps.dashboards.api import serializers as s
from apps.dashboards.document import UID_RE, clean_widget
from apps.dashboards.models import Dashboard, DataSource
from apps.rbac.selectors import role_list


class DashboardViewSet(mixins.DestroyModelMixin, TenantListViewSet):
    """Dashboards you may read (your organizations', and those shared with you). Each save is a
    new version; ``restore`` brings an old one back as the newest."""

    queryset = Dashboard.objects.all()
    serializer_class = s.DashboardSerializer
    ordering = ("title", "uid")
    lookup_value_regex = UID_RE.pattern.removeprefix(r"\A").removesuffix(r"\Z")
    selector = staticmethod(selectors.dashboard_list)

    @extend_schema(request=s.DashboardCreateSerializer, responses={201: s.DashboardSerializer})
    def create(self, request: Request) -> Response:
        """A new dashboard from a ``document``, a ``template``, or blank (a ``title``)."""
        data = parsed(s.DashboardCreateSerializer, request.data)
        org = services.organization_for_write(actor=request.user, organization_id=data["organization"])
        if data["template"]:
            row = services.dashboard_from_template(actor=request.user, organization=org, template=data["template"],
                                                   title=data["title"] or None)
        else:
            document = data["document"] if data["document"] is not None else {
                "title": data["title"] or "New dashboard", "widgets": []}
            row = services.dashboard_create(actor=request.user, organization=org, document=document,
                                            is_template=data["is_template"])
        return Response(s.DashboardSerializer(row).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.DashboardSaveSerializer, responses=s.DashboardSerializer)
    def update(self, request: Request, pk: str | None = None) -> Response:
        """Save the document as a new version."""
        row = self.get_object()
        data = parsed(s.DashboardSaveSerializer, request.data)
        row = services.dashboard_save(actor=request.user, dashboard=row, document=data["document"],
                                      message=data["message"], base_version=data["base_version"])
        return Response(s.DashboardSerializer(row).data)

    def perform_destroy(self, instance: Dashboard) -> None:
        services.dashboard_delete(actor=self.request.user, dashboard=instance)

    @extend_schema(responses=s.DashboardVersionSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def versions(self, request: Request, pk: str | None = None) -> Response:
        """Saved versions, newest first (the last 100)."""
        row = self.get_object()
        return Response(s.DashboardVersionSerializer(selectors.dashboard_versions(dashboard=row), many=True).data)

    @extend_schema(request=s.DashboardRestoreSerializer, responses=s.DashboardSerializer)
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str | None = None) -> Response:
        row = self.get_object()
        data = parsed(s.DashboardRestoreSerializer, request.data)
        row = services.dashboard_restore(actor=request.user, dashboard=row, version=data["version"])
        return Response(s.DashboardSerializer(row).data)

    @extend_schema(request=s.DashboardShareSerializer, responses=s.DashboardSerializer)
    @action(detail=True, methods=["post"])
    def share(self, request: Request, pk: str | None = None) -> Response:
        """Share with exactly these people (ids of people you may see) and these roles (keys of roles
        you may see): whoever holds one of the roles in the dashboard's organization, above or below
        it, may read it. An omitted list is left as it is."""
        row = self.get_object()
        data = parsed(s.DashboardShareSerializer, request.data)
        people = roles = None
        if data["users"] is not None:
            people = list(restrict(get_user_model().objects.filter(pk__in=data["users"]), request.user,
                                   "organizations:user:read"))
            missing = sorted({str(u) for u in data["users"]} - {str(p.pk) for p in people})
            if missing:
                raise InvalidInput(f"User {missing[0]} was not found.",
                                   detail={"users": [f"{missing[0]}: not found."]})
        if data["roles"] is not None:
            roles = list(role_list(actor=request.user).filter(key__in=data["roles"]))
            unknown = sorted(set(data["roles"]) - {r.key for r in roles})
            if unknown:
                raise InvalidInput(f"Role {unknown[0][:64]} was not found.",
                                   detail={"roles": [f"{unknown[0][:64]}: not found."]})
        row = services.dashboard_share(actor=request.user, dashboard=row, users=people, roles=roles)
        return Response(s.DashboardSerializer(row).data)

    @extend_schema(responses={(200, "application/json"): dict}, filters=False)
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def export(self, request: Request, pk: str | None = None) -> HttpResponse:
        """The dashboard's document as a JSON file (import it with ``POST .../import/``)."""
        row = self.get_object()
        response = HttpResponse(json.dumps(row.document, indent=2), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="dashboard-{row.uid}.json"'
        return response

    @extend_schema(
        parameters=[OpenApiParameter("widgets", str, description="Comma-separated widget ids (default: all)"),
                    OpenApiParameter("organization", str, description="Narrow to this organization and below")],
        responses=s.DashboardDataSerializer, filters=False)
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def data(self, request: Request, pk: str | None = None) -> Response:
        """Each widget's query result as you may see it, with when it was read."""
        row = self.get_object()
        wanted = request.query_params.get("widgets")
        scope = selectors.viewer_scope(actor=request.user, organization=request.query_params.get("organization"))
        widgets = selectors.widget_data(dashboard=row, scope=scope,
                                        widget_ids=wanted.split(",")[:100] if wanted else None)
        return Response({"uid": row.uid, "version": row.version, "widgets": widgets})

    @extend_schema(request=s.WidgetPreviewRequestSerializer, responses=s.WidgetDataSerializer)
    @action(detail=True, methods=["post"])
    def preview(self, request: Request, pk: str | None = None) -> Response:
        """A widget's data before it is saved (the editor's live preview), as you may see it."""
        self.get_object()
        widget = clean_widget(parsed(s.WidgetPreviewRequestSerializer, request.data)["widget"])
        return Response(selectors.one_widget_data(widget=widget, scope=selectors.viewer_scope(actor=request.user)))

    @extend_schema(request=s.DashboardImportSerializer, responses={201: s.DashboardSerializer})
    @action(detail=False, methods=["post"], url_path="import")
    def import_(self, request: Request) -> Response:
        """Load an exported document: a new dashboard, or with ``overwrite`` a new version of yours."""
        data = parsed(s.DashboardImportSerializer, request.data)
        org = services.organization_for_write(actor=request.user, organization_id=data["organization"])
        row = services.dashboard_import(actor=request.user, organization=org, document=data["document"],
                                        overwrite=data["overwrite"])
        return Response(s.DashboardSerializer(row).data, status=status.HTTP_201_CREATED)


class CatalogView(APIView):
    """What a dashboard can be built from: widget kinds, named queries (with their parameters and
    the result shape each returns) and templates."""

    @extend_schema(responses=s.CatalogSerializer)
    def get(self, request: Request) -> Response:
        return Response({
            "widget_kinds": [{"name": k.name, "label": k.label, "shapes": list(k.shapes), "icon": k.icon}
                             for k in widget_kinds()],
            "queries": [{"name": q.name, "label": q.label, "shape": q.shape, "unit": q.unit, "topics": list(q.topics),
                         "params": [{"name": n, "kind": p.kind, "label": p.label or n, "default": p.default,
                                     "choices": list(p.choices), "low": p.low, "high": p.high}
                                    for n, p in q.params.items()]}
                        for q in queries()],
            "templates": predefined.templates(),
        })


class DataSourceViewSet(mixins.DestroyModelMixin, TenantListViewSet):
    """Data sources widgets can show: HTTP JSON endpoints read by the server (public addresses only,
    unless allow-listed) and tables uploaded as CSV or Excel files (validated, errors naming row and
    column)."""

    queryset = DataSource.objects.all()
    serializer_class = s.DataSourceSerializer
    ordering = ("name", "id")
    lookup_value_regex = r"dsrc-[0-9a-f]{20}"
    selector = staticmethod(source_services.data_source_list)

    @extend_schema(request=s.DataSourceCreateSerializer, responses={201: s.DataSourceSerializer})
    def create(self, request: Request) -> Response:
        data = parsed(s.DataSourceCreateSerializer, request.data)
        org = services.organization_for_write(actor=request.user, organization_id=data["organization"],
                                              action=source_services.WRITE)
        if data["kind"] == DataSource.Kind.HTTP_JSON:
            row = source_services.data_source_create_http(actor=request.user, organization=org, name=data["name"],
                                                          url=data["url"])
        else:
            row = source_services.data_source_create_table(
                actor=request.user, organization=org, name=data["name"], file_name=data["file_name"],
                content=data["content"], content_base64=data["content_base64"])
        return Response(s.DataSourceSerializer(row).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: DataSource) -> None:
        source_services.data_source_delete(actor=self.request.user, source=instance)

    @extend_schema(responses=s.DataSourcePreviewSerializer, filters=False)
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def preview(self, request: Request, pk: str | None = None) -> Response:
        """The first rows as a widget would read them (an HTTP source is fetched now)."""
        row = self.get_object()
        try:
            columns, rows = source_services.source_rows(row)
        except QueryFailed as exc:
            return Response({"columns": [], "rows": [], "error": str(exc)})
        return Response({"columns": columns, "rows": rows[:20]})
