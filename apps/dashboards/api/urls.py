from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.dashboards.api import views

router = SimpleRouter()
router.register("dashboards", views.DashboardViewSet, basename="dashboard")
router.register("data-sources", views.DataSourceViewSet, basename="data-source")

urlpatterns = [
    path("catalog/", views.CatalogView.as_view(), name="dashboard-catalog"),
    *router.urls,
]
