from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.rbac.api.views import (
    AccessMatrixView,
    ExplainView,
    GrantViewSet,
    PermissionCatalogView,
    PolicyViewSet,
    RoleViewSet,
)

router = SimpleRouter()
router.register("roles", RoleViewSet, basename="role")
router.register("grants", GrantViewSet, basename="grant")
router.register("policies", PolicyViewSet, basename="policy")

urlpatterns = [
    path("permissions/", PermissionCatalogView.as_view(), name="permission-list"),
    path("explain/", ExplainView.as_view(), name="explain"),
    path("matrix/", AccessMatrixView.as_view(), name="access-matrix"),
    *router.urls,
]
