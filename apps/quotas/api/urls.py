from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.quotas.api import views

router = SimpleRouter()
router.register("limits", views.QuotaLimitViewSet, basename="quotas-limit")
router.register("reservations", views.ReservationViewSet, basename="quotas-reservation")
router.register("requests", views.QuotaRequestViewSet, basename="quotas-request")

urlpatterns = [
    path("usage/", views.UsageTreeView.as_view(), name="quotas-usage"),
    path("headroom/", views.HeadroomView.as_view(), name="quotas-headroom"),
    path("dimensions/", views.DimensionView.as_view(), name="quotas-dimensions"),
    path("drift/", views.DriftView.as_view(), name="quotas-drift"),
    *router.urls,
]
