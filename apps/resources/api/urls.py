from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.resources.api.views import AssignmentRuleViewSet, ResourceViewSet, SyncRunViewSet, UsageView

router = SimpleRouter()
router.register("resources", ResourceViewSet, basename="resource")
router.register("syncs", SyncRunViewSet, basename="syncrun")
router.register("rules", AssignmentRuleViewSet, basename="assignmentrule")

urlpatterns = [path("usage/", UsageView.as_view(), name="resource-usage"), *router.urls]
