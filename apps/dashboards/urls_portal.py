from django.urls import path

from apps.dashboards import views

urlpatterns = [
    path("", views.portal_list, name="list"),
    path("<str:uid>/", views.portal_view, name="view"),
]
