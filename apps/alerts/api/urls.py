from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.alerts.api import views

router = SimpleRouter()
router.register("alerts", views.AlertViewSet, basename="alert")
router.register("rules", views.AlertRuleViewSet, basename="alertrule")
router.register("silences", views.SilenceViewSet, basename="silence")
router.register("contact-points", views.ContactPointViewSet, basename="contactpoint")
router.register("routes", views.RouteViewSet, basename="notificationroute")
router.register("templates", views.TemplateViewSet, basename="messagetemplate")
router.register("deliveries", views.DeliveryViewSet, basename="delivery")
router.register("inbox", views.InboxViewSet, basename="inboxmessage")
router.register("inspections", views.InspectionViewSet, basename="inspectionrun")

urlpatterns = [
    path("metrics/series/", views.MetricSeriesView.as_view(), name="metric-series"),
    path("metrics/aggregate/", views.MetricAggregateView.as_view(), name="metric-aggregate"),
    path("metrics/catalog/", views.MetricCatalogView.as_view(), name="metric-catalog"),
    path("ingest/v2/alerts", views.IngestAlertsView.as_view(), name="ingest-alertmanager"),
    path("ingest/webhook", views.IngestWebhookView.as_view(), name="ingest-webhook"),
    *router.urls,
]
