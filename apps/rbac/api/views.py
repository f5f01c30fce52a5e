from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.base import TenantListViewSet, parsed, visible
from apps.core.api.schema import AutoSchema, errors, results_of
from apps.core.errors import InvalidInput
from apps.core.pages import csv_response
from apps.organizations.models import Organization, Project, User, UserGroup
from apps.rbac import selectors, services
from apps.rbac.api import serializers as s
from apps.rbac.catalog import permission_catalog
from apps.rbac.filters import GrantFilter, PolicyFilter, RoleFilter
from apps.rbac.models import AccessPolicy, Grant, Role


def _org(request: Request, pk, field: str = "organization") -> Organization | None:
    if not pk:
        return None
    return visible(Organization.objects.all(), request.user, "organizations:organization:read", pk, field)


class CatalogSchema(AutoSchema):
    """The catalog's filters are free text: any value answers a (possibly empty) list, never a 400."""

    def error_statuses(self, operation):
        return super().error_statuses(operation) - {400}


class PermissionCatalogView(APIView):
    """Every permission code apps have registered (``service:resource:action`` and ``menu:...``)."""

    schema = CatalogSchema()

    @extend_schema(responses=results_of(s.PermissionSerializer, name="PermissionList", cursor=True), parameters=[
        OpenApiParameter("service", str), OpenApiParameter("q", str)])
    def get(self, request: Request) -> Response:
        items = permission_catalog()
        service = request.query_params.get("service")
        q = (request.query_params.get("q") or "").lower()
        if service:
            items = [p for p in items if p.service == service]
        if q:
            items = [p for p in items if q in p.code or q in p.description.lower()]
        data = [{"code": p.code, "description": p.description, "app_label": p.app_label, "service": p.service,
                 "is_menu": p.is_menu} for p in items]
        return Response({"next": None, "previous": None, "results": data})


class RoleViewSet(TenantListViewSet):
    """Predefined roles (shared, unchangeable) and custom roles of organizations or the platform."""

    queryset = Role.objects.all()
    serializer_class = s.RoleSerializer
    filterset_class = RoleFilter
    read_permission = "rbac:role:read"

    @extend_schema(request=s.RoleWriteSerializer, responses={201: s.RoleSerializer})
    def create(self, request: Request) -> Response:
        data = parsed(s.RoleWriteSerializer, request.data)
        role = services.role_create(actor=request.user, name=data["name"], key=data["key"],
                                    description=data["description"], permissions=data["permissions"],
                                    excluded_permissions=data["excluded_permissions"],
                                    organization=_org(request, data.get("organization")))
        return Response(s.RoleSerializer(role).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.RoleUpdateSerializer, responses=s.RoleSerializer)
    def partial_update(self, request: Request, pk=None) -> Response:
        data = parsed(s.RoleUpdateSerializer, request.data)
        role = services.role_update(actor=request.user, role=self.get_object(), **data)
        return Response(s.RoleSerializer(role).data)

    def destroy(self, request: Request, pk=None) -> Response:
        services.role_delete(actor=request.user, role=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class GrantViewSet(TenantListViewSet):
    """Role -> grantee (user, user group, organization members, project members) on a scope."""

    queryset = Grant.objects.select_related("role", "user", "group", "grantee_organization", "grantee_project",
                                            "scope_organization", "scope_project")
    serializer_class = s.GrantSerializer
    filterset_class = GrantFilter
    read_permission = "rbac:grant:read"

    @extend_schema(request=s.GrantWriteSerializer, responses={201: s.GrantSerializer})
    def create(self, request: Request) -> Response:
        data = parsed(s.GrantWriteSerializer, request.data)
        user = request.user
        role = visible(Role.objects.all(), user, "rbac:role:read", data["role"], "role")
        grantee_sources = {
            "user": (User.objects.all(), "organizations:user:read"),
            "group": (UserGroup.objects.all(), "organizations:group:read"),
            "organization": (Organization.objects.all(), "organizations:organization:read"),
            "project": (Project.objects.all(), "organizations:project:read"),
        }
        qs, read = grantee_sources[data["grantee_type"]]
        grantee = visible(qs, user, read, data["grantee"], "grantee")
        scope = None
        scope_key = ""
        if data["scope_type"] == "organization":
            scope = _org(request, data["scope"], "scope") or _missing_scope()
        elif data["scope_type"] == "project":
            scope = visible(Project.objects.select_related("organization"), user, "organizations:project:read",
                            data["scope"] or None, "scope")
        elif data["scope_type"] in ("cloud_platform", "cloud_service"):
            scope_key = data["scope"] or ""
        grant = services.grant_create(actor=user, role=role, grantee_type=data["grantee_type"], grantee=grantee,
                                      scope_type=data["scope_type"], scope=scope, scope_key=scope_key,
                                      note=data["note"])
        return Response(s.GrantSerializer(grant).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, pk=None) -> Response:
        services.grant_revoke(actor=request.user, grant=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


def _missing_scope():
    raise InvalidInput("scope is required.", detail={"scope": ["This field is required."]})


class PolicyViewSet(TenantListViewSet):
    """RAM-like access policies attached to users and user groups; an explicit Deny wins."""

    queryset = AccessPolicy.objects.prefetch_related("users", "groups")
    serializer_class = s.PolicySerializer
    filterset_class = PolicyFilter
    read_permission = "rbac:policy:read"

    @extend_schema(request=s.PolicyWriteSerializer, responses={201: s.PolicySerializer})
    def create(self, request: Request) -> Response:
        data = parsed(s.PolicyWriteSerializer, request.data)
        policy = services.policy_create(actor=request.user, name=data["name"], document=data["document"],
                                        description=data["description"],
                                        organization=_org(request, data.get("organization")))
        return Response(s.PolicySerializer(policy).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.PolicyUpdateSerializer, responses=s.PolicySerializer)
    def partial_update(self, request: Request, pk=None) -> Response:
        data = parsed(s.PolicyUpdateSerializer, request.data)
        policy = services.policy_update(actor=request.user, policy=self.get_object(), **data)
        return Response(s.PolicySerializer(policy).data)

    def destroy(self, request: Request, pk=None) -> Response:
        services.policy_delete(actor=request.user, policy=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _attachment(self, request: Request, attach: bool) -> Response:
        policy = self.get_object()
        data = parsed(s.AttachSerializer, request.data)
        user = visible(User.objects.all(), request.user, "organizations:user:read", data["user"], "user") \
            if data.get("user") else None
        group = visible(UserGroup.objects.select_related("organization"), request.user, "organizations:group:read",
                        data["group"], "group") if data.get("group") else None
        change = services.policy_attach if attach else services.policy_detach
        change(actor=request.user, policy=policy, user=user, group=group)
        return Response(s.PolicySerializer(self.get_object()).data)

    @extend_schema(request=s.AttachSerializer, responses=s.PolicySerializer)
    @action(detail=True, methods=["post"])
    def attach(self, request: Request, pk=None) -> Response:
        return self._attachment(request, True)

    @extend_schema(request=s.AttachSerializer, responses=s.PolicySerializer)
    @action(detail=True, methods=["post"])
    def detach(self, request: Request, pk=None) -> Response:
        return self._attachment(request, False)


class ExplainView(APIView):
    """Why may (or may not) a user do an action on a target? Lists the grants and policy statements
    that allow or deny it, and those considered that did not apply."""

    @extend_schema(parameters=[s.ExplainQuerySerializer], responses={200: dict, **errors(404)})
    def get(self, request: Request) -> Response:
        params = parsed(s.ExplainQuerySerializer, request.query_params)
        return Response(selectors.explain_for(actor=request.user, **params))


class AccessMatrixView(APIView):
    """Users of an organization (and its descendants) x permission codes; ``?export=csv`` downloads it."""

    @extend_schema(parameters=[OpenApiParameter("organization", str, required=True),
                               OpenApiParameter("export", str, enum=["csv"])],
                   responses={(200, "application/json"): dict, (200, "text/csv"): str, **errors(404)})
    def get(self, request: Request):
        org, codes, rows = selectors.access_matrix_for(actor=request.user,
                                                       organization_id=request.query_params.get("organization"))
        if request.query_params.get("export") == "csv":
            return csv_response(selectors.access_matrix_rows(codes, rows), f"access-matrix-{org.pk}.csv")
        return Response({"organization": str(org.pk), "permissions": codes, "results": [
            {"user": str(r["user"].pk), "username": r["user"].username,
             "allowed": [c for c, ok in zip(codes, r["cells"], strict=True) if ok]} for r in rows]})
