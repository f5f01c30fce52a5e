from rest_framework.routers import SimpleRouter

from apps.resilience.api import views

router = SimpleRouter()
router.register("groups", views.GroupViewSet, basename="resilience-group")
router.register("members", views.MemberViewSet, basename="resilience-member")
router.register("runs", views.RunViewSet, basename="resilience-run")
router.register("steps", views.StepViewSet, basename="resilience-step")
router.register("vaults", views.VaultViewSet, basename="resilience-vault")
router.register("backup-plans", views.BackupPlanViewSet, basename="resilience-backup-plan")
router.register("backup-jobs", views.BackupJobViewSet, basename="resilience-backup-job")

urlpatterns = router.urls
