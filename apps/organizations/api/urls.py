from rest_framework.routers import SimpleRouter

from apps.organizations.api.views import OrganizationViewSet, ProjectViewSet, UserGroupViewSet, UserViewSet

router = SimpleRouter()
router.register("organizations", OrganizationViewSet, basename="organization")
router.register("users", UserViewSet, basename="user")
router.register("groups", UserGroupViewSet, basename="usergroup")
router.register("projects", ProjectViewSet, basename="project")

urlpatterns = router.urls
