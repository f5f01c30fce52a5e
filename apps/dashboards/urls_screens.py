"""Wall screens. Included before security's ``/screens/`` routes: these pages win, and security keeps
the display-token sign-in and sign-out."""

from django.urls import path, register_converter

from apps.dashboards import views
from apps.dashboards.document import UID_RE


class UidConverter:
    regex = UID_RE.pattern.removeprefix(r"\A").removesuffix(r"\Z")

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(UidConverter, "dashboard_uid")

urlpatterns = [
    path("", views.screen_home, name="home"),
    path("d/<dashboard_uid:dashboard_id>/", views.screen_dashboard, name="dashboard"),
    path("d/<dashboard_uid:dashboard_id>/data/", views.screen_data, name="data"),
]
