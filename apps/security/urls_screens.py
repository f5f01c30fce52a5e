from django.urls import path, register_converter

from apps.core import views as core_views
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
    path("signin/", views.screen_signin, name="signin"),
    path("signout/", views.screen_signout, name="signout"),
    # The wall screen itself and the address each of a token's dashboards opens at. The dashboards
    # app serves both (its routes are included before these); the names stay so that the sign-in
    # can send a screen home and every token's dashboard ids are checked against the address.
    path("", core_views.error_404, name="home"),
    path("d/<dashboard_id:dashboard_id>/", core_views.error_404, name="dashboard"),
]
