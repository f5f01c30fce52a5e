from django.urls import path

from apps.dashboards import views

urlpatterns = [
    path("", views.dashboard_list, name="list"),
    path("new/", views.dashboard_new, name="new"),
    path("data-sources/", views.data_sources, name="sources"),
    path("homes/", views.homes, name="homes"),
    path("<str:uid>/", views.dashboard_view, name="view"),
    path("<str:uid>/edit/", views.dashboard_edit, name="edit"),
]
