from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.provisioning.api import scripts, views

router = SimpleRouter()
router.register("requests", views.RequestViewSet, basename="provisioning-request")
router.register("instances", views.InstanceViewSet, basename="provisioning-instance")
router.register("changes", views.ChangeRecordViewSet, basename="provisioning-change")
router.register("policies", views.PolicyViewSet, basename="provisioning-policy")
router.register("schedules", views.ScheduleViewSet, basename="provisioning-schedule")
router.register("scripts", scripts.ScriptViewSet, basename="provisioning-script")
router.register("script-runs", scripts.ScriptRunViewSet, basename="provisioning-script-run")

urlpatterns = [
    path("form/", views.FormView.as_view(), name="provisioning-form"),
    path("projects/", views.ProjectChoiceView.as_view(), name="provisioning-projects"),
    path("estimate/", views.EstimateView.as_view(), name="provisioning-estimate"),
    path("topology/", views.TopologyView.as_view(), name="provisioning-topology"),
    path("root-cause/", views.RootCauseView.as_view(), name="provisioning-root-cause"),
    path("script-instances/", scripts.InstanceChoiceView.as_view(), name="provisioning-script-instances"),
    *router.urls,
]
