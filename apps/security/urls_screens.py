from django.urls import path, register_converter

from apps.security import views
from apps.security.services import DASHBOARD_ID_PATTERN


class DashboardIdConverter:
    """Exactly the dashboard ids a display token accepts (``services.DASHBOARD_ID_RE``)."""

    regex = DASHBOARD_ID_PATTERN

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(DashboardIdConverter, "dashboard_id")

urlpatterns = [
    path("", views.screens_home, name="home"),
    path("signin/", views.screen_signin, name="signin"),
    path("signout/", views.screen_signout, name="signout"),
    path("d/<dashboard_id:dashboard_id>/", views.screen_dashboard, name="dashboard"),
]
