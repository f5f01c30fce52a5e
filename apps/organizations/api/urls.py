from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.organizations.api.views import (
    OrganizationViewSet,
    PasswordChangeView,
    ProjectViewSet,
    UserGroupViewSet,
    UserViewSet,
)

router = SimpleRouter()
router.register("organizations", OrganizationViewSet, basename="organization")
router.register("users", UserViewSet, basename="user")
router.register("groups", UserGroupViewSet, basename="usergroup")
router.register("projects", ProjectViewSet, basename="project")

urlpatterns = [path("me/password/", PasswordChangeView.as_view(), name="password-change"), *router.urls]
